"""``flytekit.core.resources``: the same objects as the top-level names."""

from airfoil.compat.flytekit._decorators import Resources

__all__ = ["Resources"]
