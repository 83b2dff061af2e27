"""Every supported type comes back equal (and of the same type) after to_value -> to_python."""

# typing.Optional / typing.Union are written on purpose: they are what is under test.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import datetime as dt
import math
import os
import typing
import zoneinfo
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from _types_models import Color, Model, Perm, Point, Shape, Tree, WithComputed
from hypothesis import given, settings
from hypothesis import strategies as st

from airfoil.types import Directory, File, TypeEngine, ValueContext

pytestmark = pytest.mark.unit

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

SHAPE = Shape(
    name="tri",
    points=[Point(1, 2.5), Point(-3)],
    color=Color.BLUE,
    created=dt.datetime(2024, 3, 31, 2, 30, tzinfo=dt.UTC),
    tags=frozenset({"a", "b"}),
    parent=Shape("root", [], Color.RED, dt.datetime(2020, 1, 1)),
    blob=b"\x00\xff",
)

CASES: list[tuple[Any, Any]] = [
    (0, int),
    (-(2**80), int),
    (1.5, float),
    (-0.0, float),
    (math.inf, float),
    (-math.inf, float),
    (True, bool),
    (False, bool),
    ('héllo \n "quoted"', str),
    ("", str),
    (b"\x00\x01binary\xff", bytes),
    (None, None),
    (None, type(None)),
    (dt.datetime(2024, 1, 31, 12, 0, 0, 123456), dt.datetime),
    (dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=PARIS), dt.datetime),
    (
        dt.datetime(2024, 1, 31, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
        dt.datetime,
    ),
    (dt.date(1999, 12, 31), dt.date),
    (dt.timedelta(days=-2, seconds=5, microseconds=7), dt.timedelta),
    (Color.GREEN, Color),
    (Perm.R | Perm.W, Perm),
    ([1, 2, 3], list[int]),
    ([], list[str]),
    ([[1.5], [2.0, math.nan]], list[list[float]]),
    ({"b": 1, "a": 2}, dict[str, int]),
    ({1: "one", -2: "minus two"}, dict[int, str]),
    ({Color.RED: [dt.date(2020, 1, 1)]}, dict[Color, list[dt.date]]),
    ({(1, "a"): True}, dict[tuple[int, str], bool]),
    ((1, "a", None), tuple[int, str, None]),
    ((), tuple[()]),
    ((1, 2, 3), tuple[int, ...]),
    ({3, 1, 2}, set[int]),
    (frozenset({"x", "y"}), frozenset[str]),
    (5, Optional[int]),
    (None, Optional[int]),
    (5, int | str),
    ("5", Union[str, int]),
    (1.0, Union[int, float]),
    (1, Union[float, int]),
    (dt.date(2020, 1, 1), Union[str, dt.date]),
    ("2020-01-01", Union[str, dt.date]),
    (Point(1, 2.0), Point | None),
    (Point(3), Point),
    (SHAPE, Shape),
    (Tree(1, [Tree(2, [Tree(3)]), Tree(4)]), Tree),
    (WithComputed(21), WithComputed),
    ([Point(1), Point(2)], list[Point]),
    (Model(name="m", when=dt.datetime(2024, 1, 1, tzinfo=PARIS), sizes=(1, 2)), Model),
    ({"any": [1, {"x"}]}, Any),
    (7, typing.Annotated[int, "meta"]),
    (3, typing.NewType("UserId", int)),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize(("value", "py_type"), CASES, ids=[repr(t) for _, t in CASES])
def test_round_trip(engine: TypeEngine, ctx: ValueContext, value: Any, py_type: Any) -> None:
    stored = engine.to_value(value, py_type, ctx)
    back = engine.to_python(stored, py_type, ctx)
    assert _same(value, back), (value, back)
    assert len(stored.hash) == 64
    again = engine.to_value(back, py_type, ctx)
    assert again.hash == stored.hash


def test_datetime_keeps_its_zone(engine: TypeEngine, ctx: ValueContext) -> None:
    when = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=PARIS)
    back = engine.to_python(engine.to_value(when, dt.datetime, ctx), dt.datetime, ctx)
    assert back.tzinfo is PARIS
    assert back.utcoffset() == when.utcoffset()
    naive = dt.datetime(2024, 1, 1)
    assert (
        engine.to_python(engine.to_value(naive, dt.datetime, ctx), dt.datetime, ctx).tzinfo is None
    )


