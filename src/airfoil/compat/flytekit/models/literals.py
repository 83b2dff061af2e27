"""``flytekit.models.literals``."""

from airfoil.compat.flytekit._models import (
    Literal,
    LiteralCollection,
    LiteralMap,
    Primitive,
    Scalar,
)

__all__ = ["Literal", "LiteralCollection", "LiteralMap", "Primitive", "Scalar"]
