"""Frames between tasks as Arrow IPC: written once, memory-mapped back, hashed by content.

Parquet values (written by older versions, or asked for with ``frame_format="parquet"``)
still read into every flavour.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from airfoil.core.errors import CorruptBlobError
from airfoil.server._convert import frame_head
from airfoil.types import TypeEngine, ValueContext
from airfoil.types._dataframes import ipc_bytes


def _frame(rows: int = 50_000) -> pd.DataFrame:
    data = np.random.default_rng(3).random((rows, 4))
    return pd.DataFrame(data, columns=["a", "b", "c", "d"])


def test_offloaded_frame_is_an_ipc_stream_named_by_its_content(
    engine: TypeEngine, blobs: Any
) -> None:
    df = _frame()
    big = ValueContext(blobs, offload_threshold=0)
    small = ValueContext(blobs, offload_threshold=1 << 30)
    stored = engine.to_value(df, pd.DataFrame, big)
    inline = engine.to_value(df, pd.DataFrame, small)
    assert stored.format == inline.format == "arrow"
    assert stored.inline is None and inline.inline is not None
    path = blobs.local_path(stored.uri)
    with open(path, "rb") as fh:
        data = fh.read()
    written = pa.ipc.open_stream(pa.py_buffer(inline.inline)).read_all()
    logical = hashlib.sha256(ipc_bytes(written)).hexdigest()
    # the hash is the frame's uncompressed IPC stream: the same offloaded or inline, and again
    assert stored.hash == inline.hash == logical == hashlib.sha256(data).hexdigest()
    assert engine.to_value(df.copy(), pd.DataFrame, big).hash == stored.hash
    assert pa.ipc.open_stream(pa.py_buffer(data)).read_all().num_rows == len(df)
    assert engine.to_value(df.assign(a=0.5), pd.DataFrame, big).hash != stored.hash
    # no library version is part of the hash (pandas writes its own and pyarrow's)
    pandas_meta = written.schema.metadata[b"pandas"]
    assert b"pandas_version" not in pandas_meta and b"creator" not in pandas_meta


def test_arrow_and_polars_read_zero_copy_from_the_mapped_blob(
    engine: TypeEngine, blobs: Any
) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    table = pa.Table.from_pandas(_frame(200_000), preserve_index=False)
    stored = engine.to_value(table, pa.Table, ctx)
    before = pa.total_allocated_bytes()
    back = engine.to_python(stored, pa.Table, ctx)
    polars = engine.to_python(stored, pl.DataFrame, ctx)
    # 6.4 MB of columns, none of it copied into arrow's memory pool
    assert pa.total_allocated_bytes() - before < 64 * 1024
    assert back.equals(table)
    assert polars.shape == (200_000, 4) and polars["a"].sum() == pytest.approx(
        table.column("a").to_numpy().sum()
    )


def test_pandas_reader_gets_a_frame_it_may_change(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["p", "q", "r"]}, index=pd.Index([7, 8, 9]))
    stored = engine.to_value(df, pd.DataFrame, ctx)
    back = engine.to_python(stored, pd.DataFrame, ctx)
    pd.testing.assert_frame_equal(back, df)
    back.iloc[0, 0] = 100.0  # the stored blob is read-only; the reader's frame is its own
    back["x"] += 1
    again = engine.to_python(stored, pd.DataFrame, ctx)
    pd.testing.assert_frame_equal(again, df)


@pytest.mark.parametrize("threshold", [1 << 30, 0], ids=["inline", "offloaded"])
def test_parquet_values_of_older_versions_still_read(
    engine: TypeEngine, blobs: Any, threshold: int
) -> None:
    df = _frame(1_000)
    old = ValueContext(blobs, offload_threshold=threshold, frame_format="parquet")
    stored = engine.to_value(df, pd.DataFrame, old)
    assert stored.format == "parquet"
    now = ValueContext(blobs, offload_threshold=threshold)
    pd.testing.assert_frame_equal(engine.to_python(stored, pd.DataFrame, now), df)
    assert engine.to_python(stored, pl.DataFrame, now).height == 1_000
    assert engine.to_python(stored, pa.Table, now).num_rows == 1_000


def test_a_changed_arrow_blob_is_refused(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    stored = engine.to_value(_frame(1_000), pd.DataFrame, ctx)
    path = blobs.local_path(stored.uri)
    with open(path, "r+b") as fh:
        fh.seek(-16, 2)
        fh.write(b"\x00" * 8)
    from airfoil.types import _integrity

    _integrity._checked.clear()  # as a fresh process would
    with pytest.raises(CorruptBlobError, match="rerun the task"):
        engine.to_python(stored, pd.DataFrame, ctx)


def test_frame_format_is_checked() -> None:
    from airfoil.core.errors import ConfigError

    with pytest.raises(ConfigError, match="'arrow' or 'parquet'"):
        ValueContext(None, frame_format="feather")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_console_head_reads_both_formats(engine: TypeEngine, blobs: Any, fmt: str) -> None:
    ctx = ValueContext(blobs, offload_threshold=0, frame_format=fmt)
    df = pd.DataFrame({"n": list(range(100)), "s": [f"r{i}" for i in range(100)]})
    stored = engine.to_value(df, pd.DataFrame, ctx)
    head = frame_head(stored, ctx, rows=3)
    assert head == [{"n": 0, "s": "r0"}, {"n": 1, "s": "r1"}, {"n": 2, "s": "r2"}]


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2026-01-01", periods=6, freq="D"),
        pd.date_range("2026-01-01", periods=6, freq="15min", tz="Europe/Paris"),
        pd.timedelta_range("0s", periods=6, freq="2s"),
    ],
)
def test_a_datetime_index_keeps_its_frequency(
    engine: TypeEngine, blobs: Any, fmt: str, index: pd.Index
) -> None:
    """adv18: pandas' Arrow metadata has no place for ``DatetimeIndex.freq``: a frame read
    back had ``freq=None`` (``shift``, ``asfreq`` and plots then behave otherwise)."""
    df = pd.DataFrame({"x": range(6)}, index=index)
    ctx = ValueContext(blobs, frame_format=fmt)  # type: ignore[arg-type]
    stored = engine.to_value(df, pd.DataFrame, ctx)
    back = engine.to_python(stored, pd.DataFrame, ctx)
    assert back.index.freq == index.freq
    pd.testing.assert_frame_equal(back, df, check_freq=True)
    # the frequency is part of the value (and its cache key); a frame without one is stored
    # as before
    plain = df.copy()
    plain.index.freq = None
    assert engine.to_value(plain, pd.DataFrame, ctx).hash != stored.hash
    again = engine.to_python(engine.to_value(plain, pd.DataFrame, ctx), pd.DataFrame, ctx)
    assert again.index.freq is None
