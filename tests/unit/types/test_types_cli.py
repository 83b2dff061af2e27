"""parse_cli for every kind of type (and its errors), and to_jsonable previews."""

# typing.Optional / typing.Union are written on purpose: they are what is under test.
# ruff: noqa: UP007, UP045

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from _types_models import Color, Model, Opaque, Perm, Point, Shape

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec
from airfoil.types import Directory, File, PickleFallbackWarning, TypeEngine, ValueContext

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "py_type", "expected"),
    [
        ("42", int, 42),
        (" -7 ", int, -7),
        ("0.5", float, 0.5),
        ("3", float, 3.0),
        ("1e3", float, 1000.0),
        ("inf", float, float("inf")),
        ("-Infinity", float, float("-inf")),
        ("true", bool, True),
        ("False", bool, False),
        ("yes", bool, True),
        ("0", bool, False),
        ("some text", str, "some text"),
        ("", str, ""),
        ("héllo", bytes, "héllo".encode()),
        ("null", None, None),
        ("2024-01-31", dt.date, dt.date(2024, 1, 31)),
        ("2024-01-31T12:30:00", dt.datetime, dt.datetime(2024, 1, 31, 12, 30)),
        ("2024-01-31T12:30:00Z", dt.datetime, dt.datetime(2024, 1, 31, 12, 30, tzinfo=dt.UTC)),
        ("90", dt.timedelta, dt.timedelta(seconds=90)),
        ("1.5", dt.timedelta, dt.timedelta(seconds=1.5)),
        ("1h30m", dt.timedelta, dt.timedelta(hours=1, minutes=30)),
        ("2d", dt.timedelta, dt.timedelta(days=2)),
        ("-15m", dt.timedelta, dt.timedelta(minutes=-15)),
        ("250ms", dt.timedelta, dt.timedelta(milliseconds=250)),
        ("01:30:00", dt.timedelta, dt.timedelta(hours=1, minutes=30)),
        ("P1DT2H", dt.timedelta, dt.timedelta(days=1, hours=2)),
        ("GREEN", Color, Color.GREEN),
        ("g", Color, Color.GREEN),  # a member's value, as the user sees it in their code
        (" b ", Color, Color.BLUE),
        ("null", Optional[int], None),
        ("5", Optional[int], 5),
        ("5", Union[str, int], 5),
        ("five", Union[str, int], "five"),
        # A union holding str reads a JSON string literal as that text (as pyflyte does): the
        # one way to give the text "7" to int | str, or the text "null" to str | None.
        ('"7"', Union[int, str], "7"),
        (' "7" ', Union[int, str], "7"),
        ('"null"', Optional[str], "null"),
        ("null", Optional[str], None),
        ('"2024-01-31"', Union[dt.date, str], "2024-01-31"),
        ('"\\"q\\""', Union[int, str], '"q"'),
        ('"a" "b"', Union[int, str], '"a" "b"'),  # not one JSON string: the text as typed
        ('"7', Union[int, str], '"7'),
        ('"7"', str, '"7"'),  # a plain str is always the text as typed
        ('["7", 7]', list[Union[int, str]], ["7", 7]),
        ("[1, 2, 3]", list[int], [1, 2, 3]),
        ('{"a": [1.5], "b": []}', dict[str, list[float]], {"a": [1.5], "b": []}),
        ('{"1": "x"}', dict[int, str], {1: "x"}),
        ('[1, "a"]', tuple[int, str], (1, "a")),
        ("[3, 1, 3]", set[int], {1, 3}),
        ('["RED", "BLUE"]', list[Color], [Color.RED, Color.BLUE]),
        ('{"x": 1}', Point, Point(1, 0.0)),
        ('[{"x": 1, "y": 2}]', list[Point], [Point(1, 2.0)]),
        (
            '{"name": "s", "points": [{"x": 1}], "color": "RED", "created": "2024-01-01T00:00:00"}',
            Shape,
            Shape("s", [Point(1)], Color.RED, dt.datetime(2024, 1, 1)),
        ),
        (
            '{"name": "m", "when": "2024-01-01T00:00:00", "sizes": [1, 2]}',
            Model,
            Model(name="m", when=dt.datetime(2024, 1, 1), sizes=(1, 2)),
        ),
        ('{"k": [1, 2]}', Any, {"k": [1, 2]}),
        ("not json", Any, "not json"),
    ],
    ids=lambda p: p if isinstance(p, str) else None,
)
def test_parse_cli(engine: TypeEngine, text: str, py_type: Any, expected: Any) -> None:
    value = engine.parse_cli(text, py_type)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "py_type", "message"),
    [
        ("4.2", int, "cannot parse '4.2' as int: expected an integer such as 42"),
        ("abc", float, "cannot parse 'abc' as float: expected a number such as 0.5"),
        ("1e400", float, "cannot parse '1e400' as float (too large for a float"),
        ("-2e308", float, "write inf for infinity"),
        ("maybe", bool, "cannot parse 'maybe' as bool: expected true or false"),
        ("31/01/2024", dt.date, "expected an ISO 8601 date such as 2024-01-31"),
        ("yesterday", dt.datetime, "expected an ISO 8601 datetime"),
        ("soon", dt.timedelta, "expected a duration such as 90 (seconds), 1h30m"),
        ("1h30", dt.timedelta, "expected a duration"),
        ("PURPLE", Color, "expected a member's name (RED, GREEN, BLUE) or value (r, g, b)"),
        ("x", Optional[int], "as int | none: expected an integer such as 42 or null"),
        ('"7"', Optional[int], "as int | none: expected an integer such as 42 or null"),
        (
            "[1, 2",
            list[int],
            "as list[int] (Input data was truncated): expected JSON for list[int]",
        ),
        ('[1, "2"]', list[int], "expected int, got str '2' (at value[1])"),
        ('{"y": 1}', Point, "missing field 'x' of dataclass Point"),
        ('{"x": 1, "q": 0}', Point, "unknown field(s) 'q'"),
        ('{"name": "m"}', Model, "invalid Model"),
        ("[1, 2, 3]", tuple[int, int], "expected 2 items"),
        ("/no/such/file.txt", File, "expected a path to an existing local file"),
        ("/no/such/dir", Directory, "expected a path to an existing local directory"),
        ("/no/such/frame.csv", pd.DataFrame, "expected a path to a .csv or .parquet file"),
        ("[[1, 2], [3]", np.ndarray, "expected a JSON array such as [1, 2, 3]"),
    ],
    ids=lambda p: p if isinstance(p, str) else None,
)
def test_parse_cli_errors(engine: TypeEngine, text: str, py_type: Any, message: str) -> None:
    with pytest.raises(TypeTransformError) as info:
        engine.parse_cli(text, py_type)
    assert message in str(info.value)


