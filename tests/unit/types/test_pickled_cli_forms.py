"""The common pickled types typed on the command line: ``datetime.time``, ``Decimal``,
``UUID``, paths and ``NamedTuple`` classes. Before 2026-12-07 each was refused ("pickled types
cannot be given on the command line"), so a workflow taking one could not be run with
``airfoil run``; the server refuses them still (it neither builds nor reads pickles), and says
so rather than pointing at the client, which cannot send them either."""

from __future__ import annotations

import datetime as dt
import decimal
import pathlib
import uuid
import warnings
from typing import Any, NamedTuple

import pytest

from airfoil.core.errors import InvalidInputError, TypeTransformError
from airfoil.core.records import TypeSpec
from airfoil.types import TypeEngine, ValueContext

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore::airfoil.types.PickleFallbackWarning"),
]


class Window(NamedTuple):
    start: dt.date
    days: int
    label: str = "w"


ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize(
    ("text", "py_type", "expected"),
    [
        ("14:30", dt.time, dt.time(14, 30)),
        ("14:30:05.250", dt.time, dt.time(14, 30, 5, 250_000)),
        ("14:30+01:00", dt.time, dt.time(14, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
        ("12.50", decimal.Decimal, decimal.Decimal("12.50")),
        ("-1e-3", decimal.Decimal, decimal.Decimal("-0.001")),
        ("12345678-1234-5678-1234-567812345678", uuid.UUID, ID),
        ("12345678123456781234567812345678", uuid.UUID, ID),
        ("{12345678-1234-5678-1234-567812345678}", uuid.UUID, ID),
        ("data/in.csv", pathlib.Path, pathlib.Path("data/in.csv")),
        ("/tmp/x y", pathlib.PurePosixPath, pathlib.PurePosixPath("/tmp/x y")),
        ('{"start": "2026-01-31", "days": 7}', Window, Window(dt.date(2026, 1, 31), 7)),
        ('["2026-01-31", 7, "q1"]', Window, Window(dt.date(2026, 1, 31), 7, "q1")),
        ('["09:00", "17:30"]', list[dt.time], [dt.time(9), dt.time(17, 30)]),
        (
            '{"a": "0.10", "b": 3}',
            dict[str, decimal.Decimal],
            {"a": decimal.Decimal("0.10"), "b": decimal.Decimal(3)},
        ),
        ('[["2026-01-01", 1]]', list[Window], [Window(dt.date(2026, 1, 1), 1)]),
    ],
)
def test_pickled_types_are_written_plainly_and_store_what_python_stores(
    engine: TypeEngine, ctx: ValueContext, text: str, py_type: Any, expected: Any
) -> None:
    value = engine.parse_cli(text, py_type)
    assert value == expected and type(value) is type(expected)
    # the run stores the value as one launched from Python with it: the same pickle
    assert engine.to_value(value, py_type, ctx).hash == engine.to_value(expected, py_type, ctx).hash


@pytest.mark.parametrize(
    ("text", "py_type", "message"),
    [
        ("25:00", dt.time, "'25:00' is not an ISO 8601 time"),
        ("", dt.time, "expected an ISO 8601 time, e.g. 14:30"),
        ("12,50", decimal.Decimal, "'12,50' is not a decimal number"),
        ("[0.1]", list[decimal.Decimal], 'write it as a JSON string, e.g. "0.10"'),
        ("1234", uuid.UUID, "'1234' is not a UUID (32 hex digits)"),
        ("", pathlib.Path, "an empty path (write . for the working directory)"),
        ("[7]", list[pathlib.Path], "expected a path written as text, got int 7"),
        ('{"start": "2026-01-31"}', Window, "missing field 'days' of NamedTuple Window"),
        (
            '{"start": "2026-01-31", "days": 1, "x": 2}',
            Window,
            "unknown field(s) 'x' for NamedTuple Window: its fields are start, days, label",
        ),
        ('["2026-01-31"]', Window, "Window has 3 fields (start, days, label), got an array of 1"),
        ('{"start": "soon", "days": 1}', Window, "at value.start"),
        ("7", Window, "a JSON object of its fields (start, days, label), or an array of them"),
    ],
)
def test_bad_values_are_typed_errors_naming_the_form(
    engine: TypeEngine, text: str, py_type: Any, message: str
) -> None:
    with pytest.raises(TypeTransformError) as info:
        engine.parse_cli(text, py_type)
    assert message in str(info.value)


def test_a_bad_value_on_the_command_line_names_its_flag() -> None:
    from airfoil.cli._inputs import input_help, parse_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import airfoil as af

        @af.task
        def book(at: dt.time, price: decimal.Decimal, ref: uuid.UUID, out: pathlib.Path) -> str:
            return f"{at} {price} {ref} {out}"

    engine = TypeEngine()
    given = parse_inputs(
        book, ["--at", "09:15", "--price=0.10", "--ref", str(ID), "--out", "o.txt"], engine
    )
    assert given == {
        "at": dt.time(9, 15),
        "price": decimal.Decimal("0.10"),
        "ref": ID,
        "out": pathlib.Path("o.txt"),
    }
    with pytest.raises(InvalidInputError, match="--at") as info:
        parse_inputs(book, ["--at", "9h15"], engine)
    assert "expected an ISO 8601 time" in str(info.value)
    page = input_help(book, engine, "book.py")
    assert "a decimal number, e.g. 12.50 (kept exactly)" in page
    assert "nothing: pickled types" not in page


@pytest.mark.parametrize("spec", [TypeSpec("pickle", name="datetime.time"), TypeSpec("any")])
def test_the_server_says_why_it_refuses_a_pickled_input(spec: TypeSpec) -> None:
    from airfoil.types._from_json import python_type_of

    with pytest.raises(TypeTransformError) as info:
        python_type_of(spec)
    said = str(info.value)
    assert "stored pickled, which a server neither builds nor reads" in said
    assert "airfoil run FILE NAME" in said and "Client" not in said
