"""A TypedDict is a JSON object of its keys, each through its own type, read back as a plain
dict: the same value and hash from Python, from the command line and over the API (a server
synthesises a dataclass of the same fields), with the keys it does not require left out."""

from __future__ import annotations

import datetime as dt
import json
import typing
import warnings

import pytest

from airfoil.core.errors import TypeTransformError
from airfoil.types import ConversionError, TypeEngine, ValueContext
from airfoil.types._from_json import from_jsonable

pytestmark = pytest.mark.unit


class Config(typing.TypedDict):
    lr: float
    layers: int
    started: dt.date


class Partial(typing.TypedDict, total=False):
    name: str
    size: int


class Mixed(typing.TypedDict):
    name: str
    size: typing.NotRequired[int]


CONFIG: Config = {"lr": 0.5, "layers": 3, "started": dt.date(2026, 12, 7)}


def test_a_typed_dict_round_trips_as_json_with_no_pickle(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    # Before: no converter took it and the pickle fallback's isinstance() raised
    # "TypeError: TypedDict does not support instance and class checks": every task returning
    # or taking one failed (as a *user* error), and the command line refused it as pickled.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PickleFallbackWarning
        spec = engine.to_spec(Config)
        value = engine.to_value(CONFIG, Config, ctx)
    assert value.format == "json"
    assert [n for n, _ in spec.fields] == ["lr", "layers", "started"]
    back = engine.to_python(value, Config, ctx)
    assert back == CONFIG and type(back) is dict
    assert engine.parse_cli('{"lr": 0.5, "layers": 3, "started": "2026-12-07"}', Config) == CONFIG
    # a server (no user code) gets the same bytes and hash from the JSON
    raw = {"lr": 0.5, "layers": 3, "started": "2026-12-07"}
    assert from_jsonable(raw, spec, engine, ctx).hash == value.hash


def test_keys_not_required_may_be_left_out(engine: TypeEngine, ctx: ValueContext) -> None:
    for tp, given in [(Partial, {"size": 2}), (Partial, {}), (Mixed, {"name": "a"})]:
        back = engine.to_python(engine.to_value(given, tp, ctx), tp, ctx)
        assert back == given


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({"lr": 0.5, "layers": 3}, "missing key 'started' of TypedDict Config"),
        ({**CONFIG, "extra": 1}, "unknown key(s) 'extra' for TypedDict Config"),
        ({**CONFIG, "layers": "3"}, "layers"),
        ([0.5, 3], "TypedDict Config"),
    ],
)
def test_a_value_that_does_not_fit_says_why(
    engine: TypeEngine, ctx: ValueContext, given: object, why: str
) -> None:
    with pytest.raises(ConversionError) as info:
        engine.to_value(given, Config, ctx)
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("tp", "given"),
    [
        (Mixed, {"name": "a"}),
        (Mixed, {"name": "a", "size": 2}),
        (Partial, {}),
        (Partial, {"size": 1}),
    ],
)
def test_a_launch_over_the_api_leaves_out_the_keys_python_may(
    engine: TypeEngine, ctx: ValueContext, tp: type, given: dict[str, object]
) -> None:
    """adv18: the server synthesised a dataclass of every key, so a launch had to give the
    keys a TypedDict does not require, which the CLI and Python leave out. The spec names
    them now (``optional``), and the server takes the same JSON the CLI does, to the same
    hash."""
    spec = engine.to_spec(tp)
    assert from_jsonable(given, spec, engine, ctx).hash == engine.to_value(given, tp, ctx).hash
    assert engine.parse_cli(json.dumps(given), tp) == given


def test_the_api_still_requires_the_keys_a_typed_dict_requires(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    assert engine.to_spec(Mixed).optional == ("size",)
    assert engine.to_spec(Config).optional == ()  # its spec as before
    with pytest.raises(TypeTransformError, match="missing field 'name'"):
        from_jsonable({"size": 2}, engine.to_spec(Mixed), engine, ctx)
