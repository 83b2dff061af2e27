"""A conditional whose cases do not all produce a value runs for its cases' effects (as in
flytekit); its result is then nothing, and binding it is refused where it is bound."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.core.errors import BindingTypeError


@af.task
def area(r: float) -> float:
    return 3.0 * r * r


@af.task
def noop() -> None:
    return None


@af.task
def show(x: float) -> str:
    return str(x)


@af.workflow
def effects(r: float, big: bool) -> None:
    af.conditional("pick").if_(big.is_true()).then(area(r=r)).else_().then(noop())


def test_mixed_cases_run_for_their_effects() -> None:
    assert effects(r=2.0, big=True) is None
    assert effects(r=2.0, big=False) is None
    (branch,) = [n for n in effects.spec.nodes if n.kind == "branch"]
    assert all(not case.outputs for case in branch.cases)


def test_using_the_result_of_mixed_cases_is_refused() -> None:
    with pytest.raises(BindingTypeError, match=r"input 'x' of .*show"):

        @af.workflow
        def uses(r: float, big: bool) -> str:
            out = af.conditional("pick").if_(big.is_true()).then(area(r=r)).else_().then(noop())
            return show(x=out)
