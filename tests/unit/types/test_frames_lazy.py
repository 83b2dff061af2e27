"""A stored frame walked in chunks (``DataFrameHandler.iter_python``): slices of the
memory-mapped Arrow IPC value, so the whole frame is never read into memory at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from airfoil.types import ConversionError, TypeEngine, ValueContext

ROWS = 400_000


def _table() -> pa.Table:
    data = np.random.default_rng(5).random((ROWS, 4))
    return pa.Table.from_pandas(pd.DataFrame(data, columns=list("abcd")), preserve_index=False)


def test_chunks_of_an_offloaded_frame_are_zero_copy_slices(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    table = _table()
    stored = engine.to_value(table, pa.Table, ctx)
    assert stored.inline is None
    handler: Any = engine.handler(pa.Table)
    before = pa.total_allocated_bytes()
    sizes, first = [], None
    for chunk in handler.iter_python(stored, ctx, 100_000):
        sizes.append(chunk.num_rows)
        first = first or chunk.column("a")[0].as_py()
        # nothing is copied into Arrow's memory: each chunk points into the mapped file
        assert pa.total_allocated_bytes() - before < table.nbytes // 10
    assert sizes == [100_000] * 4
    assert first == table.column("a")[0].as_py()


@pytest.mark.parametrize("frame_type", [pd.DataFrame, pl.DataFrame])
def test_chunks_come_as_the_asked_library_and_add_up(
    engine: TypeEngine, blobs: Any, frame_type: Any
) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    df = _table().to_pandas()
    stored = engine.to_value(df, pd.DataFrame, ctx)
    chunks = list(engine.handler(frame_type).iter_python(stored, ctx, 150_000))  # type: ignore[attr-defined]
    assert [len(c) for c in chunks] == [150_000, 150_000, 100_000]
    assert all(type(c) is frame_type for c in chunks)
    whole = pd.concat([c if frame_type is pd.DataFrame else c.to_pandas() for c in chunks])
    assert np.allclose(whole["d"].to_numpy(), df["d"].to_numpy())


def test_inline_and_parquet_values_iterate_too(engine: TypeEngine, blobs: Any) -> None:
    df = pd.DataFrame({"x": range(10)})
    inline = engine.to_value(df, pd.DataFrame, ValueContext(blobs))
    parquet = engine.to_value(df, pd.DataFrame, ValueContext(blobs, frame_format="parquet"))
    handler: Any = engine.handler(pd.DataFrame)
    for value in (inline, parquet):
        got = [list(c["x"]) for c in handler.iter_python(value, ValueContext(blobs), 4)]
        assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    empty = engine.to_value(df.iloc[:0], pd.DataFrame, ValueContext(blobs))
    assert list(handler.iter_python(empty, ValueContext(blobs), 4)) == []


@pytest.mark.parametrize("rows", [0, -1, 2.5, True])
def test_a_bad_chunk_size_is_refused(engine: TypeEngine, blobs: Any, rows: Any) -> None:
    df = pd.DataFrame({"x": [1]})
    value = engine.to_value(df, pd.DataFrame, ValueContext(blobs))
    with pytest.raises(ConversionError, match="whole number of rows >= 1"):
        next(engine.handler(pd.DataFrame).iter_python(value, ValueContext(blobs), rows))  # type: ignore[attr-defined]
