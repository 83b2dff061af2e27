"""Workflows built step by step (ImperativeWorkflow) and create_node in a workflow body."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.core.errors import BindingTypeError, DefinitionError


@af.task
def square(x: int) -> int:
    return x * x


@af.task
def add(a: int, b: int) -> int:
    return a + b


@af.task
def label(n: int) -> str:
    return f"n={n}"


def build() -> af.ImperativeWorkflow:
    wb = af.ImperativeWorkflow(name="pipeline")
    n = wb.add_workflow_input("n", int)
    first = wb.add_entity(square, x=n)
    total = wb.add_entity(add, a=first.outputs["o0"], b=n)
    wb.add_workflow_output("total", total.o0)
    wb.add_workflow_output("text", wb.add_entity(label, n=total.o0).o0)
    return wb


def test_a_built_workflow_runs_and_is_typed() -> None:
    wb = build()
    result = wb(n=3)
    assert (result.total, result.text) == (12, "n=12")
    outputs = {p.name: str(p.type) for p in wb.interface.outputs}
    assert outputs == {"total": "int", "text": "str"}
    assert [ns.id for ns in wb.spec.nodes] == ["n0", "n1", "n2"]
    with pytest.raises(DefinitionError, match="already used"):
        wb.add_workflow_input("late", int)


def test_one_output_is_the_value_and_it_nests_in_a_workflow() -> None:
    wb = af.ImperativeWorkflow(name="single")
    wb.add_workflow_output("sq", wb.add_entity(square, x=wb.add_workflow_input("x", int)).o0)

    @af.workflow
    def outer(x: int = 4) -> int:
        return add(a=wb(x=x), b=1)

    assert wb(x=5) == 25
    assert outer() == 17


def test_wiring_mistakes_are_definition_errors() -> None:
    wb = af.ImperativeWorkflow(name="bad")
    text = wb.add_workflow_input("text", str)
    wb.add_entity(square, x=text)
    with pytest.raises(BindingTypeError, match=r"input 'x' of .*square expects int"):
        wb.spec  # noqa: B018 - building it checks the bindings
    with pytest.raises(DefinitionError, match="needs a name"):
        af.ImperativeWorkflow(name="")
    with pytest.raises(DefinitionError, match="python_type="):
        af.ImperativeWorkflow(name="x").add_workflow_output("o", 3)


def test_create_node_gives_outputs_and_order() -> None:
    @af.workflow
    def ordered(x: int = 2) -> int:
        a = af.create_node(square, x=x)
        b = af.create_node(add, a=a.o0, b=a.outputs["o0"])
        c = af.create_node(label, n=x)
        c >> a
        return b.o0

    assert ordered() == 8
    by_id = {ns.id: ns for ns in ordered.spec.nodes}
    assert "n2" in by_id["n0"].upstream
    with pytest.raises(DefinitionError, match="inside a @workflow body"):
        af.create_node(square, x=1)


@af.task
def fragile(x: int) -> int:
    if x > 1:
        raise ValueError("too big")
    return x


CLEANED: list[str] = []


@af.task
def cleanup(x: int, error: af.FailureInfo) -> None:
    CLEANED.append(f"{x}: {error.message}")


def test_an_imperative_workflow_runs_its_failure_handler() -> None:
    wb = af.ImperativeWorkflow(name="guarded")
    wb.add_workflow_output("out", wb.add_entity(fragile, x=wb.add_workflow_input("x", int)).o0)
    wb.add_on_failure_handler(cleanup)
    assert wb(x=1) == 1
    with pytest.raises(af.ExecutionFailedError, match="too big"):
        wb(x=2)
    assert CLEANED == ["2: too big"]