@pytest.mark.parametrize("fold", [0, 1])
def test_datetime_in_a_dst_gap_keeps_its_wall_time(
    engine: TypeEngine, ctx: ValueContext, fold: int
) -> None:
    # 02:00 on 2020-04-05 does not exist in America/Mazatlan (clocks went 02:00 -> 03:00):
    # it came back as 03:00 when decoding converted the instant into the zone.
    zone = zoneinfo.ZoneInfo("America/Mazatlan")
    when = dt.datetime(2020, 4, 5, 2, 0, fold=fold, tzinfo=zone)
    back = engine.to_python(engine.to_value(when, dt.datetime, ctx), dt.datetime, ctx)
    assert back == when and back.fold == fold and back.tzinfo is zone
    assert back.utcoffset() == when.utcoffset()
    again = engine.to_value(back, dt.datetime, ctx)
    assert again.hash == engine.to_value(when, dt.datetime, ctx).hash


def test_datetime_with_an_offset_its_zone_never_has_keeps_its_instant() -> None:
    from airfoil.types._primitives import DatetimeHandler

    back = DatetimeHandler().decode("2024-01-01T12:00:00+05:00[Europe/Paris]", None)
    assert back.tzinfo is PARIS
    assert back == dt.datetime(2024, 1, 1, 7, tzinfo=dt.UTC)


def test_int_widens_to_float(engine: TypeEngine, ctx: ValueContext) -> None:
    back = engine.to_python(engine.to_value(3, float, ctx), float, ctx)
    assert back == 3.0 and type(back) is float
    assert engine.to_value(3, float, ctx).hash == engine.to_value(3.0, float, ctx).hash


def test_nested_dataclass_types(engine: TypeEngine, ctx: ValueContext) -> None:
    back = engine.to_python(engine.to_value(SHAPE, Shape, ctx), Shape, ctx)
    assert isinstance(back.points[0], Point)
    assert isinstance(back.parent, Shape)
    assert back.color is Color.BLUE
    assert isinstance(back.tags, frozenset)
    assert back.blob == b"\x00\xff"


def test_dataclass_from_mapping(engine: TypeEngine, ctx: ValueContext) -> None:
    stored = engine.to_value({"x": 1}, Point, ctx)
    assert stored.hash == engine.to_value(Point(1, 0.0), Point, ctx).hash
    assert engine.to_python(stored, Point, ctx) == Point(1, 0.0)


# --- dataframes and arrays ---------------------------------------------------------------


def _pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5, dtype=np.int32),
            "f": np.linspace(0, 1, 5),
            "s": list("abcde"),
            "c": pd.Categorical(list("xyxyx")),
            "t": pd.date_range("2024-01-01", periods=5, tz="Europe/Paris"),
            "n": pd.array([1, None, 3, None, 5], dtype="Int64"),
        },
        index=pd.Index([10, 20, 30, 40, 50], name="key"),
    )


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
@pytest.mark.parametrize("threshold", [1 << 30, 0], ids=["inline", "offloaded"])
def test_pandas_round_trip(engine: TypeEngine, blobs: Any, threshold: int, fmt: str) -> None:
    ctx = ValueContext(blobs, offload_threshold=threshold, frame_format=fmt)
    df = _pandas_frame()
    stored = engine.to_value(df, pd.DataFrame, ctx)
    assert stored.format == fmt
    assert (stored.inline is None) == (threshold == 0)
    assert stored.meta["rows"] == "5"
    back = engine.to_python(stored, pd.DataFrame, ctx)
    pd.testing.assert_frame_equal(df, back)


