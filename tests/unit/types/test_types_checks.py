"""check_value errors, to_spec (including malformed annotations) and is_assignable."""

# typing.Optional / typing.Union are written on purpose: they are what is under test.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from _types_models import Color, Model, Opaque, Point, Shape, Tree

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types import (
    ConversionError,
    Directory,
    File,
    PickleFallbackWarning,
    TypeEngine,
    ValueContext,
)

pytestmark = pytest.mark.unit


# --- check_value --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "py_type", "message"),
    [
        ("1", int, "expected int, got str '1'"),
        (1.0, int, "a float is not converted to int"),
        (1.5, int, "expected int, got float 1.5"),
        (True, int, "bool is not accepted for int"),
        (1, bool, "int is not accepted for bool"),
        (True, float, "bool is not accepted for float"),
        (2**53 + 1, float, "cannot be held exactly by a float"),
        (1, str, "expected str, got int 1"),
        ("x", bytes, "expected bytes, got str"),
        (bytearray(b"x"), bytes, "expected bytes, got bytearray"),
        (dt.datetime(2024, 1, 1), dt.date, "a datetime is not converted to date"),
        ("2024-01-01", dt.date, "expected date, got str"),
        (0, None, "expected None, got int 0"),
        ("PURPLE", Color, "'PURPLE' is not a member of Color: expected one of RED, GREEN, BLUE"),
        (3, Color, "expected Color (one of RED, GREEN, BLUE), got int 3"),
        ((1, 2), list[int], "expected list[int], got tuple"),
        (
            [1, 2.5],
            list[int],
            "got float 2.5; a float is not converted to int (it could lose data) (at value[1])",
        ),
        ({"a": "x"}, dict[str, int], "expected int, got str 'x' (at value['a'])"),
        ({1: 1}, dict[str, int], "dict key: expected str, got int 1 (at value[1])"),
        ((1,), tuple[int, str], "expected 2 items for tuple[int, str], got 1"),
        ((1, 2), tuple[int, str], "expected str, got int 2 (at value[1])"),
        ([1], set[int], "expected set[int], got list"),
        (1.5, Optional[int], "a float is not converted to int"),
        (b"x", Union[int, str], "expected int | str, got bytes"),
        ("x", Point, "expected dataclass Point, got str"),
        ({"y": 1.0}, Point, "missing field 'x' of dataclass Point"),
        ({"x": 1, "z": 2}, Point, "unknown field(s) 'z' for dataclass Point: its fields are x, y"),
        (
            Point(1.5, 0.0),
            Point,
            "a float is not converted to int (it could lose data) (at value.x)",
        ),  # type: ignore[arg-type]
        (Tree(1, [Tree("2")]), Tree, "expected int, got str '2' (at value.children[0].value)"),  # type: ignore[arg-type]
        ({"name": "m"}, Model, "invalid Model"),
        (Point(1), Model, "expected pydantic model Model, got Point"),
        ("/no/such/file", File, "File path '/no/such/file' does not exist or is not a file"),
        (42, File, "expected File (or a path), got int 42"),
        ("/no/such/dir", Directory, "Directory path '/no/such/dir' does not exist"),
        (pl.DataFrame({"a": [1]}), pd.DataFrame, "expected DataFrame[pandas], got DataFrame"),
        (pd.DataFrame({"a": [1]}), pa.Table, "expected DataFrame[pyarrow], got DataFrame"),
        ([1, 2], np.ndarray, "expected ndarray, got list"),
        (np.ma.masked_array([1]), np.ndarray, "ndarray subclasses would lose their class"),
        (np.ones(2), npt.NDArray[np.float32], "expected an array of dtype float32, got float64"),
    ],
    ids=lambda p: p if isinstance(p, str) else None,
)
def test_check_value_errors(engine: TypeEngine, value: Any, py_type: Any, message: str) -> None:
    with pytest.raises(TypeTransformError) as info:
        engine.check_value(value, py_type)
    assert message in str(info.value)


def test_errors_are_type_transform_errors_with_a_path(engine: TypeEngine) -> None:
    with pytest.raises(ConversionError) as info:
        engine.check_value({"a": [Point(1), Point("x")]}, dict[str, list[Point]])  # type: ignore[arg-type]
    assert isinstance(info.value, TypeTransformError)
    assert str(info.value).endswith("(at value['a'][1].x)")


def test_missing_attribute_of_a_dataclass_instance(engine: TypeEngine) -> None:
    point = Point(1)
    del point.x
    with pytest.raises(TypeTransformError, match="missing field 'x' of dataclass Point"):
        engine.check_value(point, Point)


def test_subclass_with_more_fields_is_refused(engine: TypeEngine) -> None:
    @dataclasses.dataclass
    class Point3(Point):
        z: int = 0

    with pytest.raises(TypeTransformError, match="would lose them"):
        engine.check_value(Point3(1, 2.0, 3), Point)


def test_valid_values_pass(engine: TypeEngine) -> None:
    engine.check_value(3, float)
    engine.check_value("RED", Color)
    engine.check_value({"x": 1}, Point)
    engine.check_value(None, Optional[Point])
    engine.check_value({"x": {1, 2}}, dict[str, frozenset[int]])
    engine.check_value({"name": "m", "when": dt.datetime(2024, 1, 1)}, Model)


