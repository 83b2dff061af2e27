"""``flytekit.types.error``."""

from airfoil.compat.flytekit._decorators import FlyteError

__all__ = ["FlyteError"]