def test_pandas_range_index_and_multi_index(engine: TypeEngine, ctx: ValueContext) -> None:
    plain = pd.DataFrame({"a": [1.0, 2.0]})
    multi = pd.DataFrame(
        {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    )
    for df in (plain, multi):
        back = engine.to_python(engine.to_value(df, pd.DataFrame, ctx), pd.DataFrame, ctx)
        pd.testing.assert_frame_equal(df, back)


def test_large_pandas_frame_is_written_into_the_store(
    engine: TypeEngine, blobs: Any, ctx: ValueContext
) -> None:
    df = pd.DataFrame(np.random.default_rng(1).random((20_000, 4)), columns=list("abcd"))
    stored = engine.to_value(df, pd.DataFrame, ctx)
    assert stored.inline is None and stored.uri is not None
    path = blobs.local_path(stored.uri)
    assert path.endswith(f"values/{stored.hash[:2]}/{stored.hash}")
    assert not os.listdir(os.path.join(blobs.root, "tmp"))  # staging file renamed
    pd.testing.assert_frame_equal(df, engine.to_python(stored, pd.DataFrame, ctx))


@pytest.mark.parametrize("threshold", [1 << 30, 0], ids=["inline", "offloaded"])
def test_polars_and_arrow_round_trip(engine: TypeEngine, blobs: Any, threshold: int) -> None:
    ctx = ValueContext(blobs, offload_threshold=threshold)
    frame = pl.DataFrame({"a": [1, 2, None], "b": ["x", "y", "z"], "c": [0.5, None, 1.5]})
    back = engine.to_python(engine.to_value(frame, pl.DataFrame, ctx), pl.DataFrame, ctx)
    assert back.equals(frame) and back.schema == frame.schema
    table = pa.table({"a": pa.array([1, 2], pa.int8()), "b": ["x", None]})
    back_table = engine.to_python(engine.to_value(table, pa.Table, ctx), pa.Table, ctx)
    assert back_table.equals(table)


@pytest.mark.parametrize("threshold", [1 << 30, 0], ids=["inline", "offloaded"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int16).reshape(3, 4),
        np.asfortranarray(np.random.default_rng(2).random((4, 3)).astype(np.float32)),
        np.array(["a", "bc"]),
        np.array([1 + 2j]),
        np.zeros((0, 3)),
        np.array([{"x": 1}, None], dtype=object),
    ],
    ids=["int16", "fortran-f32", "unicode", "complex", "empty", "object"],
)
def test_numpy_round_trip(
    engine: TypeEngine, blobs: Any, array: np.ndarray[Any, Any], threshold: int
) -> None:
    ctx = ValueContext(blobs, offload_threshold=threshold)
    stored = engine.to_value(array, np.ndarray, ctx)
    assert stored.format == "npy"
    back = engine.to_python(stored, np.ndarray, ctx)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_ndarray_with_dtype(engine: TypeEngine, ctx: ValueContext) -> None:
    array = np.ones(3, dtype=np.float32)
    tp = npt.NDArray[np.float32]
    assert engine.to_spec(tp).name == "float32"
    back = engine.to_python(engine.to_value(array, tp, ctx), tp, ctx)
    np.testing.assert_array_equal(back, array)


def test_frames_and_arrays_inside_containers(engine: TypeEngine, ctx: ValueContext) -> None:
    df = _pandas_frame()
    value = {"frame": [df], "arrays": [np.arange(3)]}
    tp = dict[str, list[Union[pd.DataFrame, np.ndarray]]]
    back = engine.to_python(engine.to_value(value, tp, ctx), tp, ctx)
    pd.testing.assert_frame_equal(back["frame"][0], df)
    np.testing.assert_array_equal(back["arrays"][0], np.arange(3))


# --- files --------------------------------------------------------------------------------


