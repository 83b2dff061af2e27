"""``flytekit.image_spec``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import ImageSpec

__all__ = ["ImageSpec"]
