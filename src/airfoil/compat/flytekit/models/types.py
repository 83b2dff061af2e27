"""``flytekit.models.types``."""

from airfoil.compat.flytekit._models import LiteralType, SimpleType
from airfoil.compat.flytekit._structured import StructuredDatasetType

__all__ = ["LiteralType", "SimpleType", "StructuredDatasetType"]
