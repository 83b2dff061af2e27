"""Cause ids in the pure run state machine: every event-log entry names the entry that caused
it (``EventRecord.cause_id``), every command carries the entry it follows from, and an event
produced by carrying a command out (``cause=cmd.cause``, as the driver does) links the next
entries back to it. Events in, exact commands and exact causes out."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from _states import jv, new_state

import airfoil as af
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    CacheEntry,
    ErrorInfo,
    EventRecord,
    Value,
    WorkflowSpec,
)
from airfoil.engine import state as sm

pytestmark = pytest.mark.unit


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task(retries=1)
def fragile(x: int) -> int:
    return x


@af.task(cache=True, cache_version="1")
def cached(x: int) -> int:
    return x


@af.workflow
def chain(x: int = 1) -> int:
    return inc(x=inc(x=x))


class Run:
    """A state machine and the log it wrote so far, fed the way the driver feeds it."""

    def __init__(self, spec: WorkflowSpec, **inputs: object) -> None:
        self.state = new_state(spec, **inputs)
        self.log: dict[int, EventRecord] = {}

    def handle(self, event: sm.Event) -> list[sm.Command]:
        cmds = self.state.handle(event)
        for e in self.state.take_batch().events:
            self.log[e.seq] = e
        return cmds

    def entry(self, node: str, to: str, kind: str = "node") -> EventRecord:
        """The last entry moving ``node`` (or the execution, node "") to ``to``."""
        found = [
            e for e in self.log.values() if (e.node_id, e.to_phase, e.kind) == (node, to, kind)
        ]
        assert found, f"no {kind} entry {node} -> {to}"
        return found[-1]

    def chain_of(self, seq: int) -> list[tuple[str, str, str]]:
        """The entries from ``seq`` back to the stimulus from outside: (kind, node, to)."""
        out = []
        while seq:
            e = self.log[seq]
            out.append((e.kind, e.node_id, e.to_phase))
            assert e.cause_id < e.seq, "a cause comes before what it causes"
            seq = e.cause_id
        return out


def ok(cmd: sm.StartAttempt, out: Any, now: float) -> sm.AttemptFinished:
    """The result of the attempt ``cmd`` started, caused as the driver causes it."""
    return sm.AttemptFinished(
        cmd.node_id, cmd.attempt, {"o0": jv(out)}, None, now - 0.5, now, cause=cmd.cause
    )


def fail(cmd: sm.StartAttempt, now: float) -> sm.AttemptFinished:
    error = ErrorInfo(kind="user", type="ValueError", message="boom")
    n, a = cmd.node_id, cmd.attempt
    return sm.AttemptFinished(n, a, None, error, now - 0.5, now, cause=cmd.cause)


def admit(run: Run, enqueue: sm.Command, now: float) -> sm.StartAttempt:
    assert isinstance(enqueue, sm.Enqueue)
    (cmd,) = run.handle(sm.Admit(enqueue.node_id, now, cause=enqueue.cause))
    assert isinstance(cmd, sm.StartAttempt)
    return cmd


def test_a_nodes_success_names_the_attempt_result_and_its_successor_names_the_success() -> None:
    run = Run(chain.spec, x=1)
    (enq,) = run.handle(sm.Start(1.0))
    started = run.entry("", "running", "execution")
    assert started.cause_id == 0  # the start comes from outside the engine
    queued = run.entry("n0", "queued")
    assert queued.cause_id == started.seq
    assert enq == sm.Enqueue("n0") and enq.cause == queued.seq

    cmd = admit(run, enq, 2.0)
    running = run.entry("n0", "running")
    assert running.cause_id == queued.seq
    assert cmd.cause == running.seq

    (enq1,) = run.handle(ok(cmd, 2, 3.0))
    result = run.entry("n0", "succeeded", "attempt")
    succeeded = run.entry("n0", "succeeded")
    assert result.cause_id == running.seq  # the result of the attempt that entry started
    assert succeeded.cause_id == result.seq  # the node's success names the attempt result
    queued1 = run.entry("n1", "queued")
    assert queued1.cause_id == succeeded.seq  # its successor's inputs are ready because of it
    assert enq1 == sm.Enqueue("n1") and enq1.cause == queued1.seq

    cmd1 = admit(run, enq1, 4.0)
    (fin,) = run.handle(ok(cmd1, 3, 5.0))
    done = run.entry("", "succeeded", "execution")
    assert done.cause_id == run.entry("n1", "succeeded").seq
    assert fin == sm.Finished(ExecutionPhase.SUCCEEDED) and fin.cause == done.seq
    # The whole run is one chain, from the execution's end back to its start.
    assert run.chain_of(done.seq) == [
        ("execution", "", "succeeded"),
        ("node", "n1", "succeeded"),
        ("attempt", "n1", "succeeded"),
        ("node", "n1", "running"),
        ("node", "n1", "queued"),
        ("node", "n0", "succeeded"),
        ("attempt", "n0", "succeeded"),
        ("node", "n0", "running"),
        ("node", "n0", "queued"),
        ("execution", "", "running"),
    ]


def test_a_retrys_queued_entry_names_the_failure() -> None:
    @af.workflow
    def once(x: int = 1) -> int:
        return fragile(x=x)

    run = Run(once.spec, x=1)
    (enq,) = run.handle(sm.Start(1.0))
    cmd = admit(run, enq, 2.0)
    (retry,) = run.handle(fail(cmd, 3.0))
    failure = run.entry("n0", "failed", "attempt")
    retrying = run.entry("n0", "retrying")
    assert failure.cause_id == run.entry("n0", "running").seq
    assert retrying.cause_id == failure.seq  # the retry is decided on the failure
    assert isinstance(retry, sm.ScheduleRetry) and retry.cause == retrying.seq

    (enq2,) = run.handle(sm.RetryDue("n0", retry.at, cause=retry.cause))
    queued = run.entry("n0", "queued")
    assert queued.cause_id == retrying.seq
    assert run.chain_of(queued.seq)[:3] == [
        ("node", "n0", "queued"),
        ("node", "n0", "retrying"),
        ("attempt", "n0", "failed"),
    ]
    assert enq2 == sm.Enqueue("n0") and enq2.cause == queued.seq
    cmd2 = admit(run, enq2, 4.0)
    assert cmd2.attempt == 2 and run.entry("n0", "running").cause_id == queued.seq


def test_a_failure_causes_the_aborts_and_the_executions_end() -> None:
    @af.workflow
    def two(x: int = 1) -> int:
        return inc(x=fragile(x=x))

    run = Run(two.spec, x=1)
    (enq,) = run.handle(sm.Start(1.0))
    cmd = admit(run, enq, 2.0)
    (retry,) = run.handle(fail(cmd, 3.0))
    cmd2 = admit(run, run.handle(sm.RetryDue("n0", 4.0, cause=retry.cause))[0], 5.0)
    (fin,) = run.handle(fail(cmd2, 6.0))
    failed = run.entry("n0", "failed")
    assert failed.cause_id == run.log[failed.seq - 1].seq  # the second attempt's failure
    assert run.log[failed.cause_id].kind == "attempt"
    # fail_immediately (the default): the node that never ran is aborted by the failure
    assert run.entry("n1", "aborted").cause_id == failed.seq
    ended = run.entry("", "failed", "execution")
    assert fin == sm.Finished(ExecutionPhase.FAILED) and fin.cause == ended.seq


def test_a_cache_hit_names_the_lookup_that_found_it() -> None:
    @af.workflow
    def hit(x: int = 1) -> int:
        return cached(x=x)

    run = Run(hit.spec, x=1)
    (look,) = run.handle(sm.Start(1.0))
    assert isinstance(look, sm.LookupCache)
    queued = run.entry("n0", "queued")
    assert look.cause == queued.seq
    entry = CacheEntry(key=look.key, parts=look.parts, outputs={"o0": jv(1)}, created_at=0.0)
    (fin,) = run.handle(sm.CacheLooked("n0", entry, "same inputs", 2.0, cause=look.cause))
    found = run.entry("n0", "hit", "cache")
    assert found.cause_id == queued.seq
    assert run.entry("n0", "succeeded").cause_id == found.seq
    assert isinstance(fin, sm.Finished)


def test_map_items_follow_from_the_maps_start_and_an_item_retry_names_its_failure() -> None:
    @af.workflow
    def mapped(xs: list[int]) -> list[int]:
        return af.map_task(fragile, concurrency=1)(x=xs)

    run = Run(mapped.spec, xs=[1, 2])
    (expand,) = run.handle(sm.Start(1.0))
    assert isinstance(expand, sm.ExpandMap)
    assert expand.cause == run.entry("n0", "queued").seq
    items = [{"x": jv(1)}, {"x": jv(2)}]
    (enq,) = run.handle(sm.MapExpanded("n0", items, "", 2.0, cause=expand.cause))
    mapping = run.entry("n0", "running")
    assert mapping.cause_id == expand.cause
    assert enq == sm.Enqueue("n0[0]") and enq.cause == mapping.seq
    cmd = admit(run, enq, 3.0)
    assert cmd.cause == mapping.seq  # items write no entry of their own until one fails
    (retry,) = run.handle(fail(cmd, 4.0))
    failure = run.entry("n0[0]", "failed", "attempt")
    assert failure.cause_id == mapping.seq
    assert isinstance(retry, sm.ScheduleRetry) and retry.cause == failure.seq
    (enq2,) = run.handle(sm.RetryDue("n0[0]", retry.at, cause=retry.cause))
    assert enq2 == sm.Enqueue("n0[0]") and enq2.cause == failure.seq


def test_an_abort_from_outside_has_no_cause_and_its_cancels_name_their_nodes_abort() -> None:
    run = Run(chain.spec, x=1)
    (enq,) = run.handle(sm.Start(1.0))
    admit(run, enq, 2.0)
    cancel, fin = run.handle(sm.Abort("stop", 3.0))
    aborted = run.entry("n0", "aborted")
    assert aborted.cause_id == 0
    assert cancel == sm.CancelAttempt("n0") and cancel.cause == aborted.seq
    assert fin.cause == run.entry("", "aborted", "execution").seq


def test_cause_is_not_part_of_a_commands_equality_and_defaults_to_none() -> None:
    assert sm.Enqueue("n0", cause=3) == sm.Enqueue("n0")
    assert sm.Start(1.0).cause == 0


def test_a_gates_signal_names_the_gates_start_and_the_gates_end_names_it() -> None:
    from datetime import timedelta

    @af.workflow
    def asking() -> float:
        return af.wait_for_input("t", timeout=timedelta(seconds=30), expected_type=float)

    run = Run(asking.spec)
    timer, watch = run.handle(sm.Start(1.0))
    waiting = run.entry("n0", "running")
    assert isinstance(watch, sm.WatchSignal) and timer.cause == watch.cause == waiting.seq
    (fin,) = run.handle(sm.SignalReceived("n0", jv(1.5), 2.0, cause=watch.cause))
    assert run.entry("n0", "succeeded").cause_id == waiting.seq
    assert fin.cause == run.entry("", "succeeded", "execution").seq


@af.workflow
def inner(x: int) -> int:
    return inc(x=inc(x=x))


@af.dynamic
def twice(x: int) -> int:
    return inc(x=inc(x=x))


def test_a_dynamic_graphs_children_name_the_graph_which_names_the_attempt() -> None:
    from airfoil.core.records import GRAPH_FORMAT, Binding

    @af.workflow
    def dyn(x: int = 2) -> int:
        return twice(x=x)

    run = Run(dyn.spec, x=2)
    (enq,) = run.handle(sm.Start(1.0))
    cmd = admit(run, enq, 2.0)
    spec = inner.spec
    first = msgspec.structs.replace(spec.nodes[0], inputs={"x": Binding("literal", value=jv(2))})
    payload = msgspec.json.encode(msgspec.structs.replace(spec, nodes=(first, *spec.nodes[1:])))
    graph = Value(hash="g", format=GRAPH_FORMAT, inline=payload, size=len(payload))
    built = sm.AttemptFinished("n0", 1, {"__dynamic__": graph}, None, 2.0, 3.0, cause=cmd.cause)
    (enq0,) = run.handle(built)
    result = run.entry("n0", "succeeded", "attempt")
    expanded = run.entry("n0", "running")  # "dynamic graph of 2 nodes"
    assert result.cause_id == cmd.cause and expanded.cause_id == result.seq
    assert run.entry("n0.n0", "queued").cause_id == expanded.seq
    assert enq0 == sm.Enqueue("n0.n0") and enq0.cause == run.entry("n0.n0", "queued").seq


def test_a_child_call_names_the_entry_that_started_its_caller() -> None:
    @af.workflow
    def one(x: int = 1) -> int:
        return inc(x=x)

    run = Run(one.spec, x=1)
    (enq,) = run.handle(sm.Start(1.0))
    cmd = admit(run, enq, 2.0)
    child = "n0.call0-abc"
    # The driver gives a call the cause of its caller's StartAttempt.
    (enq_child,) = run.handle(
        sm.ChildCalled("n0", child, inc.spec, {"x": jv(5)}, 3.0, cause=cmd.cause)
    )
    queued = run.entry(child, "queued")
    assert queued.cause_id == run.entry("n0", "running").seq
    assert enq_child == sm.Enqueue(child) and enq_child.cause == queued.seq


def test_a_branchs_taken_case_names_the_decision() -> None:
    @af.workflow
    def pick(x: int = 5) -> int:
        return af.conditional("big").if_(x > 3).then(inc(x=x)).else_().then(inc(x=x))

    run = Run(pick.spec, x=5)
    branch = next(nid for nid, fn in run.state.graph.items() if fn.kind == "branch")
    taken, skipped = (c.children[0] for c in run.state.graph[branch].cases)
    (enq,) = run.handle(sm.Start(1.0))
    decided = run.entry(branch, "running")  # "took case 0: if x > 3"
    assert decided.cause_id == run.entry("", "running", "execution").seq
    assert run.entry(skipped, "skipped").cause_id == decided.seq
    assert run.entry(taken, "queued").cause_id == decided.seq
    assert enq == sm.Enqueue(taken) and enq.cause == run.entry(taken, "queued").seq
