"""Workflows called by running tasks, in the pure run state machine: the call is a child
node of the caller whose children are the workflow's nodes (events in, exact commands out).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import ErrorInfo
from airfoil.engine import state as sm

pytestmark = pytest.mark.unit

SUCCEEDED = sm.Finished(ExecutionPhase.SUCCEEDED)
FAILED = sm.Finished(ExecutionPhase.FAILED)
ABORTED = sm.Finished(ExecutionPhase.ABORTED)
CHILD = "n0.call1-abc"


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def add(a: int, b: int) -> int:
    return a + b


@af.workflow
def fan(x: int) -> int:
    return add(a=inc(x=x), b=inc(x=x))


@af.workflow
def one(x: int = 1) -> int:
    return inc(x=x)


@af.workflow
def two(x: int = 1) -> tuple[int, int]:
    return inc(x=x), inc(x=x)


def ok(nid: str, attempt: int, out: Any, now: float) -> sm.AttemptFinished:
    return sm.AttemptFinished(nid, attempt, {"o0": jv(out)}, None, now - 0.5, now)


def err(nid: str, attempt: int, now: float) -> sm.AttemptFinished:
    error = ErrorInfo(kind="user", type="mod.TooBigError", message="too big")
    return sm.AttemptFinished(nid, attempt, None, error, now - 0.5, now)


def start(state: sm.RunState, nid: str, now: float, attempt: int = 1) -> None:
    cmds = state.handle(sm.Admit(nid, now))
    assert len(cmds) == 1 and isinstance(cmds[0], sm.StartAttempt)
    assert (cmds[0].node_id, cmds[0].attempt) == (nid, attempt)


def called(x: int, now: float) -> sm.ChildCalled:
    return sm.ChildCalled("n0", CHILD, None, {"x": jv(x)}, now, workflow=fan.spec)


def running_caller() -> sm.RunState:
    state = new_state(one.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    return state


def test_a_called_workflow_runs_its_nodes_as_children_of_the_call() -> None:
    state = running_caller()
    cmds = state.handle(called(5, 3.0))
    assert cmds == [sm.Enqueue(f"{CHILD}.n0"), sm.Enqueue(f"{CHILD}.n1")]
    rec = state.records[CHILD]
    assert (rec.kind, rec.parent, rec.phase) == ("child", "n0", "running")
    assert rec.task == fan.spec.name and rec.dynamic_spec == fan.spec
    assert state.records[f"{CHILD}.n0"].parent == CHILD
    start(state, f"{CHILD}.n0", 4.0)
    assert state.records[f"{CHILD}.n0"].inputs == {"x": jv(5)}, "the given input is bound"
    assert state.handle(ok(f"{CHILD}.n0", 1, 6, 5.0)) == []
    start(state, f"{CHILD}.n1", 6.0)
    assert state.handle(ok(f"{CHILD}.n1", 1, 6, 7.0)) == [sm.Enqueue(f"{CHILD}.n2")]
    start(state, f"{CHILD}.n2", 8.0)
    assert state.handle(ok(f"{CHILD}.n2", 1, 12, 9.0)) == [], "the caller is told, not the run"
    assert state.records[CHILD].phase == "succeeded"
    assert state.records[CHILD].outputs == {"o0": jv(12)}
    assert state.records[CHILD].inputs == {"x": jv(5)}
    assert state.handle(ok("n0", 1, 13, 10.0)) == [SUCCEEDED]


def test_a_failure_in_a_called_workflow_stops_it_and_goes_to_the_caller() -> None:
    state = running_caller()
    state.handle(called(500, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    start(state, f"{CHILD}.n1", 4.5)
    cmds = state.handle(err(f"{CHILD}.n0", 1, 5.0))
    assert cmds == [sm.CancelAttempt(f"{CHILD}.n1")], "the rest of the called graph stops"
    assert state.records[CHILD].phase == "failed"
    assert state.records[CHILD].error is not None
    assert state.records[CHILD].error.type == "mod.TooBigError"
    assert state.records[f"{CHILD}.n1"].phase == "aborted"
    assert state.records[f"{CHILD}.n2"].phase == "aborted"
    assert state.execution.phase == "running", "the caller decides, not the execution"
    assert state.handle(ok("n0", 1, -1, 6.0)) == [SUCCEEDED], "a caught failure"


def test_aborting_the_run_cancels_the_called_workflows_attempts() -> None:
    state = running_caller()
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    cmds = state.handle(sm.Abort("user asked", 5.0))
    assert set(cmds) == {sm.CancelAttempt("n0"), sm.CancelAttempt(f"{CHILD}.n0"), ABORTED}
    assert state.records[CHILD].phase == "aborted"
    assert {state.records[f"{CHILD}.n{i}"].phase for i in range(3)} == {"aborted"}
    assert state.attempts[(f"{CHILD}.n0", 1)].phase == "aborted"


def test_a_called_workflow_called_again_after_a_crash_keeps_what_succeeded() -> None:
    state = running_caller()
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    start(state, f"{CHILD}.n1", 4.5)
    state.handle(ok(f"{CHILD}.n0", 1, 6, 5.0))
    # The driver dies here; a new one starts from the stored records.
    records = copy.deepcopy(state.records)
    attempts = copy.deepcopy(state.attempts)
    resumed = sm.RunState(copy.deepcopy(state.execution), records, attempts, state.seq)
    assert CHILD not in resumed.graph, "a called graph is known once it is called again"
    cmds = resumed.handle(sm.Start(10.0))
    assert sm.Enqueue("n0") in cmds or resumed.records["n0"].phase == "queued"
    start(resumed, "n0", 11.0, attempt=2)
    # The caller's second attempt makes the same call: only the unfinished node runs again.
    assert resumed.handle(called(5, 12.0)) == [sm.Enqueue(f"{CHILD}.n1")]
    assert resumed.records[f"{CHILD}.n0"].phase == "succeeded"
    assert resumed.attempts[(f"{CHILD}.n1", 1)].phase == "lost"
    start(resumed, f"{CHILD}.n1", 13.0, attempt=2)
    assert resumed.handle(ok(f"{CHILD}.n1", 2, 6, 14.0)) == [sm.Enqueue(f"{CHILD}.n2")]
    start(resumed, f"{CHILD}.n2", 15.0)
    assert resumed.handle(ok(f"{CHILD}.n2", 1, 12, 16.0)) == []
    assert resumed.records[CHILD].phase == "succeeded"
    assert resumed.handle(ok("n0", 2, 13, 17.0)) == [SUCCEEDED]


def test_a_failed_called_workflow_called_again_reruns_only_what_failed() -> None:
    state = running_caller()
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    state.handle(ok(f"{CHILD}.n0", 1, 6, 4.5))
    start(state, f"{CHILD}.n1", 5.0)
    state.handle(err(f"{CHILD}.n1", 1, 6.0))
    assert state.records[CHILD].phase == "failed"
    # the caller's next attempt calls it again
    assert state.handle(called(5, 7.0)) == [sm.Enqueue(f"{CHILD}.n1")]
    assert state.records[CHILD].phase == "running" and state.records[CHILD].error is None
    start(state, f"{CHILD}.n1", 8.0, attempt=2)
    state.handle(ok(f"{CHILD}.n1", 2, 6, 9.0))
    start(state, f"{CHILD}.n2", 10.0)
    assert state.handle(ok(f"{CHILD}.n2", 1, 12, 11.0)) == []
    assert state.records[CHILD].phase == "succeeded"


def test_a_called_workflow_that_only_passes_its_input_on_succeeds_at_once() -> None:
    @af.workflow
    def passthrough(x: int) -> int:
        return x

    state = running_caller()
    ev = sm.ChildCalled("n0", CHILD, None, {"x": jv(3)}, 3.0, workflow=passthrough.spec)
    assert state.handle(ev) == []
    assert state.records[CHILD].phase == "succeeded"
    assert state.records[CHILD].outputs == {"o0": jv(3)}


def test_a_failure_outside_the_called_workflow_stops_it_with_the_run() -> None:
    state = new_state(two.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    start(state, "n1", 2.5)
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    cmds = state.handle(err("n1", 1, 5.0))
    assert set(cmds) == {sm.CancelAttempt("n0"), sm.CancelAttempt(f"{CHILD}.n0"), FAILED}
    assert state.records[CHILD].phase == "aborted"


def test_aborting_a_run_no_driver_holds_stops_its_calls() -> None:
    """A server's terminate aborts a run rebuilt from the store (its driver was interrupted):
    the calls its tasks made are in no graph there, and stayed "running" for ever."""
    state = running_caller()
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    task_call = sm.ChildCalled("n0", "n0.call2-def", inc.spec, {"x": jv(1)}, 4.5)
    state.handle(task_call)
    start(state, "n0.call2-def", 4.6)
    records = copy.deepcopy(state.records)
    attempts = copy.deepcopy(state.attempts)
    rebuilt = sm.RunState(copy.deepcopy(state.execution), records, attempts, state.seq)
    cmds = rebuilt.handle(sm.Abort("terminated", 5.0))
    assert ABORTED in cmds
    for nid in (CHILD, f"{CHILD}.n0", f"{CHILD}.n1", "n0.call2-def"):
        assert rebuilt.records[nid].phase == "aborted", nid
    assert sm.CancelAttempt(f"{CHILD}.n0") in cmds and sm.CancelAttempt("n0.call2-def") in cmds
    assert rebuilt.attempts[(f"{CHILD}.n0", 1)].phase == "aborted"
    assert rebuilt.attempts[("n0.call2-def", 1)].phase == "aborted"


def test_a_caller_that_fails_for_good_stops_the_calls_it_left_running() -> None:
    @af.workflow(failure_policy="finish_what_can_run")
    def lenient(x: int = 1) -> tuple[int, int]:
        return inc(x=x), inc(x=x)

    state = new_state(lenient.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    start(state, "n1", 2.5)
    state.handle(called(5, 3.0))
    start(state, f"{CHILD}.n0", 4.0)
    cmds = state.handle(err("n0", 1, 5.0))  # no retries left: nobody takes the outcome
    assert cmds == [sm.CancelAttempt(f"{CHILD}.n0")]
    assert state.records[CHILD].phase == "aborted"
    assert state.records[f"{CHILD}.n1"].phase == "aborted"
    assert state.execution.phase == "running", "finish_what_can_run: n1 goes on"
    assert state.handle(ok("n1", 1, 2, 6.0)) == [FAILED]


@af.workflow(failure_policy="finish_what_can_run")
def lenient_fan(x: int) -> int:
    return add(a=inc(x=x), b=inc(x=x))


def test_a_called_workflow_keeps_its_own_failure_policy() -> None:
    """finish_what_can_run: a failed node skips what depends on it; its siblings run on;
    the call fails (with that error) once nothing under it runs."""
    state = running_caller()
    ev = sm.ChildCalled("n0", CHILD, None, {"x": jv(5)}, 3.0, workflow=lenient_fan.spec)
    state.handle(ev)
    start(state, f"{CHILD}.n0", 4.0)
    start(state, f"{CHILD}.n1", 4.5)
    assert state.handle(err(f"{CHILD}.n0", 1, 5.0)) == [], "the sibling is not cancelled"
    assert state.records[f"{CHILD}.n2"].phase == "skipped"
    assert state.records[CHILD].phase == "running", "its sibling still runs"
    assert state.handle(ok(f"{CHILD}.n1", 1, 6, 6.0)) == []
    assert state.records[f"{CHILD}.n1"].phase == "succeeded"
    assert state.records[CHILD].phase == "failed"
    assert state.records[CHILD].error is not None
    assert state.records[CHILD].error.type == "mod.TooBigError"
    assert state.handle(ok("n0", 1, -1, 7.0)) == [SUCCEEDED]
