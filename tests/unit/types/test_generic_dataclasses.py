"""A generic dataclass with its type arguments (``Page[Row]``) is a dataclass whose fields
take those arguments, as a generic pydantic model already was.

Before 2026-12-07 ``Page[int]`` was "unsupported type annotation ...: use ... a dataclass",
though it is one: a task could not take or return it.
"""

from __future__ import annotations

import dataclasses
from typing import Generic, TypeVar

import pytest

import airfoil as af
from airfoil.types import ConversionError, TypeEngine, ValueContext

T = TypeVar("T")
K = TypeVar("K")


@dataclasses.dataclass
class Page(Generic[T]):
    items: list[T]
    next_token: str | None = None


@dataclasses.dataclass
class Pair(Generic[K, T]):
    key: K
    value: T


def test_a_generic_dataclass_round_trips_with_its_arguments(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    page = Page[Pair[str, float]](items=[Pair("a", 1.5)], next_token="n")
    tp = Page[Pair[str, float]]
    back = engine.to_python(engine.to_value(page, tp, ctx), tp, ctx)
    assert back == page and type(back.items[0]) is Pair
    spec = engine.handler(tp).spec
    assert dict(spec.fields)["items"].args[0].kind == "dataclass"


def test_a_generic_dataclass_checks_its_arguments(engine: TypeEngine, ctx: ValueContext) -> None:
    with pytest.raises(ConversionError, match=r"expected int, got str 'x'") as info:
        engine.to_value(Page[int](items=[1, "x"]), Page[int], ctx)  # type: ignore[list-item]
    assert "[1]" in str(info.value)
    assert (
        engine.to_value(Page[str](items=["x"]), Page[str], ctx).hash
        != engine.to_value(Page[str](items=["y"]), Page[str], ctx).hash
    )


@af.task
def _first(page: Page[int]) -> Pair[str, int]:
    return Pair("first", page.items[0])


@af.workflow
def _first_wf(page: Page[int]) -> Pair[str, int]:
    return _first(page=page)


def test_a_task_takes_and_returns_a_generic_dataclass() -> None:
    assert _first_wf(page=Page([7, 8])) == Pair("first", 7)
