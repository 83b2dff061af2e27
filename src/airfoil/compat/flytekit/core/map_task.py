"""``flytekit.core.map_task``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import map_task

__all__ = ["map_task"]
