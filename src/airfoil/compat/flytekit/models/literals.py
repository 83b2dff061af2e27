"""``flytekit.models.literals``."""

from airfoil.compat.flytekit._models import (
    Literal,
    LiteralCollection,
    LiteralMap,
    Primitive,
    Scalar,
)
from airfoil.compat.flytekit._structured import LiteralStructuredDataset as StructuredDataset
from airfoil.compat.flytekit._structured import StructuredDatasetMetadata

__all__ = [
    "Literal",
    "LiteralCollection",
    "LiteralMap",
    "Primitive",
    "Scalar",
    "StructuredDataset",
    "StructuredDatasetMetadata",
]
