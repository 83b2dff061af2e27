"""``flytekit.models.types``."""

from airfoil.compat.flytekit._models import LiteralType, SimpleType

__all__ = ["LiteralType", "SimpleType"]
