"""``flytekit.core.workflow``."""

from airfoil.compat.flytekit._decorators import WorkflowFailurePolicy, workflow

__all__ = ["WorkflowFailurePolicy", "workflow"]
