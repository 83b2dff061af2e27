"""Attribute and index access on task outputs inside a workflow (``out.field``, ``out[0]``,
``out["key"]``): type-checked when the workflow is defined, resolved when it runs."""

from __future__ import annotations

import dataclasses
import typing

import pydantic
import pytest

import airfoil as af
from airfoil.core.errors import BindingTypeError, PromiseMisuseError, UnknownOutputError
from airfoil.core.records import TaskSpec
from airfoil.runtime.loader import load_task
from airfoil.sdk._select import SELECT_PREFIX, select_task_from_spec


@dataclasses.dataclass
class Inner:
    xs: list[int]


@dataclasses.dataclass
class Result:
    name: str
    inner: Inner
    scores: dict[str, float]


class Model(pydantic.BaseModel):
    label: str
    sizes: tuple[int, str]


@dataclasses.dataclass
class Stats:
    mean: float
    count: int


@af.task
def make(n: int) -> Result:
    return Result(name=f"r{n}", inner=Inner(xs=[n, n + 1, n + 2]), scores={"a": 0.5, "b": n / 4})


@af.task
def model() -> Model:
    return Model(label="m", sizes=(3, "three"))


@af.task
def stats() -> list[Stats]:
    return [Stats(mean=1.5, count=2), Stats(mean=2.5, count=4)]


@af.task
def show(s: str, x: int, f: float) -> str:
    return f"{s}:{x}:{f}"


@af.workflow
def nested(n: int) -> str:
    r = make(n=n)
    return show(s=r.name, x=r.inner.xs[-1], f=r.scores["b"])


@af.workflow
def others() -> tuple[str, int, str, int]:
    m = model()
    s = stats()
    return m.label, m.sizes[0], m.sizes[1], s[1].count


@af.workflow
def whole_field() -> Inner:
    return make(n=1).inner


def test_fields_items_and_keys_resolve_at_run_time() -> None:
    assert nested(n=8) == "r8:10:2.0"
    assert others() == ("m", 3, "three", 4)
    assert whole_field() == Inner(xs=[1, 2, 3])


def test_the_parts_are_typed_at_definition_time() -> None:
    outputs = {o.name: str(o.type) for o in others.spec.interface.outputs}
    assert list(outputs.values()) == ["str", "int", "str", "int"]
    expected = r"input 'x' of .*show expects int but is given the output of make.name \(str\)"
    with pytest.raises(BindingTypeError, match=expected):

        @af.workflow
        def wrong() -> str:
            r = make(n=1)
            return show(s=r.name, x=r.name, f=1.0)


def test_unknown_field_names_the_fields() -> None:
    with pytest.raises(UnknownOutputError, match=r"Result has no field 'nmae'.*name, inner") as e:

        @af.workflow
        def typo() -> str:
            return make(n=1).nmae  # type: ignore[no-any-return]

    assert "test_promise_select.py" in str(e.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda r: r.inner.xs["0"], r"list\[int\] is indexed by an int, not str"),
        (lambda r: r.scores[1], r"is indexed by str, not int"),
        (lambda r: r.name.upper, r"has type str, which has no fields"),
        (lambda r: r.name[0], r"str, which cannot be indexed"),
    ],
)
def test_wrong_access_is_a_definition_error(body: typing.Any, message: str) -> None:
    with pytest.raises(BindingTypeError, match=message):

        @af.workflow
        def bad() -> str:
            return body(make(n=1))  # type: ignore[no-any-return]


def test_tuple_index_out_of_range_and_promise_index() -> None:
    with pytest.raises(BindingTypeError, match="index 2 out of range: it has 2 outputs"):

        @af.workflow
        def far() -> str:
            return model().sizes[2]  # type: ignore[no-any-return]

    with pytest.raises(PromiseMisuseError, match="indexing with a promise"):

        @af.workflow
        def by_promise(i: int) -> int:
            return make(n=1).inner.xs[i]  # type: ignore[no-any-return]


def test_a_worker_without_the_workflow_rebuilds_the_select_from_its_spec() -> None:
    (node,) = [n for n in whole_field.spec.nodes if n.task and "select_make_inner_" in n.task.name]
    spec = node.task
    assert isinstance(spec, TaskSpec) and spec.qualname.startswith(SELECT_PREFIX)
    assert load_task(spec) is not None
    rebuilt = select_task_from_spec(
        TaskSpec(**{**{f: getattr(spec, f) for f in spec.__struct_fields__}, "module": "gone"})
    )
    fn = rebuilt.__airfoil_fn__
    stand_in = rebuilt.py_interface.input_types["value"]
    assert fn(stand_in(name="a", inner=Inner(xs=[1]), scores={})) == Inner(xs=[1])


def test_select_task_names_are_names_a_server_accepts() -> None:
    import re

    names = [n.task.name for n in nested.spec.nodes if n.task is not None]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", name) for name in names), names
