"""``flytekit.types.structured``: datasets, custom handlers, and the ``register_*_handlers``
functions (no-ops: Airfoil reads and writes pandas, pyarrow and polars frames in Parquet and
CSV itself)."""

from __future__ import annotations

from airfoil.compat.flytekit._structured import (
    DuplicateHandlerError,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
    StructuredDatasetType,
)
from airfoil.compat.flytekit._types import StructuredDataset

__all__ = [
    "DuplicateHandlerError",
    "StructuredDataset",
    "StructuredDatasetDecoder",
    "StructuredDatasetEncoder",
    "StructuredDatasetTransformerEngine",
    "StructuredDatasetType",
    "register_arrow_handlers",
    "register_bigquery_handlers",
    "register_csv_handlers",
    "register_pandas_handlers",
    "register_snowflake_handlers",
]


def register_csv_handlers() -> None:
    """Nothing to register: Airfoil reads and writes CSV datasets of pandas frames itself."""


def register_pandas_handlers() -> None:
    """Nothing to register: pandas frames are built in."""


def register_arrow_handlers() -> None:
    """Nothing to register: pyarrow tables are built in."""


def register_bigquery_handlers() -> None:
    """Nothing registered: BigQuery datasets are remote (read them in the task)."""


def register_snowflake_handlers() -> None:
    """Nothing registered: Snowflake datasets are remote (read them in the task)."""
