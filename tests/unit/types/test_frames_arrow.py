"""Frames between tasks as Arrow IPC: written once, memory-mapped back, hashed by content.

Parquet values (written by older versions, or asked for with ``frame_format="parquet"``)
still read into every flavour.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from blake3 import blake3

from airfoil.core.errors import CorruptBlobError
from airfoil.server._convert import frame_head
from airfoil.types import ConversionError, TypeEngine, ValueContext
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
    logical = blake3(ipc_bytes(written)).hexdigest()
    # the hash is the frame's uncompressed IPC stream: the same offloaded or inline, and again
    assert stored.hash == inline.hash == logical == blake3(data).hexdigest()
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


@pytest.mark.parametrize("frame_format", ["arrow", "parquet"])
def test_a_column_of_unlike_dicts_is_refused_not_changed(
    engine: TypeEngine, blobs: Any, frame_format: str
) -> None:
    # Before: stored, and read back as other data: Arrow gives a column of dicts one struct
    # type, so {"id": 1} came back as {"id": 1.0, "tag": None} (a key added, an int made a
    # float) with no error.
    df = pd.DataFrame({"n": [1, 2], "rec": [{"id": 1}, {"tag": "x", "id": None}]})
    ctx = ValueContext(blobs, frame_format=frame_format)
    with pytest.raises(ConversionError) as info:
        engine.to_value(df, pd.DataFrame, ctx)
    text = str(info.value)
    assert "column 'rec'" in text and "row 0" in text
    assert "{'id': 1}" in text and "read back with the keys 'id', 'tag'" in text
    assert "json.dumps" in text  # the fix


@pytest.mark.parametrize(
    "cells",
    [
        [{"id": 1, "tag": "a"}, {"id": 2, "tag": None}],  # alike: same keys, one type per key
        [{"x": 1.5, "ys": [1, 2]}, None, {"x": float("nan"), "ys": []}],  # missing rows, NaN
        [[{"k": 1}], [{"k": 2}, {"k": 3}]],  # lists of alike dicts
        [(1, 2), (3,)],  # tuples: read back as arrays, the same values
    ],
)
def test_columns_that_come_back_alike_are_stored(
    engine: TypeEngine, blobs: Any, cells: list[Any]
) -> None:
    df = pd.DataFrame({"c": cells})
    ctx = ValueContext(blobs, offload_threshold=0)
    back = engine.to_python(engine.to_value(df, pd.DataFrame, ctx), pd.DataFrame, ctx)
    assert len(back) == len(df)


def test_equal_frames_in_other_chunks_hash_alike(engine: TypeEngine, blobs: Any) -> None:
    # Before: the IPC stream wrote one batch per chunk, so a frame built by concatenation
    # (pl.concat, pa.concat_tables: one chunk per part) hashed unlike the same frame in one
    # chunk (read from a file, or a task's output read back): a cache miss for equal data.
    ctx = ValueContext(blobs, offload_threshold=0)
    whole_pl = pl.DataFrame({"x": [1, 2, 3, 4], "s": ["a", "b", "c", "d"]})
    parts_pl = pl.concat([whole_pl.head(2), whole_pl.tail(2)], rechunk=False)
    assert parts_pl.n_chunks() == 2 and parts_pl.equals(whole_pl)
    one = engine.to_value(whole_pl, pl.DataFrame, ctx)
    assert engine.to_value(parts_pl, pl.DataFrame, ctx).hash == one.hash
    whole = pa.table({"x": [1, 2, 3, 4]})
    parts = pa.concat_tables([whole.slice(0, 2), whole.slice(2)])
    assert parts.column("x").num_chunks == 2
    stored = engine.to_value(parts, pa.Table, ctx)
    assert stored.hash == engine.to_value(whole, pa.Table, ctx).hash
    assert engine.to_python(stored, pa.Table, ctx).equals(whole)


def _from_pandas_hash(df: pd.DataFrame) -> str:
    """The hash an ``arrow`` frame value has by definition: the BLAKE3 of the IPC stream of
    ``pa.Table.from_pandas(df)`` with no library version in pandas' metadata."""
    table = pa.Table.from_pandas(df)
    meta = dict(table.schema.metadata)
    pandas_meta = json.loads(meta[b"pandas"])
    pandas_meta.pop("creator")
    pandas_meta.pop("pandas_version")
    meta[b"pandas"] = json.dumps(pandas_meta, separators=(",", ":")).encode()
    return blake3(ipc_bytes(table.replace_schema_metadata(meta))).hexdigest()


def _frames() -> dict[str, tuple[pd.DataFrame, bool]]:
    """Frames of several dtypes and shapes, and whether the numeric fast path takes them."""
    rng = np.random.default_rng(11)
    floats = pd.DataFrame(rng.random((20_000, 5)), columns=[f"c{i}" for i in range(5)])
    mixed = pd.DataFrame(
        {
            "f32": rng.random(9_000).astype("float32"),
            "i64": rng.integers(-(2**40), 2**40, 9_000),
            "i8": rng.integers(-100, 100, 9_000).astype("int8"),
            "u16": rng.integers(0, 60_000, 9_000).astype("uint16"),
            "inf": np.where(rng.random(9_000) < 0.1, np.inf, 1.5),
        },
        index=pd.RangeIndex(10, 90_010, 10, name="row"),
    )
    mixed.attrs = {"source": "test"}
    nan = floats.copy()
    nan.iloc[7, 2] = np.nan
    both_infs = floats.assign(c1=np.where(np.arange(20_000) % 2 == 0, np.inf, -np.inf))
    return {
        "floats": (floats, True),
        "strided": (pd.DataFrame(rng.random((10_000, 3)).T.copy().T, copy=False), True),
        "mixed dtypes, named stepped range, attrs": (mixed, True),
        "integer labels": (pd.DataFrame(rng.random((500, 3)), columns=[3, 1, 2]), True),
        "no rows": (floats.iloc[:0], True),
        "a NaN": (nan, False),
        "opposite infinities": (both_infs, False),
        "an index of values": (floats.set_index("c0"), False),
        "strings": (floats.assign(s="x"), False),
        "bools": (floats.assign(b=floats.c0 > 0.5), False),
    }


