"""Schema and column statistics of a stored DataFrame (``airfoil compare``), computed with
``pyarrow.compute`` on the stored Arrow data: the frame is never converted to pandas.

Bounded: the statistics cover the first :data:`MAX_ROWS` rows (1,000,000), read batch by
batch (an ``arrow`` value in a local store is memory-mapped, so only those rows' pages are
touched; a ``parquet`` one is decoded a batch at a time). The frame's row count comes from
the value's metadata. A blob in a remote store is downloaded whole first (once per
content hash and scratch directory).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from airfoil.core.compare import FRAME_FORMATS, ColumnStats, FrameStats
from airfoil.core.errors import AirfoilError
from airfoil.core.records import Value
from airfoil.types._base import ValueContext
from airfoil.types._dataframes import frame_source

__all__ = ["MAX_ROWS", "frame_stats"]

#: The most rows the statistics of one frame read.
MAX_ROWS = 1_000_000
_BATCH = 65_536


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _batches(value: Value, source: bytes | str) -> tuple[Any, Iterator[Any]]:
    import pyarrow as pa

    if value.format == "arrow":
        buf = pa.py_buffer(source) if isinstance(source, bytes) else pa.memory_map(source)
        reader = pa.ipc.open_stream(buf)
        return reader.schema, iter(reader)
    import pyarrow.parquet as pq

    src = pa.BufferReader(source) if isinstance(source, bytes) else source
    pf = pq.ParquetFile(src, memory_map=True)
    return pf.schema_arrow, pf.iter_batches(batch_size=_BATCH)


def _column(name: str, col: Any) -> ColumnStats:
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = col.type
    nulls = col.null_count
    if pa.types.is_floating(typ) and len(col):
        nans = pc.sum(pc.is_nan(col)).as_py() or 0
        if nans:
            nulls += nans
            col = pc.filter(col, pc.invert(pc.is_nan(col)))
    count = len(col) - col.null_count
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)
    if numeric:
        if count == 0:
            return ColumnStats(name=name, type=str(typ), count=0, nulls=nulls)
        lo_hi = pc.min_max(col).as_py()
        return ColumnStats(
            name=name,
            type=str(typ),
            count=count,
            nulls=nulls,
            mean=_finite(pc.mean(col).as_py()),
            std=_finite(pc.stddev(col, ddof=1).as_py()) if count > 1 else None,
            min=_finite(lo_hi["min"]),
            max=_finite(lo_hi["max"]),
        )
    try:
        distinct: int | None = int(pc.count_distinct(col, mode="only_valid").as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
        distinct = None  # nested types: Arrow has no hash kernel for them
    return ColumnStats(name=name, type=str(typ), count=count, nulls=nulls, distinct=distinct)


def frame_stats(value: Value, ctx: ValueContext, max_rows: int = MAX_ROWS) -> FrameStats | None:
    """Schema and per-column statistics of a stored frame, over its first ``max_rows``
    rows; None for a value that is no frame. A blob that cannot be read gives statistics
    with ``error`` set (a comparison still shows everything else)."""
    if value.format not in FRAME_FORMATS:
        return None
    import pyarrow as pa

    meta_rows = value.meta.get("rows", "")
    try:
        schema, batches = _batches(value, frame_source(value, ctx))
        taken, read = [], 0
        for batch in batches:
            piece = batch if read + batch.num_rows <= max_rows else batch.slice(0, max_rows - read)
            taken.append(piece)
            read += piece.num_rows
            if read >= max_rows:
                break  # the bound: later batches are never read
        table = pa.Table.from_batches(taken, schema=schema)
        columns = [_column(f.name, table.column(i)) for i, f in enumerate(schema)]
    except (AirfoilError, OSError, pa.ArrowException) as exc:
        rows = int(meta_rows) if meta_rows.isdigit() else -1
        return FrameStats(rows=rows, rows_read=0, error=f"cannot read the frame: {exc}")
    rows = int(meta_rows) if meta_rows.isdigit() else (read if read < max_rows else -1)
    return FrameStats(rows=rows, rows_read=read, columns=columns)