def test_check_value_writes_nothing(
    engine: TypeEngine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import tempfile

    work, scratch = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def everything() -> list[str]:
        return sorted(os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs)

    before = everything()
    # Values that are stored as blobs (Parquet, .npy) when serialised.
    engine.check_value([pd.DataFrame({"a": [1]})], list[pd.DataFrame])
    engine.check_value({"x": pd.DataFrame({"a": [1.5]})}, dict[str, pd.DataFrame])
    engine.check_value(np.arange(10), np.ndarray)
    engine.check_value(pl.DataFrame({"a": [1]}), pl.DataFrame)
    assert everything() == before == []


def test_stored_value_of_another_format(engine: TypeEngine, ctx: ValueContext) -> None:
    frame = engine.to_value(pd.DataFrame({"a": [1]}), pd.DataFrame, ctx)
    with pytest.raises(TypeTransformError, match="format 'arrow' cannot be read as int"):
        engine.to_python(frame, int, ctx)
    stored = engine.to_value("text", str, ctx)
    with pytest.raises(TypeTransformError, match="expected int, got str"):
        engine.to_python(stored, int, ctx)
    garbage = Value(hash="0" * 64, format="json", inline=b"{not json")
    with pytest.raises(TypeTransformError, match="not valid JSON"):
        engine.to_python(garbage, list[int], ctx)


# --- to_spec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("py_type", "expected"),
    [
        (int, TypeSpec("int")),
        (None, TypeSpec("none")),
        (dt.timedelta, TypeSpec("timedelta")),
        (list[int], TypeSpec("list", args=(TypeSpec("int"),))),
        (typing.List[int], TypeSpec("list", args=(TypeSpec("int"),))),  # noqa: UP006
        (dict[str, float], TypeSpec("dict", args=(TypeSpec("str"), TypeSpec("float")))),
        (tuple[int, ...], TypeSpec("tuple", args=(TypeSpec("int"),), variadic=True)),
        (tuple[()], TypeSpec("tuple")),
        (set[str], TypeSpec("set", name="set", args=(TypeSpec("str"),))),
        (Optional[int], TypeSpec("union", args=(TypeSpec("int"), TypeSpec("none")))),
        (str | int, TypeSpec("union", args=(TypeSpec("int"), TypeSpec("str")))),
        (Union[int, str], TypeSpec("union", args=(TypeSpec("int"), TypeSpec("str")))),
        (
            Color,
            TypeSpec(
                "enum",
                name="_types_models.Color",
                values=("RED", "GREEN", "BLUE"),
                labels=("r", "g", "b"),  # the members' text values, taken in JSON launches
            ),
        ),
        (pd.DataFrame, TypeSpec("dataframe", name="pandas")),
        (pl.DataFrame, TypeSpec("dataframe", name="polars")),
        (pa.Table, TypeSpec("dataframe", name="pyarrow")),
        (np.ndarray, TypeSpec("ndarray")),
        (File, TypeSpec("file")),
        (Directory, TypeSpec("directory")),
        (Any, TypeSpec("any")),
        (typing.Annotated[int, "doc"], TypeSpec("int")),
    ],
    ids=repr,
)
def test_to_spec(engine: TypeEngine, py_type: Any, expected: TypeSpec) -> None:
    assert engine.to_spec(py_type) == expected


def test_dataclass_spec_has_fields_and_recursion_is_named(engine: TypeEngine) -> None:
    spec = engine.to_spec(Point)
    assert spec == TypeSpec(
        "dataclass",
        name="_types_models.Point",
        fields=(("x", TypeSpec("int")), ("y", TypeSpec("float"))),
    )
    tree = engine.to_spec(Tree)
    children = dict(tree.fields)["children"]
    assert children == TypeSpec("list", args=(TypeSpec("dataclass", name="_types_models.Tree"),))
    shape = engine.to_spec(Shape)
    assert dict(shape.fields)["color"].kind == "enum"
    assert engine.to_spec(Shape) == shape  # deterministic
    model = engine.to_spec(Model)
    assert model.kind == "pydantic" and [n for n, _ in model.fields] == [
        "name",
        "when",
        "sizes",
        "color",
    ]


def test_union_order_does_not_matter(engine: TypeEngine, ctx: ValueContext) -> None:
    assert engine.to_spec(Union[str, int, None]) == engine.to_spec(Optional[Union[int, str]])
    a = engine.to_value("x", Union[str, dt.date], ctx)
    b = engine.to_value("x", Union[dt.date, str], ctx)
    assert a.hash == b.hash