@pytest.mark.parametrize("name", list(_frames()))
def test_a_frame_s_hash_is_that_of_from_pandas(engine: TypeEngine, blobs: Any, name: str) -> None:
    from airfoil.types._dataframes import _numeric_table

    df, fast = _frames()[name]
    fast_table = _numeric_table(df)
    assert (fast_table is not None) is fast
    if fast_table is not None:
        assert fast_table.equals(pa.Table.from_pandas(df), check_metadata=True)
    expected = _from_pandas_hash(df)
    stored = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    inline = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=1 << 30))
    assert stored.hash == inline.hash == expected
    with open(blobs.local_path(stored.uri), "rb") as fh:
        assert blake3(fh.read()).hexdigest() == expected
    back = engine.to_python(stored, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    pd.testing.assert_frame_equal(back, pa.Table.from_pandas(df).to_pandas())
    assert back.attrs == df.attrs


def test_a_stored_frame_is_hashed_first_and_written_once(
    engine: TypeEngine, blobs: Any, tmp_path: Any
) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    df = _frame(20_000)
    first = engine.to_value(df, pd.DataFrame, ctx)
    path = blobs.local_path(first.uri)
    before = os.stat(path)
    again = engine.to_value(df.copy(), pd.DataFrame, ctx)
    after = os.stat(path)
    assert again == first and first.size == before.st_size
    # found under its hash, not written again (nor to a temporary)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert os.listdir(os.path.join(blobs.root, "tmp")) == []
    # a remote store: uploaded once, then found
    from airfoil.store.blob import FsspecBlobStore

    remote = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    rctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    up = engine.to_value(df, pd.DataFrame, rctx)
    assert up.hash == first.hash and remote.get_bytes(up.uri) == Path(path).read_bytes()
    assert engine.to_value(df, pd.DataFrame, rctx) == up
    assert os.listdir(tmp_path / "scratch") == []


def test_a_frame_s_file_is_written_in_pieces_whole(
    engine: TypeEngine, blobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pieces of at most PIECE bytes (the page cache then holds the file in folios of that
    # size, which a VM's backed free memory can hold), each written whole though the kernel
    # takes fewer bytes than asked
    from airfoil.types import _base

    asked: list[int] = []
    real_write = os.write

    def short_write(fd: int, data: Any) -> int:
        asked.append(len(data))
        return real_write(fd, memoryview(data)[:100_000])

    df = _frame(100_000)  # 800 KB a column: more than one piece each
    monkeypatch.setattr(os, "write", short_write)
    stored = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    monkeypatch.undo()
    assert asked and max(asked) == _base.PIECE < 800_000
    assert any(n < 100_000 for n in asked)  # the rest of a short write is written
    data = Path(blobs.local_path(stored.uri)).read_bytes()
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    assert data == ipc_bytes(table) and blake3(data).hexdigest() == stored.hash
    back = engine.to_python(stored, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    pd.testing.assert_frame_equal(back, df)


def test_a_value_that_changes_between_hash_and_write_is_refused(blobs: Any) -> None:
    from airfoil.types._base import ConversionError, write_hashed_value

    ctx = ValueContext(blobs, offload_threshold=0)

    def write(path: str) -> None:
        with open(path, "wb") as fh:
            fh.write(b"longer than what was hashed")

    with pytest.raises(ConversionError, match="wrote 27 bytes after hashing 5"):
        write_hashed_value(lambda sink: sink.write(b"short"), write, "arrow", ctx, {})
    assert os.listdir(os.path.join(blobs.root, "tmp")) == []
    assert not os.path.exists(os.path.join(blobs.root, "values"))


def test_a_numeric_pandas_frame_is_read_zero_copy_and_may_change(
    engine: TypeEngine, blobs: Any
) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    df, _ = _frames()["mixed dtypes, named stepped range, attrs"]
    stored = engine.to_value(df, pd.DataFrame, ctx)
    engine.to_python(stored, pd.DataFrame, ctx)  # the integrity check's hash, once
    before = pa.total_allocated_bytes()
    back = engine.to_python(stored, pd.DataFrame, ctx)
    # 207 KB of columns, none copied into arrow's memory pool (``to_pandas`` would put them
    # there): the frame's arrays are a private mapping of the blob
    assert pa.total_allocated_bytes() - before < 1024
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs == df.attrs
    other = engine.to_python(stored, pd.DataFrame, ctx)
    back.iloc[0, 0] = 100.0
    back["i64"] += 1
    back.loc[back.u16 > 100, "i8"] = 0
    # neither the blob nor another reader's frame sees the change
    pd.testing.assert_frame_equal(other, df)
    with open(blobs.local_path(stored.uri), "rb") as fh:
        assert blake3(fh.read()).hexdigest() == stored.hash
    pd.testing.assert_frame_equal(engine.to_python(stored, pd.DataFrame, ctx), df)


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