def test_parse_cli_pickled_type_is_refused(engine: TypeEngine) -> None:
    with (
        pytest.warns(PickleFallbackWarning),
        pytest.raises(TypeTransformError, match="cannot be given on the command line"),
    ):
        engine.parse_cli("x", Opaque)


def test_parse_cli_paths(engine: TypeEngine, tmp_path: Path) -> None:
    f = tmp_path / "data.txt"
    f.write_text("hi")
    value = engine.parse_cli(str(f), File)
    assert isinstance(value, File) and value.path == str(f)
    d = engine.parse_cli(str(tmp_path), Directory)
    assert isinstance(d, Directory) and d.path == str(tmp_path)
    with pytest.raises(TypeTransformError, match="File path"):
        engine.parse_cli(str(tmp_path), File)  # a directory is not a file
    points = engine.parse_cli(json.dumps([str(f)]), list[File])
    assert points == [File(f)]


def test_parse_cli_dataframes(engine: TypeEngine, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    csv, parquet, other = tmp_path / "f.csv", tmp_path / "f.parquet", tmp_path / "f.txt"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    other.write_text("a")
    for path in (csv, parquet):
        pd.testing.assert_frame_equal(engine.parse_cli(str(path), pd.DataFrame), frame)
        assert engine.parse_cli(str(path), pl.DataFrame).equals(pl.from_pandas(frame))
        assert engine.parse_cli(str(path), pa.Table).column_names == ["a", "b"]
    with pytest.raises(TypeTransformError, match=r"neither a \.csv nor a \.parquet file"):
        engine.parse_cli(str(other), pd.DataFrame)


def test_parse_cli_arrays(engine: TypeEngine, tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.arange(4))
    np.testing.assert_array_equal(engine.parse_cli(str(path), np.ndarray), np.arange(4))
    np.testing.assert_array_equal(
        engine.parse_cli("[[1, 2], [3, 4]]", np.ndarray), [[1, 2], [3, 4]]
    )


# --- to_jsonable --------------------------------------------------------------------------


def _jsonable(engine: TypeEngine, ctx: ValueContext, value: Any, py_type: Any) -> Any:
    stored = engine.to_value(value, py_type, ctx)
    out = engine.to_jsonable(stored, engine.to_spec(py_type), ctx)
    json.dumps(out)  # it is JSON
    return out


def test_jsonable_plain_values(engine: TypeEngine, ctx: ValueContext) -> None:
    assert _jsonable(engine, ctx, 3, int) == 3
    assert _jsonable(engine, ctx, {"b": [1.5]}, dict[str, list[float]]) == {"b": [1.5]}
    assert _jsonable(engine, ctx, (1, "x"), tuple[int, str]) == [1, "x"]
    assert _jsonable(engine, ctx, Color.RED, Color) == "RED"
    assert _jsonable(engine, ctx, dt.date(2024, 1, 2), dt.date) == "2024-01-02"
    assert _jsonable(engine, ctx, Perm.R | Perm.X, Perm) == 5
    assert _jsonable(engine, ctx, b"\x01\x02", bytes) == base64.b64encode(b"\x01\x02").decode()
    assert _jsonable(engine, ctx, Point(1, 2.5), Point) == {"x": 1, "y": 2.5}
    model = Model(name="m", when=dt.datetime(2024, 1, 1))
    assert _jsonable(engine, ctx, model, Model)["name"] == "m"


def test_jsonable_offloaded_json_is_read(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    assert _jsonable(engine, ctx, list(range(5)), list[int]) == [0, 1, 2, 3, 4]
    out = _jsonable(engine, ctx, b"x" * 10, bytes)
    assert out["format"] == "bytes" and out["size"] == 10 and out["uri"]


def test_jsonable_dataframe(engine: TypeEngine, blobs: Any) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]})
    out = _jsonable(engine, ctx, frame, pd.DataFrame)
    assert out["format"] == "arrow" and out["rows"] == 3 and out["columns"] == ["a", "b"]
    assert out["uri"].startswith("file://") and out["flavour"] == "pandas"
    nested = _jsonable(engine, ctx, {"train": frame}, dict[str, pd.DataFrame])
    assert nested["train"]["rows"] == 3 and nested["train"]["uri"] == out["uri"]
    polars = _jsonable(engine, ctx, pl.DataFrame({"q": [1]}), pl.DataFrame)
    assert polars["columns"] == ["q"] and polars["flavour"] == "polars"


