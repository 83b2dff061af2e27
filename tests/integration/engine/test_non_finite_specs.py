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


# Finite, but past what the clock calls take: time.sleep, signal.setitimer and thread waits
# overflow past 2**63 ns (about 292 years).
_TOO_LONG = [1e10, "1e10", "200000d", 10**400]


@pytest.mark.parametrize("bad", _TOO_LONG)
def test_a_duration_longer_than_the_clock_can_wait_is_refused_naming_the_limit(bad: Any) -> None:
    # Before: `timeout=1e10` was defined and every attempt then failed as a *user* error
    # "OverflowError: timestamp out of range for platform time_t" (inline and process);
    # `af.sleep(1e10)` crashed `airfoil run` with an Airfoil traceback, leaving the execution
    # interrupted, and every resume crashed again; `timeout=10**400` failed at import with a
    # bare OverflowError.
    with pytest.raises(DefinitionError, match="at most 100 years"):

        @af.task(timeout=bad)
        def slow() -> int:
            return 1

        slow.spec  # noqa: B018

    with pytest.raises(DefinitionError, match="at most 100 years"):

        @af.workflow
        def napping() -> int:
            return af.sleep(bad) >> one()

    with pytest.raises(DefinitionError, match="at most 100 years"):

        @af.workflow
        def waiting() -> float:
            return af.wait_for_input("v", timeout=bad, expected_type=float)

    with pytest.raises(DefinitionError, match="at most 100 years"):

        @af.workflow
        def overridden() -> int:
            return one().with_overrides(timeout=bad)


def test_the_longest_timeout_allowed_runs_its_task() -> None:
    from airfoil.core.resources import MAX_DURATION_S

    @af.task(timeout=MAX_DURATION_S)
    def patient() -> int:
        return 7

    @af.workflow
    def flow() -> int:
        return patient()

    assert flow() == 7
