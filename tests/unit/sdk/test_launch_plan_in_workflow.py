"""A launch plan called inside a workflow body is a node of that workflow (it used to run a
real execution while the workflow was defined and bake its result in as a constant)."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError

CALLS: list[int] = []


@af.task
def power(base: int, exp: int) -> int:
    CALLS.append(base)
    return base**exp


@af.workflow
def pow_wf(base: int, exp: int = 2) -> int:
    return power(base=base, exp=exp)


@af.task
def note(text: str) -> None:
    CALLS.append(len(text))


@af.workflow
def note_wf(text: str) -> None:
    note(text=text)


cubes = af.LaunchPlan.get_or_create(pow_wf, "lp_in_wf_cubes", fixed_inputs={"exp": 3})
hello = af.LaunchPlan.get_or_create(note_wf, "lp_in_wf_hello", default_inputs={"text": "hi"})
bye = af.LaunchPlan.get_or_create(note_wf, "lp_in_wf_bye", default_inputs={"text": "bye!"})


def test_a_plan_in_a_workflow_is_a_node_and_runs_with_the_workflow() -> None:
    CALLS.clear()

    @af.workflow
    def outer(x: int) -> int:
        return power(base=cubes(base=x), exp=1)

    assert CALLS == []  # defining the workflow ran nothing
    first = outer.spec.nodes[0]
    assert first.kind == "workflow" and first.label == "lp_in_wf_cubes"
    assert outer(x=2) == 8
    assert outer(x=3) == 27  # not a constant baked in at definition time


def test_plans_without_outputs_are_ordered_with_rshift() -> None:
    CALLS.clear()

    @af.workflow
    def both() -> None:
        a = hello()
        b = bye()
        a >> b

    assert CALLS == []
    first, second = both.spec.nodes
    assert first.id in second.upstream
    both()
    assert CALLS == [2, 4]


def test_a_fixed_input_cannot_be_given_in_a_workflow() -> None:
    with pytest.raises(DefinitionError, match="fixes input"):

        @af.workflow
        def bad(x: int) -> int:
            return cubes(base=x, exp=4)
