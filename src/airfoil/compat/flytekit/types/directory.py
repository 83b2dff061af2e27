"""``flytekit.types.directory``."""

from airfoil.compat.flytekit._types import FlyteDirectory

__all__ = ["FlyteDirectory"]
