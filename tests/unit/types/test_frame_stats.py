"""Column statistics of stored frames (``airfoil compare``): computed from the stored Arrow
or Parquet data with pyarrow.compute, bounded in rows, and compared side by side."""

from __future__ import annotations

import math
import statistics
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from airfoil.core.compare import compare_executions, frame_diff
from airfoil.types import TypeEngine, ValueContext
from airfoil.types._frame_stats import frame_stats


def _stats(engine: TypeEngine, ctx: ValueContext, frame: Any, py_type: Any, **kw: Any) -> Any:
    value = engine.to_value(frame, py_type, ctx)
    return frame_stats(value, ctx, **kw)


@pytest.mark.parametrize("offload", [0, 1 << 30], ids=["offloaded", "inline"])
def test_numeric_and_other_columns(engine: TypeEngine, blobs: Any, offload: int) -> None:
    ctx = ValueContext(blobs, offload_threshold=offload)
    xs = [1.0, 2.5, None, 4.0, float("nan")]
    df = pd.DataFrame({"x": xs, "n": [1, 2, 3, 4, 5], "s": ["a", "b", "a", None, "c"]})
    st = _stats(engine, ctx, df, pd.DataFrame)
    assert (st.rows, st.rows_read, st.error) == (5, 5, "")
    x, n, s = st.columns
    finite = [1.0, 2.5, 4.0]
    assert (x.name, x.type, x.count, x.nulls) == ("x", "double", 3, 2)  # null and NaN missing
    assert x.mean == pytest.approx(statistics.mean(finite))
    assert x.std == pytest.approx(statistics.stdev(finite))
    assert (x.min, x.max, x.distinct) == (1.0, 4.0, None)
    assert (n.type, n.count, n.nulls, n.min, n.max, n.mean) == ("int64", 5, 0, 1.0, 5.0, 3.0)
    assert (s.count, s.nulls, s.distinct, s.mean) == (4, 1, 3, None)


def test_a_frame_with_no_rows_has_its_schema(engine: TypeEngine, ctx: ValueContext) -> None:
    df = pd.DataFrame({"x": pd.Series([], dtype="float64"), "s": pd.Series([], dtype="object")})
    st = _stats(engine, ctx, df, pd.DataFrame)
    assert (st.rows, st.rows_read) == (0, 0)
    assert [(c.name, c.count, c.nulls, c.mean, c.std) for c in st.columns] == [
        ("x", 0, 0, None, None, ),
        ("s", 0, 0, None, None),
    ]  # fmt: skip


def test_one_value_has_no_std_and_infinities_are_no_number(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    st = _stats(engine, ctx, pa.table({"x": [math.inf, 1.0]}), pa.Table)
    (x,) = st.columns
    assert x.max is None and x.min == 1.0 and x.mean is None  # inf shows as no number
    one = _stats(engine, ctx, pa.table({"x": [2]}), pa.Table)
    assert one.columns[0].std is None and one.columns[0].mean == 2.0


def test_the_bound_reads_only_the_first_rows(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    n = 200_000
    df = pl.DataFrame({"i": np.arange(n), "g": np.arange(n) % 7})
    st = _stats(engine, ctx, df, pl.DataFrame, max_rows=1_000)
    assert (st.rows, st.rows_read) == (n, 1_000)
    i, g = st.columns
    assert (i.min, i.max, i.count) == (0.0, 999.0, 1_000)
    assert g.distinct is None and g.max == 6.0  # integers are numeric


def test_parquet_values_and_nested_columns(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0, frame_format="parquet")
    table = pa.table({"l": [[1, 2], [3], None], "b": [True, False, True]})
    value = engine.to_value(table, pa.Table, ctx)
    assert value.format == "parquet"
    st = frame_stats(value, ctx)
    assert st is not None
    lst, b = st.columns
    assert (lst.count, lst.nulls) == (2, 1) and lst.type.startswith("list")
    assert (b.type, b.distinct) == ("bool", 2)


def test_a_missing_blob_is_an_error_in_the_stats(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    value = engine.to_value(pd.DataFrame({"x": [1, 2]}), pd.DataFrame, ctx)
    gone = msgspec.structs.replace(value, uri=value.uri + "-gone")  # type: ignore[operator]
    st = frame_stats(gone, ctx)
    assert st is not None and st.error.startswith("cannot read the frame") and st.rows == 2
    assert frame_stats(engine.to_value(3, int, ctx), ctx) is None  # no frame


def test_schema_drift_is_named_column_by_column(engine: TypeEngine, ctx: ValueContext) -> None:
    a = _stats(engine, ctx, pd.DataFrame({"x": [1.0], "gone": [1], "t": ["a"]}), pd.DataFrame)
    b = _stats(engine, ctx, pd.DataFrame({"x": [2.0], "t": [1], "new": ["z"]}), pd.DataFrame)
    d = frame_diff("o0", "output", a, b)
    assert [(c.name, c.change) for c in d.columns] == [
        ("x", ""),
        ("gone", "removed"),
        ("t", "type"),
        ("new", "added"),
    ]
    only_a = frame_diff("o0", "output", a, None)  # B has no frame: nothing is "removed"
    assert {c.change for c in only_a.columns} == {""}


def test_compare_reads_each_frame_once_and_only_frames() -> None:
    from airfoil.core.records import Value
    from airfoil.testing.records import make_execution

    df_a = Value(hash="a" * 64, format="arrow", size=10)
    same = Value(hash="b" * 64, format="arrow", size=10)
    num = Value(hash="c" * 64, format="json", inline=b"1", size=1)
    ra = msgspec.structs.replace(make_execution("ea"), inputs={"df": df_a, "k": num, "s": same})
    rb = msgspec.structs.replace(make_execution("eb"), inputs={"df": same, "k": num, "s": same})
    asked: list[str] = []

    def stats(v: Value) -> Any:
        from airfoil.core.compare import ColumnStats, FrameStats

        asked.append(v.hash[0])
        return FrameStats(rows=1, rows_read=1, columns=[ColumnStats("c", "int64", 1, 0)])

    c = compare_executions(ra, [], rb, [], frame_stats=stats)
    assert sorted(asked) == ["a", "b"]  # "b" is read once for three uses; JSON never
    assert [(f.kind, f.name) for f in c.frames] == [("input", "df"), ("input", "s")]
    assert compare_executions(ra, [], rb, []).frames == []  # without a reader: none
