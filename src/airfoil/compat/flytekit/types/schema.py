"""``flytekit.types.schema``: the deprecated ``FlyteSchema`` (a dataset; use
``StructuredDataset`` or a frame type in new code)."""

from __future__ import annotations

import enum

from airfoil.compat.flytekit._types import FlyteSchema

__all__ = ["FlyteSchema", "SchemaFormat", "SchemaOpenMode"]


class SchemaOpenMode(enum.Enum):
    READ = "r"
    WRITE = "w"


class SchemaFormat(enum.Enum):
    PARQUET = "parquet"
