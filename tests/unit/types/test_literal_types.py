"""``typing.Literal`` annotations: the values' own type, restricted to the listed values."""

from __future__ import annotations

from typing import Literal

import pytest

import airfoil as af
from airfoil.core.errors import ExecutionFailedError, TypeTransformError
from airfoil.types import ConversionError, TypeEngine, ValueContext

pytestmark = pytest.mark.unit


def test_a_literal_round_trips_as_its_values_type(ctx: ValueContext) -> None:
    engine = TypeEngine()
    level = Literal["low", "high"]
    value = engine.to_value("high", level, ctx)
    assert value == engine.to_value("high", str, ctx)  # stored as a str is
    assert engine.handler(level).spec == engine.handler(str).spec
    assert engine.to_python(value, level, ctx) == "high"
    assert engine.to_python(engine.to_value(2, Literal[1, 2], ctx), Literal[1, 2], ctx) == 2


def test_a_value_outside_the_literal_is_refused(ctx: ValueContext) -> None:
    engine = TypeEngine()
    with pytest.raises(
        ConversionError, match=r"'mid' is not allowed here: expected one of 'low', 'high'"
    ):
        engine.to_value("mid", Literal["low", "high"], ctx)
    with pytest.raises(ConversionError, match="not allowed"):
        engine.to_value(True, Literal[1, 2], ctx)  # a bool is not the int 1
    stored = engine.to_value("mid", str, ctx)
    with pytest.raises(ConversionError, match="not allowed"):
        engine.to_python(stored, Literal["low", "high"], ctx)  # nor when read back


def test_the_command_line_takes_only_the_listed_values() -> None:
    handler = TypeEngine().handler(Literal["low", "high"])
    assert handler.parse_cli("low") == "low"
    assert "one of 'low', 'high'" in handler.cli_form()
    with pytest.raises(TypeTransformError):
        handler.parse_cli("mid")


def test_a_literal_of_mixed_types_is_refused() -> None:
    with pytest.raises(ConversionError, match="must all be str, all int or all bool"):
        TypeEngine().handler(Literal["a", 1])


@af.task
def _describe(level: Literal["low", "high"]) -> str:
    return f"level {level}"


@af.task
def _pick(n: int) -> Literal["low", "high"]:
    return "high" if n > 1 else "mid"  # "mid" is a bug the output check catches


@af.workflow
def _wf(n: int) -> str:
    return _describe(level=_pick(n=n))


def test_tasks_take_and_return_literals() -> None:
    assert _describe(level="low") == "level low"
    assert _wf(n=5) == "level high"
    with pytest.raises(ExecutionFailedError, match="'mid' is not allowed"):
        _wf(n=0)
