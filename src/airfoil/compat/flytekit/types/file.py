"""``flytekit.types.file``."""

from airfoil.compat.flytekit._types import FlyteFile

__all__ = ["FlyteFile"]
