"""A subworkflow's own ``on_failure`` handler, in the pure run state machine: it runs when
that subworkflow fails (before the top-level handler), with the failure inside it; it is
skipped when the subworkflow succeeds; it survives a resume."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import ErrorInfo
from airfoil.engine import state as sm

pytestmark = pytest.mark.unit

SUCCEEDED = sm.Finished(ExecutionPhase.SUCCEEDED)
FAILED = sm.Finished(ExecutionPhase.FAILED)


def ok(nid: str, out: Any, now: float) -> sm.AttemptFinished:
    return sm.AttemptFinished(nid, 1, {"o0": jv(out)} if out is not None else {}, None, 0, now)


def err(nid: str, now: float) -> sm.AttemptFinished:
    error = ErrorInfo(kind="user", type="ValueError", message="boom")
    return sm.AttemptFinished(nid, 1, None, error, now - 0.5, now)


def start(state: sm.RunState, nid: str, now: float) -> None:
    cmds = state.handle(sm.Admit(nid, now))
    assert [type(c) for c in cmds] == [sm.StartAttempt] and cmds[0].node_id == nid


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def inner_cleanup(x: int, error: af.FailureInfo) -> None:
    return None


@af.task
def outer_cleanup(error: af.FailureInfo) -> None:
    return None


@af.workflow(on_failure=inner_cleanup)
def inner(x: int) -> int:
    return inc(x=x)


@af.workflow(on_failure=outer_cleanup)
def outer(x: int = 1) -> int:
    return inner(x=inc(x=x))


@af.workflow(failure_policy="finish_what_can_run")
def plain(x: int = 1) -> int:
    return inner(x=x)


def failure(state: sm.RunState, nid: str) -> dict[str, Any]:
    inputs = state.records[nid].inputs or {}
    return dict(msgspec.json.decode(inputs["error"].inline or b""))


def test_the_subworkflow_handler_runs_first_then_the_top_level_one() -> None:
    state = new_state(outer.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    start(state, "n0", 2.0)
    assert state.handle(ok("n0", 2, 3.0)) == [sm.Enqueue("n1.n0")]
    start(state, "n1.n0", 4.0)
    # The child fails: its subworkflow fails and runs its own handler, with the sub's input.
    assert state.handle(err("n1.n0", 5.0)) == [sm.Enqueue("n1.on_failure")]
    assert state.records["n1"].phase == "failed"
    assert failure(state, "n1.on_failure")["node_id"] == "n1.n0"
    assert state.records["n1.on_failure"].inputs["x"] == jv(2)  # type: ignore[index]
    assert state.records["on_failure"].phase == "pending"
    start(state, "n1.on_failure", 6.0)
    # Once it is done, the top-level handler runs; then the execution fails.
    assert state.handle(ok("n1.on_failure", None, 7.0)) == [sm.Enqueue("on_failure")]
    assert failure(state, "on_failure")["message"] == "boom"
    start(state, "on_failure", 8.0)
    assert state.handle(ok("on_failure", None, 9.0)) == [FAILED]
    assert state.execution.error is not None and state.execution.error.message == "boom"


def test_a_succeeding_subworkflow_skips_its_handler() -> None:
    state = new_state(outer.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    state.handle(ok("n0", 2, 3.0))
    start(state, "n1.n0", 4.0)
    assert state.handle(ok("n1.n0", 3, 5.0)) == [SUCCEEDED]
    assert state.records["n1.on_failure"].phase == "skipped"
    assert state.records["on_failure"].phase == "skipped"
    assert state.execution.outputs == {"o0": jv(3)}


def test_handler_under_the_other_policy_and_after_a_resume() -> None:
    state = new_state(plain.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0.n0", 2.0)
    assert state.handle(err("n0.n0", 3.0)) == [sm.Enqueue("n0.on_failure")]
    # The driver dies here; a new one resumes from the records and finishes the handler.
    again = sm.RunState(state.execution, dict(state.records), dict(state.attempts))
    assert again.handle(sm.Start(4.0)) == [sm.Enqueue("n0.on_failure")]
    assert failure(again, "n0.on_failure")["node_id"] == "n0.n0"
    start(again, "n0.on_failure", 5.0)
    assert again.handle(ok("n0.on_failure", None, 6.0)) == [FAILED]
    assert again.execution.error is not None and again.execution.error.message == "boom"


def test_a_failing_subworkflow_handler_keeps_the_first_error() -> None:
    state = new_state(inner.spec, x=1)  # inner run on its own: its handler is the top one
    assert "on_failure" in state.records
    state = new_state(outer.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    state.handle(ok("n0", 2, 3.0))
    start(state, "n1.n0", 4.0)
    state.handle(err("n1.n0", 5.0))
    start(state, "n1.on_failure", 6.0)
    assert state.handle(err("n1.on_failure", 7.0)) == [sm.Enqueue("on_failure")]
    assert state.execution.error is not None
    assert state.execution.error.message == "boom"