def test_jsonable_array_and_files(engine: TypeEngine, ctx: ValueContext, tmp_path: Path) -> None:
    out = _jsonable(engine, ctx, np.zeros((2, 3), dtype=np.float32), np.ndarray)
    assert out["format"] == "npy" and out["dtype"] == "float32" and out["shape"] == [2, 3]
    f = tmp_path / "docs" / "notes.txt"
    f.parent.mkdir()
    f.write_text("hello")
    out = _jsonable(engine, ctx, File(f), File)
    assert out["name"] == "notes.txt" and out["uri"].startswith("file://") and out["path"]
    assert out["size"] == 5
    out = _jsonable(engine, ctx, Directory(f.parent), Directory)
    assert out["format"] == "directory" and out["files"] == 1 and out["name"] == "docs"


def test_directory_holding_the_store_is_refused(
    engine: TypeEngine, ctx: ValueContext, tmp_path: Path
) -> None:
    with pytest.raises(TypeTransformError, match="contains the blob store"):
        engine.to_value(Directory(tmp_path), Directory, ctx)


def test_jsonable_pickle_does_not_unpickle(engine: TypeEngine, ctx: ValueContext) -> None:
    with pytest.warns(PickleFallbackWarning):
        stored = engine.to_value(Opaque([1, 2]), Opaque, ctx)
    # a fresh engine that knows nothing about the type previews it from the record alone
    out = TypeEngine().to_jsonable(stored, engine.to_spec(Opaque), ctx)
    assert out["format"] == "pickle"
    assert out["type"] == "_types_models.Opaque"
    assert out["repr"].startswith("<_types_models.Opaque object")
    anything = _jsonable(engine, ctx, [1, 2], Any)
    assert anything["format"] == "pickle" and anything["repr"] == "[1, 2]"


