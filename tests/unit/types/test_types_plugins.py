"""Adding a converter to the process's type engine, and rebuilding it from import paths."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _types_models import Money

from airfoil.core.errors import ConfigError
from airfoil.core.records import TypeSpec
from airfoil.types import (
    ConversionError,
    Converter,
    Handler,
    PickleFallbackWarning,
    TypeEngine,
    ValueContext,
    _plugins,
    add_converter,
    added_converters,
    default_type_engine,
    load_converters,
)

pytestmark = pytest.mark.unit


class MoneyHandler(Handler):
    classes = (Money,)

    def __init__(self) -> None:
        super().__init__(TypeSpec("money", name="tests.Money"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, Money):
            raise ConversionError(f"expected Money, got {type(obj).__name__}")
        return f"{obj.cents} {obj.currency}"

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        cents, currency = data.split()
        return Money(int(cents), currency)


class MoneyConverter(Converter):
    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        return MoneyHandler() if py_type is Money else None


class NeedsArgs(MoneyConverter):
    def __init__(self, scale: int) -> None:
        self.scale = scale


def not_a_converter() -> int:
    return 3


def make_money_converter() -> Converter:
    return NeedsArgs(100)


@pytest.fixture(autouse=True)
def _fresh_default() -> Iterator[None]:
    kept = added_converters()  # what modules imported earlier added (airfoil.compat's)
    _plugins._reset_for_tests()
    yield
    _plugins._reset_for_tests()
    load_converters(kept)


def test_an_added_converter_is_in_the_default_engine_and_recorded_by_path() -> None:
    before = default_type_engine()
    engine = add_converter(MoneyConverter())
    assert default_type_engine() is engine and engine is not before
    assert engine.to_spec(Money).kind == "money"
    assert len(before.converters) == len(TypeEngine().converters)  # engines are values
    assert added_converters() == (("test_types_plugins:MoneyConverter", True),)


def test_adding_the_same_converter_again_changes_nothing() -> None:
    first = add_converter(MoneyConverter())
    assert add_converter("test_types_plugins:MoneyConverter") is first
    assert len(added_converters()) == 1


def test_another_process_rebuilds_the_engine_from_the_paths() -> None:
    add_converter(MoneyConverter())
    add_converter("test_types_plugins:make_money_converter", first=False)
    paths = added_converters()
    _plugins._reset_for_tests()  # as a fresh worker process starts
    engine = load_converters(paths)
    assert [type(c).__name__ for c in engine.converters[:1]] == ["MoneyConverter"]
    assert "NeedsArgs" in [type(c).__name__ for c in engine.converters]
    assert added_converters() == paths


def test_the_pickle_warning_points_at_add_converter(ctx: ValueContext) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        default_type_engine().to_spec(Money)
    (warning,) = [w for w in caught if issubclass(w.category, PickleFallbackWarning)]
    assert "airfoil.types.add_converter" in str(warning.message)
    add_converter(MoneyConverter())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert default_type_engine().to_spec(Money).kind == "money"


def test_converters_that_other_processes_cannot_rebuild_are_refused() -> None:
    with pytest.raises(ConfigError, match="no arguments"):
        add_converter(NeedsArgs(3))
    with pytest.raises(ConfigError, match=r"not an airfoil\.types\.Converter"):
        add_converter("test_types_plugins:not_a_converter")
    with pytest.raises(ConfigError, match="cannot be built with no arguments"):
        add_converter("test_types_plugins:Money")
    with pytest.raises(ConfigError, match="has no"):
        add_converter("test_types_plugins:Nope")
    assert added_converters() == ()
