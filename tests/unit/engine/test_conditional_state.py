"""Conditionals in the pure run state machine: a case whose output is a promise produced
outside the case (issue 12's blocker: examples/control_flow.py ``reviewed``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import Value
from airfoil.engine import state as sm

pytestmark = pytest.mark.unit


@af.task
def numbers(n: int) -> list[int]:
    return list(range(n))


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.workflow
def reviewed(n: int = 5) -> int:
    threshold = af.wait_for_input("threshold", timeout=timedelta(hours=1), expected_type=float)
    result = total(xs=numbers(n=n))
    approved = af.approve(result, "ship", timeout=timedelta(hours=1))
    return af.conditional("over").if_(threshold < 100.0).then(approved).else_().then(0)


def start() -> tuple[sm.RunState, dict[str, str]]:
    state = new_state(reviewed.spec, n=5)
    by_label = {}
    for nid, fn in state.graph.items():
        label = fn.gate.name if fn.gate is not None else (fn.task.qualname if fn.task else fn.kind)
        by_label[label] = nid
    return state, by_label


def run_task(state: sm.RunState, nid: str, out: Value, now: float) -> list[sm.Command]:
    cmds = state.handle(sm.Admit(nid, now))
    assert cmds == [sm.StartAttempt(nid, 1, dict(state.records[nid].inputs or {}))]
    return state.handle(sm.AttemptFinished(nid, 1, {"o0": out}, None, now, now + 1))


def test_case_returning_an_outside_promise_waits_for_its_producer() -> None:
    state, ids = start()
    g_threshold, g_ship, branch = ids["threshold"], ids["ship"], ids["branch"]
    first = state.handle(sm.Start(1.0))
    assert sm.Enqueue(ids["numbers"]) in first
    assert sm.WatchSignal(g_threshold, "threshold") in first
    assert run_task(state, ids["numbers"], jv([0, 1, 2, 3, 4]), 2.0) == [sm.Enqueue(ids["total"])]
    assert run_task(state, ids["total"], jv(10), 3.0) == [
        sm.ScheduleRetry(g_ship, 4.0 + 3600.0),
        sm.WatchSignal(g_ship, "ship"),
    ]
    # The threshold arrives first (the order the example's docstring gives): the case is
    # taken, but its output (the approval) is not there yet: nothing to do, no KeyError.
    assert state.handle(sm.SignalReceived(g_threshold, jv(3.5), 4.0)) == []
    assert state.records[branch].phase == "running"
    assert state.records[branch].branch_taken == 0
    assert state.execution.phase == "running"
    # The approval ends the approve gate, then the conditional, then the execution.
    assert state.handle(sm.SignalReceived(g_ship, jv(True), 5.0)) == [
        sm.Finished(ExecutionPhase.SUCCEEDED)
    ]
    assert state.records[branch].phase == "succeeded"
    assert state.execution.outputs == {"o0": jv(10)}


def test_case_whose_outside_producer_fails_fails_the_conditional() -> None:
    state, ids = start()
    state.handle(sm.Start(1.0))
    run_task(state, ids["numbers"], jv([1]), 2.0)
    run_task(state, ids["total"], jv(1), 3.0)
    state.handle(sm.SignalReceived(ids["threshold"], jv(3.5), 4.0))
    cmds = state.handle(sm.SignalReceived(ids["ship"], jv(False), 5.0))
    assert cmds == [sm.Finished(ExecutionPhase.FAILED)]
    assert state.records[ids["ship"]].phase == "failed"
    assert state.records[ids["branch"]].phase in ("failed", "aborted")
    assert state.execution.error is not None
    assert state.execution.error.type == "GateRejectedError"