def test_enum_values_are_accepted_inside_json_and_stored_by_name(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    # flytekit gives enums by value ("g"); inside JSON (lists, dicts, fields) too.
    assert engine.parse_cli('["g", "RED", "b"]', list[Color]) == [
        Color.GREEN,
        Color.RED,
        Color.BLUE,
    ]
    assert engine.parse_cli('{"x": "r"}', dict[str, Color]) == {"x": Color.RED}
    by_value = engine.to_value(["g"], list[Color], ctx)
    by_name = engine.to_value(["GREEN"], list[Color], ctx)
    assert by_value.hash == by_name.hash == engine.to_value([Color.GREEN], list[Color], ctx).hash
    with pytest.raises(TypeTransformError, match="or a member's text value"):
        engine.parse_cli('["purple"]', list[Color])


# An argument that is not UTF-8 (typed in a Latin-1 terminal, a file name's bytes) reaches
# Python with those bytes as lone surrogates (PEP 383). Before, `airfoil run` printed a
# UnicodeEncodeError traceback for a bytes input and for any JSON-typed input.


def test_parse_cli_bytes_keeps_the_bytes_of_an_argument_that_is_not_utf8(
    engine: TypeEngine,
) -> None:
    typed = b"\xffab".decode("utf-8", "surrogateescape")  # what sys.argv holds
    assert engine.parse_cli(typed, bytes) == b"\xffab"
    assert engine.parse_cli("héllo", bytes) == "héllo".encode()


@pytest.mark.parametrize("py_type", [list[str], dict[str, int], Point, np.ndarray])
def test_parse_cli_json_that_is_not_utf8_is_a_typed_error(engine: TypeEngine, py_type: Any) -> None:
    typed = b'["\xff"]'.decode("utf-8", "surrogateescape")
    with pytest.raises(TypeTransformError, match=r"which is not Unicode \(a lone surrogate"):
        engine.parse_cli(typed, py_type)


def test_parse_cli_any_that_is_not_utf8_is_kept_as_text(engine: TypeEngine) -> None:
    typed = b"\xff".decode("utf-8", "surrogateescape")
    assert engine.parse_cli(typed, Any) == typed  # storing it then names the problem


@pytest.mark.parametrize(
    "text", ["99999999999d", "1000000000d", "99999999999:00:00", "inf", "1e20"]
)
def test_parse_cli_a_duration_past_timedeltas_range_is_a_typed_error(
    engine: TypeEngine, text: str
) -> None:
    # Before, an OverflowError traceback from datetime (`airfoil run ... --every 99999999999d`).
    with pytest.raises(TypeTransformError, match="beyond the longest duration a timedelta holds"):
        engine.parse_cli(text, dt.timedelta)
    assert engine.parse_cli("999999999d", dt.timedelta) == dt.timedelta(days=999999999)


@pytest.mark.parametrize(
    ("text", "py_type", "expected"),
    [
        ('[1, "a", [2, {"k": null}]]', list[Any], [1, "a", [2, {"k": None}]]),
        ('{"lr": 0.1, "layers": [64, 32], "name": "x"}', dict[str, Any], None),
        ('{"a": {"b": 1}}', dict[str, Any], None),
        ('[{"x": 1}]', list[dict[str, Any]], None),
    ],
)
def test_parse_cli_any_inside_json_is_the_json_value(
    engine: TypeEngine, ctx: ValueContext, text: str, py_type: Any, expected: Any
) -> None:
    # Before, every such input was refused: "a stored any needs a blob store to be read".
    value = engine.parse_cli(text, py_type)
    assert value == (json.loads(text) if expected is None else expected)
    stored = engine.to_value(value, py_type, ctx)  # what the run then stores: pickled items
    assert engine.to_python(stored, py_type, ctx) == value


def test_parse_cli_a_pickled_class_inside_json_says_so(engine: TypeEngine) -> None:
    with (
        pytest.warns(PickleFallbackWarning),
        pytest.raises(TypeTransformError, match="pickled types cannot be given on the command"),
    ):
        engine.parse_cli("[1]", list[Opaque])


@pytest.mark.parametrize("py_type", [list[Any], dict[str, Any], np.ndarray, Any])
def test_parse_cli_json_nested_past_the_recursion_limit_is_a_typed_error(
    engine: TypeEngine, py_type: Any
) -> None:
    deep = "[" * 5000 + "]" * 5000
    if py_type is Any:  # Any keeps text that is not JSON it can read: the text itself
        assert engine.parse_cli(deep, py_type) == deep
        return
    with pytest.raises(TypeTransformError, match="nested too deeply"):
        engine.parse_cli(deep, py_type)


def test_parse_cli_a_dict_key_that_is_not_its_types_json_says_how_keys_are_written(
    engine: TypeEngine,
) -> None:
    # Before: "dict key 'x': stored value is not valid JSON: JSON is malformed ..."
    with pytest.raises(TypeTransformError, match='written as JSON text, such as "1"'):
        engine.parse_cli('{"x": "a"}', dict[int, str])
    assert engine.parse_cli('{"1": "a"}', dict[int, str]) == {1: "a"}


@pytest.mark.parametrize(
    ("data", "py_type"),
    [("\ud800", int), (["\ud800"], list[int]), ({"\ud800": "a"}, dict[int, str])],
)
def test_json_inputs_holding_a_lone_surrogate_are_a_typed_error(
    engine: TypeEngine, ctx: ValueContext, data: Any, py_type: Any
) -> None:
    """What a server's launch receives for the JSON escape "\\ud800" (valid JSON, not
    Unicode): before, a UnicodeEncodeError while writing the error message (an HTTP 500)."""
    from airfoil.types._from_json import from_jsonable

    with pytest.raises(TypeTransformError, match="ud800"):
        from_jsonable(data, engine.to_spec(py_type), engine, ctx)


@pytest.mark.parametrize(
    ("spec", "fix"),
    [
        (TypeSpec("pickle", name="decimal.Decimal"), "add a converter for decimal.Decimal"),
        (TypeSpec("any"), "give the input a default"),
        (TypeSpec("dataframe", name="pandas"), "uploaded"),
    ],
)
def test_a_value_no_json_gives_is_refused_with_a_fix_that_works(spec: TypeSpec, fix: str) -> None:
    """Fails on main: for the pickle and ``Any`` the message sent the user to launch it from
    Python (``airfoil.client.Client``), which refuses a pickled value as well (a server
    unpickles nothing it is sent); the dataframe's did not say it is uploaded."""
    from airfoil.types._from_json import python_type_of

    with pytest.raises(TypeTransformError, match="cannot be given as JSON") as info:
        python_type_of(spec)
    assert fix in str(info.value)


class _Num(enum.Enum):
    ONE = 1
    TWO = "1"


def test_an_enum_text_is_read_alike_by_the_cli_and_by_a_server_launch(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    """adv18: with ``ONE = 1`` and ``TWO = "1"``, the CLI read ``"1"`` as ONE (the first
    member whose ``str(value)`` matched) and a server launch as TWO (a member's text value).
    One rule for both: a member's name, then its text value, then (the CLI alone, which has
    no JSON types) the text of a value that is not text."""
    from airfoil.types._from_json import from_jsonable

    spec = engine.to_spec(_Num)
    for text, member in (("1", _Num.TWO), ("ONE", _Num.ONE), ("TWO", _Num.TWO)):
        cli = engine.parse_cli(text, _Num)
        launched = from_jsonable(text, spec, engine, ctx)
        assert cli is member
        assert launched.hash == engine.to_value(member, _Num, ctx).hash
    # a value that is not text is still read by its text on the command line
    assert engine.parse_cli("1", enum.Enum("Level", {"LOW": 1, "HIGH": 2})).name == "LOW"
