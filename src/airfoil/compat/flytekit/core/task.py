"""``flytekit.core.task``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import Resources, TaskMetadata, task
from airfoil.compat.flytekit._remote import reference_task

__all__ = ["Resources", "TaskMetadata", "reference_task", "task"]
