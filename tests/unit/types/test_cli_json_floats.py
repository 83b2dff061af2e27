"""Command-line values that do not parse say how to write them.

Before 2026-12-07 a float JSON has no number for, inside a JSON input (``--xs '[NaN]'``,
``--m '{"a": "inf"}'``, ``--xs '[1e400]'``), was refused with only "expected JSON for
list[float]", never naming the form that is read (``{"$float": "nan"}``, which the API's
errors name); malformed JSON did not say what was wrong with it; and a bool flag followed by
a value that is not a bool (``--dry-run maybe``) was "unexpected argument 'maybe'", naming
neither the input nor what it takes.
"""

from __future__ import annotations

import math

import pytest

import airfoil as af
from airfoil.cli._inputs import parse_inputs
from airfoil.core.errors import ConfigError, InvalidInputError, TypeTransformError
from airfoil.types import TypeEngine


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[NaN]", 'JSON has no NaN or Infinity: write {"$float": "nan"}'),
        ("[1, -Infinity]", 'JSON has no NaN or Infinity: write {"$float": "nan"}'),
        ('["nan"]', 'got str \'nan\'; inside JSON write {"$float": "nan"}'),
        ('["-inf"]', 'inside JSON write {"$float": "nan"} (or "inf", "-inf")'),
        ("[1e400]", 'about 1.8e308; for infinity write {"$float": "inf"}'),
        ("[1,]", "trailing comma"),
        ("1,2", "malformed"),
    ],
)
def test_a_float_inside_json_that_does_not_parse_names_the_form(
    engine: TypeEngine, text: str, says: str
) -> None:
    with pytest.raises(TypeTransformError) as info:
        engine.parse_cli(text, list[float])
    assert says in str(info.value)
    assert "expected JSON for list[float]" in str(info.value)


def test_the_named_form_is_read(engine: TypeEngine) -> None:
    got = engine.parse_cli('[{"$float": "nan"}, {"$float": "-inf"}, 1.5]', list[float])
    assert math.isnan(got[0]) and got[1:] == [-math.inf, 1.5]


@af.task
def _report(dry_run: bool = False, n: int = 0) -> str:
    return f"{dry_run} {n}"


@pytest.mark.parametrize("flag", ["--dry-run", "--no-dry-run"])
def test_a_bool_flag_followed_by_a_value_it_does_not_take_names_the_input(flag: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_inputs(_report, [flag, "maybe", "--n", "1"], TypeEngine())
    message = str(info.value)
    assert "input --dry-run is a bool: 'maybe' is not one of true, false" in message
    assert "--dry-run false" in message


def test_bool_flags_still_read_as_before() -> None:
    engine = TypeEngine()
    assert parse_inputs(_report, ["--dry-run", "--n", "2"], engine) == {"dry_run": True, "n": 2}
    assert parse_inputs(_report, ["--dry-run", "no"], engine) == {"dry_run": False}
    assert parse_inputs(_report, ["--no-dry-run"], engine) == {"dry_run": False}
    with pytest.raises(ConfigError, match="unexpected argument 'x'"):
        parse_inputs(_report, ["x"], engine)
    with pytest.raises(InvalidInputError, match="--dry-run"):
        parse_inputs(_report, ["--dry-run=maybe"], engine)
