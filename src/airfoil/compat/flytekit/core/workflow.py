"""``flytekit.core.workflow``."""

from airfoil.compat.flytekit._decorators import WorkflowFailurePolicy, workflow
from airfoil.compat.flytekit._imperative import ImperativeWorkflow

__all__ = ["ImperativeWorkflow", "WorkflowFailurePolicy", "workflow"]
