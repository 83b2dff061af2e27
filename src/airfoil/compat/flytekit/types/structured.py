"""``flytekit.types.structured``."""

from airfoil.compat.flytekit._types import StructuredDataset

__all__ = ["StructuredDataset"]
