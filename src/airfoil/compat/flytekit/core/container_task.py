"""``flytekit.core.container_task``."""

from airfoil.compat.flytekit._container import ContainerTask

__all__ = ["ContainerTask"]
