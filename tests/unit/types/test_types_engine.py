"""The engine as a chain: plugins, pickle fallback and its warning, the default engine,
the public surface, and that importing the package loads nothing heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from typing import Any

import pytest
from _types_models import Money, Opaque, OtherOpaque, Point

import airfoil.types as types_pkg
from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types import (
    ConversionError,
    Converter,
    Handler,
    PickleFallbackWarning,
    TypeEngine,
    ValueContext,
    default_type_engine,
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

    def cli_form(self) -> str:
        return "an amount such as '150 EUR'"

    def parse_cli(self, text: str) -> Any:
        return self.decode(text, None)


class MoneyConverter(Converter):
    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        return MoneyHandler() if py_type is Money else None


class IntAsTextHandler(Handler):
    """Overrides a built-in type: ints stored as decimal text."""

    classes = (int,)

    def __init__(self) -> None:
        super().__init__(TypeSpec("int"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        return str(obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return int(data)


class IntAsText(Converter):
    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        return IntAsTextHandler() if py_type is int else None


def test_plugin_converter_takes_precedence_over_pickle(ctx: ValueContext) -> None:
    engine = TypeEngine().with_converter(MoneyConverter())
    stored = engine.to_value(Money(150, "EUR"), Money, ctx)  # no warning: warnings are errors
    assert stored.format == "json" and stored.inline == b'"150 EUR"'
    assert engine.to_python(stored, Money, ctx) == Money(150, "EUR")
    assert engine.to_spec(Money) == TypeSpec("money", name="tests.Money")
    assert engine.to_jsonable(stored, engine.to_spec(Money), ctx) == "150 EUR"
    assert engine.parse_cli("3 USD", Money) == Money(3, "USD")
    nested = engine.to_value({"fee": [Money(1, "EUR")]}, dict[str, list[Money]], ctx)
    assert engine.to_python(nested, dict[str, list[Money]], ctx) == {"fee": [Money(1, "EUR")]}


def test_plugin_added_first_overrides_a_built_in_type(ctx: ValueContext) -> None:
    base = TypeEngine()
    engine = base.with_converter(IntAsText())
    assert engine.to_value(42, int, ctx).inline == b'"42"'
    assert engine.to_python(engine.to_value(42, int, ctx), int, ctx) == 42
    # list[int] resolves its element through the new chain too
    assert engine.to_value([1], list[int], ctx).inline == b'["1"]'
    # the original engine is unchanged
    assert base.to_value(42, int, ctx).inline == b"42"
    assert (
        type(engine.converters[0]) is IntAsText
        and len(engine.converters) == len(base.converters) + 1
    )


def test_plugin_added_last_goes_before_the_fallbacks(ctx: ValueContext) -> None:
    engine = TypeEngine().with_converter(MoneyConverter(), first=False)
    kinds = [type(c).__name__ for c in engine.converters]
    assert kinds[-3:] == ["MoneyConverter", "AnyConverter", "PickleConverter"]
    assert engine.to_value(Money(1, "EUR"), Money, ctx).format == "json"
    # a built-in type is still handled by the built-in converter
    assert (
        TypeEngine().with_converter(IntAsText(), first=False).to_value(1, int, ctx).inline == b"1"
    )


def test_custom_chain(ctx: ValueContext) -> None:
    engine = TypeEngine([MoneyConverter()])
    assert engine.to_spec(Money).kind == "money"
    with pytest.raises(TypeTransformError, match="unsupported type annotation <class 'int'>"):
        engine.to_spec(int)


def test_pickle_fallback_round_trip_and_warning_once_per_type(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    with pytest.warns(PickleFallbackWarning) as record:
        stored = engine.to_value(Opaque({"k": [1, 2]}), Opaque, ctx)
        engine.to_value(Opaque(2), Opaque, ctx)
        engine.to_spec(Opaque)
        engine.check_value(Opaque(3), Opaque)
        engine.to_value([Opaque(4)], list[Opaque], ctx)
        engine.to_value(OtherOpaque(1), OtherOpaque, ctx)
        engine.to_value(OtherOpaque(2), OtherOpaque, ctx)
        engine.with_converter(MoneyConverter()).to_spec(Opaque)  # shares the fallback
    messages = [str(w.message) for w in record if w.category is PickleFallbackWarning]
    assert len(messages) == 2
    assert "_types_models.Opaque" in messages[0] and "_types_models.OtherOpaque" in messages[1]
    assert stored.format == "pickle" and stored.meta["type"] == "_types_models.Opaque"
    assert engine.to_python(stored, Opaque, ctx) == Opaque({"k": [1, 2]})
    assert engine.to_spec(Opaque) == TypeSpec("pickle", name="_types_models.Opaque")


def test_pickle_checks_the_class(engine: TypeEngine, ctx: ValueContext) -> None:
    with pytest.warns(PickleFallbackWarning):
        engine.to_spec(OtherOpaque)
    with pytest.raises(TypeTransformError, match=r"expected _types_models\.OtherOpaque"):
        engine.to_value(Opaque(1), OtherOpaque, ctx)


def test_any_is_pickled_silently(engine: TypeEngine, ctx: ValueContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stored = engine.to_value({"a": {1, 2}}, Any, ctx)
    assert stored.format == "pickle"
    assert engine.to_python(stored, Any, ctx) == {"a": {1, 2}}
    with pytest.raises(TypeTransformError, match="cannot pickle"):
        engine.to_value(lambda: 1, Any, ctx)


def test_corrupt_pickle_is_a_type_error(engine: TypeEngine, ctx: ValueContext) -> None:
    bad = Value(hash="0" * 64, format="pickle", inline=b"\x80\x05junk")
    with pytest.raises(TypeTransformError, match="cannot unpickle"):
        engine.to_python(bad, Any, ctx)


def test_handlers_are_cached_per_type(engine: TypeEngine) -> None:
    assert engine.handler(list[int]) is engine.handler(list[int])
    assert engine.handler(Point) is engine.handler(Point)
    assert engine.handler(int | None) is engine.handler(None | int)


def test_default_engine_is_a_lazy_singleton() -> None:
    assert default_type_engine() is default_type_engine()
    assert isinstance(default_type_engine(), TypeEngine)


def test_public_names() -> None:
    assert sorted(types_pkg.__all__) == [
        "BlobHandler",
        "ConversionError",
        "Converter",
        "DEFAULT_OFFLOAD_THRESHOLD",
        "Directory",
        "File",
        "Handler",
        "InputBinder",
        "PickleFallbackWarning",
        "TypeEngine",
        "ValueContext",
        "ValueRef",
        "ValueRefError",
        "add_converter",
        "added_converters",
        "default_converters",
        "default_type_engine",
        "load_converters",
        "read_bytes",
        "write_bytes_value",
        "write_file_value",
    ]
    for name in types_pkg.__all__:
        assert getattr(types_pkg, name) is not None


PROBE = r"""
import dataclasses, json, sys, time, warnings
t0 = time.perf_counter()
import airfoil.types as t
elapsed = time.perf_counter() - t0
built_at_import = 0 if t._plugins._default is None else 1
heavy = ("pandas", "numpy", "pyarrow", "polars", "pydantic", "pickle", "zoneinfo")
loaded_at_import = sorted(m for m in heavy if m in sys.modules)

@dataclasses.dataclass
class P:
    x: int
    tags: dict[str, list[float]]

class Plain:
    pass

engine = t.TypeEngine()
for tp in (int, list[int], P, dict[str, P] | None):
    engine.to_spec(tp)
engine.check_value(P(1, {"a": [1.0]}), P)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    engine.to_spec(Plain)
loaded_after_use = sorted(m for m in heavy[:5] if m in sys.modules)
print(json.dumps({"elapsed": elapsed, "built": built_at_import,
                  "at_import": loaded_at_import, "after_use": loaded_after_use}))
"""


def test_import_is_light_and_converters_import_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    result = json.loads(out.stdout)
    assert result["built"] == 0  # no engine built at import
    assert result["at_import"] == []
    assert result["after_use"] == []
    assert result["elapsed"] < 1.0  # generous: the package budget is checked in test_package