def test_file_round_trip(engine: TypeEngine, ctx: ValueContext, tmp_path: Path) -> None:
    src = tmp_path / "in" / "data.csv"
    src.parent.mkdir()
    src.write_bytes(b"a,b\n1,2\n")
    stored = engine.to_value(File(src), File, ctx)
    assert stored.format == "file" and stored.meta["name"] == "data.csv"
    back = engine.to_python(stored, File, ctx)
    assert isinstance(back, File) and back == File(src)
    assert os.path.isfile(back.path) and back.name == "data.csv"
    assert back.path != str(src)
    with back.open() as fh:
        assert fh.read() == "a,b\n1,2\n"
    # a plain path is accepted for a File
    assert engine.to_value(str(src), File, ctx).hash == stored.hash


def test_directory_round_trip(engine: TypeEngine, ctx: ValueContext, tmp_path: Path) -> None:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(b"\x01" * 100)
    (root / "sub" / "config.json").write_text("{}")
    stored = engine.to_value(Directory(root), Directory, ctx)
    back = engine.to_python(stored, Directory, ctx)
    assert isinstance(back, Directory) and back == Directory(root)
    assert back.name == "model" and os.path.isdir(back.path)
    assert back.listing() == ["sub/config.json", "weights.bin"]
    assert back.file("sub/config.json").read_text() == "{}"
    assert [f.name for f in back.files()] == ["config.json", "weights.bin"]


def test_file_hash_covers_name_and_content(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "sub"
    a.write_text("same")
    b.write_text("same")
    c.mkdir()
    (c / "a.txt").write_text("same")
    assert engine.to_value(File(a), File, ctx).hash != engine.to_value(File(b), File, ctx).hash
    assert (
        engine.to_value(File(a), File, ctx).hash
        == engine.to_value(File(c / "a.txt"), File, ctx).hash
    )


# --- properties ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prop_ctx(tmp_path_factory: pytest.TempPathFactory) -> ValueContext:
    from airfoil.store.blob import LocalBlobStore

    root = tmp_path_factory.mktemp("property-blobs")
    return ValueContext(LocalBlobStore(str(root)), offload_threshold=64)


@settings(max_examples=40, deadline=None)
@given(value=st.dictionaries(st.text(max_size=10), st.lists(st.integers() | st.none(), max_size=5)))
def test_property_dict_of_lists(prop_ctx: ValueContext, value: dict[str, list[int | None]]) -> None:
    _property_round_trip(prop_ctx, value, dict[str, list[Optional[int]]])


@settings(max_examples=40, deadline=None)
@given(
    value=st.tuples(
        st.floats(allow_nan=True, allow_infinity=True),
        st.binary(max_size=20),
        st.frozensets(st.integers(), max_size=5),
        st.datetimes(timezones=st.none() | st.timezones()),
        st.timedeltas(),
    )
)
def test_property_tuple_of_scalars(
    prop_ctx: ValueContext,
    value: tuple[float, bytes, frozenset[int], dt.datetime, dt.timedelta],
) -> None:
    tp = tuple[float, bytes, frozenset[int], dt.datetime, dt.timedelta]
    _property_round_trip(prop_ctx, value, tp)


@settings(max_examples=40, deadline=None)
@given(value=st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False)))
def test_property_dataclass(prop_ctx: ValueContext, value: Point) -> None:
    _property_round_trip(prop_ctx, value, Point)


_ENGINE = TypeEngine()


def _property_round_trip(ctx: ValueContext, value: Any, tp: Any) -> None:
    stored = _ENGINE.to_value(value, tp, ctx)
    back = _ENGINE.to_python(stored, tp, ctx)
    if isinstance(value, tuple) and isinstance(value[0], float) and math.isnan(value[0]):
        assert math.isnan(back[0]) and back[1:] == value[1:]
    else:
        assert back == value
    if isinstance(value, tuple) and value[3].tzinfo is not None:
        assert back[3].utcoffset() == value[3].utcoffset()
    assert _ENGINE.to_value(back, tp, ctx).hash == stored.hash
