"""``flytekit.core.condition``: the same objects as the top-level names."""

from airfoil.sdk._conditional import conditional

__all__ = ["conditional"]
