"""Durations and CPUs that JSON cannot hold (NaN, infinity) are refused when a task or
workflow is defined: a spec holding one was stored with a null in its place, and could then
no longer be read back, by the run itself or by any listing of the store's executions."""

from __future__ import annotations

from typing import Any

import pytest

import airfoil as af
from airfoil.core.errors import ConfigError, DefinitionError

pytestmark = pytest.mark.integration


@af.task
def one() -> int:
    return 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "nan", "inf", "1e400"])
def test_a_gate_duration_that_json_cannot_hold_is_refused(bad: Any) -> None:
    # Before: defined; its run failed with "msgspec.ValidationError: Expected `float`, got
    # `null` - at `$.nodes[0].gate.duration_s`", and `airfoil executions list` with it.
    with pytest.raises(DefinitionError, match="must be a finite number of seconds"):

        @af.workflow
        def napping() -> int:
            return af.sleep(bad) >> one()

    with pytest.raises(DefinitionError, match="must be a finite number of seconds"):

        @af.workflow
        def waiting() -> float:
            return af.wait_for_input("v", timeout=bad, expected_type=float)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "nan"])
def test_a_task_timeout_or_cpu_that_json_cannot_hold_is_refused(bad: Any) -> None:
    with pytest.raises((ConfigError, DefinitionError), match="finite"):

        @af.task(timeout=bad)
        def slow() -> int:
            return 1

        slow.spec  # noqa: B018 - the spec is built on first use

    with pytest.raises((ConfigError, DefinitionError), match="finite"):

        @af.task(requests=af.Resources(cpu=bad))
        def hungry() -> int:
            return 1

        hungry.spec  # noqa: B018


def test_a_run_with_finite_values_is_stored_and_listed() -> None:
    @af.workflow
    def fine() -> int:
        return af.sleep(0.01) >> one()

    assert fine() == 1
    from airfoil.local import get_runtime

    assert [e.phase for e in get_runtime().meta.list_executions(limit=5)] == ["succeeded"]
