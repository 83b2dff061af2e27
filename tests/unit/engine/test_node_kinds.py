"""Each node kind in the pure run state machine: events in, exact commands out.

Specs are built with the SDK (pure: nothing runs); the tests feed the events a driver would
(admissions, attempt results, signals, timers) and check the exact commands and records.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.collections import NULL_VALUE, list_value
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    GRAPH_FORMAT,
    AttemptRecord,
    Binding,
    ErrorInfo,
    Value,
)
from airfoil.engine import state as sm
from airfoil.engine._commands import DRIVER_LOST

pytestmark = pytest.mark.unit

SUCCEEDED = sm.Finished(ExecutionPhase.SUCCEEDED)
FAILED = sm.Finished(ExecutionPhase.FAILED)


def ok(nid: str, attempt: int, out: Any, now: float) -> sm.AttemptFinished:
    return sm.AttemptFinished(nid, attempt, {"o0": jv(out)}, None, now - 0.5, now)


def err(nid: str, attempt: int, now: float, kind: str = "user") -> sm.AttemptFinished:
    error = ErrorInfo(kind=kind, type="ValueError", message="boom")
    return sm.AttemptFinished(nid, attempt, None, error, now - 0.5, now)


def start(state: sm.RunState, nid: str, now: float, attempt: int = 1) -> None:
    """Admit a queued node: exactly its attempt starts, with its resolved inputs."""
    inputs = state.records[nid].inputs if "[" not in nid else None
    cmds = state.handle(sm.Admit(nid, now))
    assert len(cmds) == 1 and isinstance(cmds[0], sm.StartAttempt)
    assert (cmds[0].node_id, cmds[0].attempt) == (nid, attempt)
    if inputs is not None:
        assert cmds[0].inputs == inputs


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def double(x: int) -> int:
    return 2 * x


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.task(retries=1)
def fragile(x: int) -> int:
    return x


@af.task
def report(error: af.FailureInfo) -> None:
    return None


@af.workflow
def inner(x: int) -> int:
    return double(x=inc(x=x))


@af.workflow
def outer(x: int = 1) -> int:
    return inc(x=inner(x=x))


def test_task_node() -> None:
    @af.workflow
    def one(x: int = 1) -> int:
        return inc(x=x)

    state = new_state(one.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    assert state.records["n0"].phase == "queued"
    start(state, "n0", 2.0)
    assert state.records["n0"].phase == "running"
    assert state.handle(ok("n0", 1, 2, 3.0)) == [SUCCEEDED]
    assert state.execution.outputs == {"o0": jv(2)}
    assert state.attempts[("n0", 1)].phase == "succeeded"


def test_subworkflow_node_runs_its_children_and_takes_their_outputs() -> None:
    state = new_state(outer.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0.n0")]
    start(state, "n0.n0", 2.0)
    assert state.records["n0"].phase == "running"  # a child started
    assert state.handle(ok("n0.n0", 1, 2, 3.0)) == [sm.Enqueue("n0.n1")]
    start(state, "n0.n1", 4.0)
    # The subworkflow ends with its last child and hands its output on.
    assert state.handle(ok("n0.n1", 1, 4, 5.0)) == [sm.Enqueue("n1")]
    assert state.records["n0"].phase == "succeeded"
    assert state.records["n0"].outputs == {"o0": jv(4)}
    assert state.records["n1"].inputs == {"x": jv(4)}


def test_subworkflow_child_failure_fails_the_subworkflow_and_the_execution() -> None:
    state = new_state(outer.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0.n0", 2.0)
    assert state.handle(err("n0.n0", 1, 3.0)) == [FAILED]
    assert state.records["n0"].phase == "failed"
    assert state.records["n0"].error == state.records["n0.n0"].error
    assert state.records["n1"].phase == "aborted"


def test_branch_node_takes_one_case_and_skips_the_others() -> None:
    @af.workflow
    def pick(x: int = 5) -> int:
        return af.conditional("big").if_(x > 3).then(double(x=x)).else_().then(inc(x=x))

    state = new_state(pick.spec, x=5)
    branch = next(nid for nid, fn in state.graph.items() if fn.kind == "branch")
    taken, skipped = (
        state.graph[branch].cases[0].children[0],
        state.graph[branch].cases[1].children[0],
    )
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue(taken)]
    assert state.records[branch].branch_taken == 0
    assert state.records[skipped].phase == "skipped"
    start(state, taken, 2.0)
    assert state.handle(ok(taken, 1, 10, 3.0)) == [SUCCEEDED]
    assert state.records[branch].outputs == {"o0": jv(10)}
    assert state.execution.outputs == {"o0": jv(10)}


def test_map_node_runs_items_in_its_window_then_reduces() -> None:
    @af.workflow
    def mapped(xs: list[int]) -> int:
        return total(xs=af.map_task(double, concurrency=2)(x=xs))

    state = new_state(mapped.spec, xs=[1, 2, 3])
    first = state.handle(sm.Start(1.0))
    assert len(first) == 1 and isinstance(first[0], sm.ExpandMap)
    assert first[0].mapped == ("x",)
    items = [{"x": jv(i)} for i in (1, 2, 3)]
    # Two items at once (concurrency=2), the third when one ends.
    assert state.handle(sm.MapExpanded("n0", items, "", 2.0)) == [
        sm.Enqueue("n0[0]"),
        sm.Enqueue("n0[1]"),
    ]
    start(state, "n0[0]", 3.0)
    start(state, "n0[1]", 3.0)
    assert state.handle(ok("n0[0]", 1, 2, 4.0)) == [sm.Enqueue("n0[2]")]
    assert state.handle(ok("n0[1]", 1, 4, 4.5)) == []
    start(state, "n0[2]", 5.0)
    assert state.handle(ok("n0[2]", 1, 6, 6.0)) == [sm.Enqueue("n1")]
    assert state.records["n0"].phase == "succeeded"
    assert state.records["n1"].inputs == {"xs": list_value([jv(2), jv(4), jv(6)])}
    batch = state.take_batch()
    assert {n.node_id: n.map_counts for n in batch.nodes if n.node_id == "n0"} == {
        "n0": {"succeeded": 3}
    }


def test_map_partial_failure_within_min_success_ratio_and_item_retries() -> None:
    @af.workflow
    def lenient(xs: list[int]) -> list[int | None]:
        return af.map_task(fragile, min_success_ratio=0.5)(x=xs)

    state = new_state(lenient.spec, xs=[1, 2])
    state.handle(sm.Start(1.0))
    items = [{"x": jv(1)}, {"x": jv(2)}]
    assert state.handle(sm.MapExpanded("n0", items, "", 2.0)) == [
        sm.Enqueue("n0[0]"),
        sm.Enqueue("n0[1]"),
    ]
    start(state, "n0[0]", 3.0)
    start(state, "n0[1]", 3.0)
    # Item 1 fails: one retry (retries=1) after the backoff, then it fails for good.
    (retry,) = state.handle(err("n0[1]", 1, 4.0))
    assert isinstance(retry, sm.ScheduleRetry) and retry.node_id == "n0[1]"
    assert state.handle(sm.RetryDue("n0[1]", retry.at)) == [sm.Enqueue("n0[1]")]
    start(state, "n0[1]", 5.0, attempt=2)
    assert state.handle(err("n0[1]", 2, 6.0)) == []
    # Half the items succeeded: enough. The failed item's output is None.
    assert state.handle(ok("n0[0]", 1, 1, 7.0)) == [SUCCEEDED]
    assert state.execution.outputs == {"o0": list_value([jv(1), NULL_VALUE])}


def test_map_below_min_success_ratio_fails_the_node() -> None:
    @af.workflow
    def strict(xs: list[int]) -> list[int]:
        return af.map_task(double)(x=xs)

    state = new_state(strict.spec, xs=[1, 2, 3])
    state.handle(sm.Start(1.0))
    state.handle(sm.MapExpanded("n0", [{"x": jv(i)} for i in (1, 2, 3)], "", 2.0))
    for i in range(3):
        start(state, f"n0[{i}]", 3.0)
    # min_success_ratio 1: the first item failure fails the map and cancels the rest.
    cmds = state.handle(err("n0[1]", 1, 4.0))
    assert cmds == [sm.CancelAttempt("n0[0]"), sm.CancelAttempt("n0[2]"), FAILED]
    assert state.records["n0"].error is not None
    assert state.records["n0"].error.message.startswith("1 of 3 items failed")


def test_map_resume_replays_finished_items_and_does_not_charge_a_driver_loss() -> None:
    @af.workflow
    def strict(xs: list[int]) -> list[int]:
        return af.map_task(double)(x=xs)

    spec = strict.spec
    state = new_state(spec, xs=[1, 2, 3])
    state.handle(sm.Start(1.0))
    state.handle(sm.MapExpanded("n0", [{"x": jv(i)} for i in (1, 2, 3)], "", 2.0))
    record, nodes = state.execution, dict(state.records)
    history = {
        ("n0[0]", 1): AttemptRecord(
            execution_id="e1",
            node_id="n0[0]",
            attempt=1,
            phase="succeeded",
            started_at=3.0,
            ended_at=4.0,
            outputs={"o0": jv(2)},
        ),
        ("n0[1]", 1): AttemptRecord(
            execution_id="e1", node_id="n0[1]", attempt=1, phase="running", started_at=4.0
        ),
    }
    resumed = sm.RunState(record, nodes, history)
    first = resumed.handle(sm.Start(10.0))
    assert len(first) == 1 and isinstance(first[0], sm.ExpandMap)
    # Item 0 finished before the crash: not run again. Item 1 was running: lost, run again
    # (free: the first loss in a row), and item 2 never started.
    cmds = resumed.handle(sm.MapExpanded("n0", [{"x": jv(i)} for i in (1, 2, 3)], "", 11.0))
    assert cmds == [sm.Enqueue("n0[1]"), sm.Enqueue("n0[2]")]
    lost = next(a for a in resumed.take_batch().attempts if a.node_id == "n0[1]")
    assert lost.phase == "lost" and lost.error is not None and lost.error.type == DRIVER_LOST
    start(resumed, "n0[1]", 12.0, attempt=2)


def test_sleep_gate_waits_for_its_timer() -> None:
    @af.workflow
    def napping(x: int = 1) -> int:
        nap = af.sleep(timedelta(seconds=5))
        out = inc(x=x)
        nap >> out
        return out

    state = new_state(napping.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.ScheduleRetry("n0", 6.0)]
    assert state.records["n0"].phase == "running"
    assert state.handle(sm.RetryDue("n0", 6.0)) == [sm.Enqueue("n1")]
    assert state.records["n0"].phase == "succeeded"


def test_approve_gate_rejected_fails_the_execution() -> None:
    @af.workflow
    def shipping(x: int = 1) -> int:
        return af.approve(inc(x=x), "ship", timeout=timedelta(seconds=60))

    state = new_state(shipping.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    start(state, "n0", 2.0)
    assert state.handle(ok("n0", 1, 2, 3.0)) == [
        sm.ScheduleRetry("n1", 63.0),
        sm.WatchSignal("n1", "ship"),
    ]
    assert state.handle(sm.SignalReceived("n1", jv(False), 4.0)) == [FAILED]
    assert state.records["n1"].error is not None
    assert state.records["n1"].error.type == "GateRejectedError"


def test_input_gate_times_out() -> None:
    @af.workflow
    def asking() -> float:
        return af.wait_for_input("t", timeout=timedelta(seconds=30), expected_type=float)

    state = new_state(asking.spec)
    assert state.handle(sm.Start(1.0)) == [sm.ScheduleRetry("n0", 31.0), sm.WatchSignal("n0", "t")]
    assert state.handle(sm.RetryDue("n0", 31.0)) == [FAILED]
    assert state.records["n0"].error is not None
    assert state.records["n0"].error.type == "GateTimeoutError"


@af.dynamic
def twice(x: int) -> int:
    return double(x=inc(x=x))


def test_dynamic_node_runs_the_graph_its_body_built() -> None:
    @af.workflow
    def dyn(x: int = 2) -> int:
        return twice(x=x)

    state = new_state(dyn.spec, x=2)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    start(state, "n0", 2.0)
    # The body ran (with real values) and returned its graph, inc(2) then double: it runs
    # as n0's children.
    spec = inner.spec
    first_node = msgspec.structs.replace(
        spec.nodes[0], inputs={"x": Binding("literal", value=jv(2))}
    )
    built = msgspec.structs.replace(spec, nodes=(first_node, *spec.nodes[1:]))
    payload = msgspec.json.encode(built)
    graph = Value(hash="g", format=GRAPH_FORMAT, inline=payload, size=len(payload))
    cmds = state.handle(sm.AttemptFinished("n0", 1, {"__dynamic__": graph}, None, 2.0, 3.0))
    assert cmds == [sm.Enqueue("n0.n0")]
    assert state.records["n0"].phase == "running"
    assert state.records["n0.n0"].inputs == {"x": jv(2)}
    start(state, "n0.n0", 4.0)
    assert state.handle(ok("n0.n0", 1, 3, 5.0)) == [sm.Enqueue("n0.n1")]
    start(state, "n0.n1", 6.0)
    assert state.handle(ok("n0.n1", 1, 6, 7.0)) == [SUCCEEDED]
    assert state.records["n0"].outputs == {"o0": jv(6)}
    assert state.execution.outputs == {"o0": jv(6)}


def test_child_call_becomes_a_child_node_of_its_caller() -> None:
    @af.workflow
    def one(x: int = 1) -> int:
        return inc(x=x)

    state = new_state(one.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    child = "n0.call0-abc"
    called = sm.ChildCalled("n0", child, double.spec, {"x": jv(5)}, 3.0)
    assert state.handle(called) == [sm.Enqueue(child)]
    assert state.records[child].kind == "child" and state.records[child].parent == "n0"
    start(state, child, 4.0)
    assert state.handle(ok(child, 1, 10, 5.0)) == []  # the caller is told, not the graph
    assert state.records[child].outputs == {"o0": jv(10)}
    # A failed child does not fail the execution: its caller gets the error and decides.
    assert state.handle(ok("n0", 1, 11, 6.0)) == [SUCCEEDED]


def test_on_failure_handler_runs_with_the_failure() -> None:
    @af.workflow(on_failure=report)
    def guarded(x: int = 1) -> int:
        return inc(x=x)

    state = new_state(guarded.spec, x=1)
    assert state.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    start(state, "n0", 2.0)
    assert state.handle(err("n0", 1, 3.0)) == [sm.Enqueue("on_failure")]
    failure = msgspec.json.decode(state.records["on_failure"].inputs["error"].inline or b"")
    assert failure["node_id"] == "n0" and failure["message"] == "boom"
    assert state.execution.phase == "running"
    start(state, "on_failure", 4.0)
    assert state.handle(ok("on_failure", 1, None, 5.0)) == [FAILED]
    assert state.records["on_failure"].phase == "succeeded"
    assert state.execution.error is not None and state.execution.error.message == "boom"


def test_task_lost_with_its_driver_twice_in_a_row_uses_its_system_retries() -> None:
    @af.task(system_retries=0)
    def killer(x: int) -> int:
        return x

    @af.workflow
    def risky(x: int = 1) -> int:
        return killer(x=x)

    state = new_state(risky.spec, x=1)
    state.handle(sm.Start(1.0))
    start(state, "n0", 2.0)
    record, nodes, atts = state.execution, dict(state.records), dict(state.attempts)
    # First resume: the loss is free (a driver can die for reasons of its own).
    again = sm.RunState(record, nodes, atts)
    assert again.handle(sm.Start(3.0)) == [sm.Enqueue("n0")]
    start(again, "n0", 4.0, attempt=2)
    # Second resume: lost again, in a row: a system error; no system retries left.
    third = sm.RunState(again.execution, dict(again.records), dict(again.attempts))
    assert third.handle(sm.Start(5.0)) == [FAILED]
    error = third.records["n0"].error
    assert error is not None and error.type == DRIVER_LOST
    assert "2 times in a row" in error.message
