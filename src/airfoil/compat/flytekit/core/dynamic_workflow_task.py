"""``flytekit.core.dynamic_workflow_task``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import dynamic

__all__ = ["dynamic"]