@pytest.mark.parametrize(
    ("py_type", "message"),
    [
        (tuple, "tuple[T, ...]"),
        (dict[str], "dict needs a key and a value type"),
        (tuple[int, ..., str], "'...' may only follow a single type"),
        (list["Undefined"], "unresolved forward reference"),  # type: ignore[name-defined]  # noqa: F821
        ("int", "unresolved forward reference"),
        (typing.TypeVar("T"), "unsupported type annotation"),
        (typing.Sequence[int], "unsupported type annotation"),
        (list[int, str], "expected exactly one element type"),  # type: ignore[misc]
        (5, "unsupported type annotation 5"),
    ],
    ids=repr,
)
def test_malformed_annotations(engine: TypeEngine, py_type: Any, message: str) -> None:
    with pytest.raises(TypeTransformError, match=message.replace("[", r"\[").replace(".", r"\.")):
        engine.to_spec(py_type)


def test_dataclass_with_unresolvable_field(engine: TypeEngine) -> None:
    @dataclasses.dataclass
    class Broken:
        x: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(
        TypeTransformError, match="cannot resolve the field annotations of dataclass"
    ):
        engine.to_spec(Broken)


def test_unhashable_annotation_still_works(engine: TypeEngine, ctx: ValueContext) -> None:
    tp = typing.Annotated[int, {"unhashable": []}]
    assert engine.to_spec(tp) == TypeSpec("int")
    assert engine.to_python(engine.to_value(3, tp, ctx), tp, ctx) == 3


# --- is_assignable ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        (int, int, True),
        (int, float, True),
        (float, int, False),
        (bool, int, False),
        (int, bool, False),
        (int, str, False),
        (int, Optional[int], True),
        (None, Optional[int], True),
        (Optional[int], int, False),
        (int, Union[int, str], True),
        (int, Union[str, float], True),
        (Union[int, str], Union[str, int, None], True),
        (Union[int, str], str, False),
        (list[int], list[float], True),
        (list[float], list[int], False),
        (list[int], list[Optional[int]], True),
        (list[int], set[int], False),
        (set[int], frozenset[float], True),
        (dict[str, int], dict[str, float], True),
        (dict[str, int], dict[int, int], False),
        (tuple[int, str], tuple[int, str], True),
        (tuple[int, int], tuple[float, ...], True),
        (tuple[int, ...], tuple[int, int], False),
        (tuple[int, str], tuple[int], False),
        (Point, Point, True),
        (Point, Tree, False),
        (Point, Optional[Point], True),
        (Color, Color, True),
        (Color, str, False),
        (Model, Model, True),
        (pd.DataFrame, pd.DataFrame, True),
        (pd.DataFrame, pl.DataFrame, False),
        (pa.Table, pd.DataFrame, False),
        (np.ndarray, np.ndarray, True),
        (npt.NDArray[np.float32], np.ndarray, True),
        (np.ndarray, npt.NDArray[np.float32], False),
        (File, File, True),
        (File, Directory, False),
        (dt.date, dt.datetime, False),
        (int, Any, True),
        (pd.DataFrame, Any, True),
        (Any, int, False),
        (Any, Any, True),
    ],
    ids=lambda p: repr(p) if not isinstance(p, bool) else str(p),
)
def test_is_assignable(engine: TypeEngine, src: Any, dst: Any, ok: bool) -> None:
    assert engine.is_assignable(engine.to_spec(src), engine.to_spec(dst)) is ok


def test_is_assignable_for_pickled_types(engine: TypeEngine) -> None:
    with pytest.warns(PickleFallbackWarning):
        opaque = engine.to_spec(Opaque)
    assert engine.is_assignable(opaque, opaque)
    assert engine.is_assignable(engine.to_spec(Any), opaque)
    assert engine.is_assignable(opaque, engine.to_spec(Any))
    assert not engine.is_assignable(engine.to_spec(int), opaque)
    other = TypeSpec("pickle", name="elsewhere.Other")
    assert not engine.is_assignable(other, opaque)


def test_is_assignable_for_dataframes(engine: TypeEngine) -> None:
    pandas, polars = TypeSpec("dataframe", name="pandas"), TypeSpec("dataframe", name="polars")
    any_flavour = TypeSpec("dataframe")  # a structured dataset: read as any flavour
    assert not engine.is_assignable(pandas, polars)
    assert engine.is_assignable(pandas, any_flavour)
    assert engine.is_assignable(any_flavour, polars)
    assert not engine.is_assignable(any_flavour, TypeSpec("list", args=(TypeSpec("int"),)))


@pytest.mark.parametrize(
    ("value", "py_type"),
    [
        ("a\udcffb", str),
        (["ok", "x\udc80"], list[str]),
        ({"k\ud800": 1}, dict[str, int]),
        (Point(x=1, y=2), Optional[str]),  # not text at all: still the usual mismatch
    ],
)
def test_text_that_is_not_unicode_is_a_type_error_naming_it(
    engine: TypeEngine, ctx: ValueContext, value: Any, py_type: Any
) -> None:
    # A file name that is not UTF-8, read with os.listdir, holds lone surrogates: before,
    # storing it raised a bare UnicodeEncodeError from msgspec's encoder (a task's output,
    # 'airfoil run ... --s' with such bytes), not the TypeTransformError of a bad value.
    with pytest.raises(TypeTransformError) as info:
        engine.to_value(value, py_type, ctx)
    if isinstance(value, Point):
        return
    assert "which is not Unicode (a lone surrogate" in str(info.value)
    assert "os.fsencode" in str(info.value)
