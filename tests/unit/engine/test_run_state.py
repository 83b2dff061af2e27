"""The pure run state machine: events in, exact commands and records out."""

from __future__ import annotations

import pytest

from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    Binding,
    CacheEntry,
    CachePolicy,
    ErrorInfo,
    ExecutionRecord,
    Interface,
    NodeSpec,
    Param,
    TaskSpec,
    TypeSpec,
    Value,
    WorkflowSpec,
)
from airfoil.engine import state as sm
from airfoil.engine.transitions import InvalidTransition

pytestmark = pytest.mark.unit

INT = TypeSpec("int")


def val(n: int) -> Value:
    return Value(hash=f"h{n}", format="json", inline=str(n).encode())


def task(name: str, retries: int = 0, cache: bool = False, system_retries: int = 3) -> TaskSpec:
    return TaskSpec(
        name=name,
        version="v1",
        interface=Interface(inputs=(Param("x", INT),), outputs=(Param("o0", INT),)),
        module="m",
        qualname=name,
        retries=retries,
        system_retries=system_retries,
        cache=CachePolicy(enabled=cache),
    )


def chain(n: int, **kw: object) -> WorkflowSpec:
    nodes = []
    for i in range(n):
        src = (
            Binding("input", name="x") if i == 0 else Binding("output", node=f"n{i - 1}", name="o0")
        )
        nodes.append(
            NodeSpec(
                id=f"n{i}",
                kind="task",
                inputs={"x": src},
                task=task(f"t{i}", **kw),
                upstream=() if i == 0 else (f"n{i - 1}",),
            )
        )
    return WorkflowSpec(
        name="wf",
        version="w1",
        interface=Interface(inputs=(Param("x", INT),), outputs=(Param("o0", INT),)),
        nodes=tuple(nodes),
        outputs={"o0": Binding("output", node=f"n{n - 1}", name="o0")},
    )


def execution(spec: WorkflowSpec) -> ExecutionRecord:
    return ExecutionRecord(
        id="e1",
        workflow="wf",
        version="w1",
        phase="queued",
        spec=spec,
        inputs={"x": val(1)},
        created_at=0.0,
    )


def done(nid: str, attempt: int, out: int, now: float = 2.0) -> sm.AttemptFinished:
    return sm.AttemptFinished(nid, attempt, {"o0": val(out)}, None, started_at=now - 1, now=now)


def failed(nid: str, attempt: int, kind: str = "user", now: float = 2.0) -> sm.AttemptFinished:
    return sm.AttemptFinished(
        nid, attempt, None, ErrorInfo(kind, "ValueError", "boom"), started_at=now - 1, now=now
    )


def test_chain_runs_in_order_and_outputs_propagate() -> None:
    s = sm.RunState(execution(chain(2)))
    assert s.handle(sm.Start(1.0)) == [sm.Enqueue("n0")]
    assert s.handle(sm.Admit("n0", 1.0)) == [sm.StartAttempt("n0", 1, {"x": val(1)})]
    assert s.handle(done("n0", 1, 5)) == [sm.Enqueue("n1")]
    assert s.records["n1"].inputs == {"x": val(5)}
    assert s.handle(sm.Admit("n1", 2.0)) == [sm.StartAttempt("n1", 1, {"x": val(5)})]
    assert s.handle(done("n1", 1, 7, now=3.0)) == [sm.Finished(ExecutionPhase.SUCCEEDED)]
    assert s.execution.outputs == {"o0": val(7)}
    assert s.execution.phase == "succeeded"
    batch = s.take_batch()
    phases = [(e.node_id, e.to_phase) for e in batch.events if e.kind == "node"]
    assert phases[:3] == [("n0", "queued"), ("n0", "running"), ("n0", "succeeded")]
    assert [e.seq for e in batch.events] == list(range(1, len(batch.events) + 1))


def test_user_error_retries_then_fails_with_its_own_budget() -> None:
    s = sm.RunState(execution(chain(1, retries=1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    cmds = s.handle(failed("n0", 1, now=1.0))
    assert cmds == [sm.ScheduleRetry("n0", 1.0 + s.retry.delay(1))]
    assert s.records["n0"].phase == "retrying"
    assert s.handle(sm.RetryDue("n0", 2.0)) == [sm.Enqueue("n0")]
    s.handle(sm.Admit("n0", 2.0))
    cmds = s.handle(failed("n0", 2, now=3.0))
    assert cmds == [sm.Finished(ExecutionPhase.FAILED)]
    rec = s.records["n0"]
    assert (rec.phase, rec.attempts, rec.user_failures, rec.system_failures) == ("failed", 2, 2, 0)
    assert s.execution.error is not None and s.execution.error.type == "ValueError"


def test_system_errors_use_the_system_budget_not_retries() -> None:
    s = sm.RunState(execution(chain(1, retries=0, system_retries=2)))
    s.handle(sm.Start(0.0))
    for attempt in (1, 2):
        s.handle(sm.Admit("n0", 0.0))
        assert isinstance(s.handle(failed("n0", attempt, kind="system"))[0], sm.ScheduleRetry)
        s.handle(sm.RetryDue("n0", 5.0))
    s.handle(sm.Admit("n0", 5.0))
    assert s.handle(failed("n0", 3, kind="system")) == [sm.Finished(ExecutionPhase.FAILED)]
    assert s.records["n0"].system_failures == 3
    assert s.records["n0"].user_failures == 0


def test_preemptions_are_retried_without_using_any_retry_budget() -> None:
    s = sm.RunState(execution(chain(1, retries=0, system_retries=0)))
    s.handle(sm.Start(0.0))
    preempted = ErrorInfo("system", sm.PREEMPTED, "preempted by the scheduler")
    for attempt in (1, 2, 3):  # more preemptions than any budget allows
        s.handle(sm.Admit("n0", float(attempt)))
        cmds = s.handle(
            sm.AttemptFinished("n0", attempt, None, preempted, started_at=attempt, now=attempt)
        )
        assert cmds == [sm.ScheduleRetry("n0", attempt + s.retry.delay(0))]
        assert s.attempts[("n0", attempt)].phase == "lost"
        assert s.handle(sm.RetryDue("n0", attempt + 0.5)) == [sm.Enqueue("n0")]
    rec = s.records["n0"]
    assert (rec.user_failures, rec.system_failures, rec.attempts) == (0, 0, 3)
    s.handle(sm.Admit("n0", 9.0))
    assert s.handle(done("n0", 4, 5, now=10.0)) == [sm.Finished(ExecutionPhase.SUCCEEDED)]


def test_cache_hit_skips_the_attempt_and_miss_enqueues() -> None:
    s = sm.RunState(execution(chain(2, cache=True)))
    (look,) = s.handle(sm.Start(0.0))
    assert isinstance(look, sm.LookupCache) and look.node_id == "n0"
    entry = CacheEntry(key=look.key, parts=look.parts, outputs={"o0": val(9)}, created_at=0.0)
    (look1,) = s.handle(sm.CacheLooked("n0", entry, "same inputs", 1.0))
    assert s.records["n0"].cache_status == "hit" and s.records["n0"].attempts == 0
    assert isinstance(look1, sm.LookupCache) and look1.node_id == "n1"
    assert s.handle(sm.CacheLooked("n1", None, "no cached result", 1.0)) == [sm.Enqueue("n1")]
    s.handle(sm.Admit("n1", 1.0))
    s.handle(done("n1", 1, 10))
    batch = s.take_batch()
    assert [c.outputs for c in batch.cache_puts] == [{"o0": val(10)}]
    assert s.records["n1"].cache_status == "put"


def test_fail_immediately_aborts_the_rest() -> None:
    spec = chain(1)
    b = NodeSpec(id="n1", kind="task", inputs={"x": Binding("input", name="x")}, task=task("b"))
    spec = WorkflowSpec(
        name="wf",
        version="w",
        interface=spec.interface,
        nodes=(*spec.nodes, b),
        outputs=spec.outputs,
    )
    s = sm.RunState(execution(spec))
    assert s.handle(sm.Start(0.0)) == [sm.Enqueue("n0"), sm.Enqueue("n1")]
    s.handle(sm.Admit("n0", 0.0))
    s.handle(sm.Admit("n1", 0.0))
    cmds = s.handle(failed("n0", 1))
    assert cmds == [sm.CancelAttempt("n1"), sm.Finished(ExecutionPhase.FAILED)]
    assert s.records["n1"].phase == "aborted"
    assert s.execution.phase == "failed"


def test_finish_what_can_run_skips_only_dependents() -> None:
    base = chain(2)
    other = NodeSpec(id="n2", kind="task", inputs={"x": Binding("input", name="x")}, task=task("c"))
    spec = WorkflowSpec(
        name="wf",
        version="w",
        interface=base.interface,
        nodes=(*base.nodes, other),
        outputs=base.outputs,
        failure_policy="finish_what_can_run",
    )
    s = sm.RunState(execution(spec))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(sm.Admit("n2", 0.0))
    assert s.handle(failed("n0", 1)) == []
    assert s.records["n1"].phase == "skipped"
    assert s.handle(done("n2", 1, 3)) == [sm.Finished(ExecutionPhase.FAILED)]
    assert s.records["n2"].phase == "succeeded"


def test_resume_marks_running_attempt_lost_and_requeues() -> None:
    s = sm.RunState(execution(chain(2)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(done("n0", 1, 5))
    s.handle(sm.Admit("n1", 2.0))
    s.take_batch()  # committed; then the process dies
    resumed = sm.RunState(execution(chain(2)), nodes=s.records, attempts=s.attempts, last_seq=s.seq)
    resumed.execution.phase = "running"
    cmds = resumed.handle(sm.Start(10.0))
    assert cmds == [sm.Enqueue("n1")]
    assert resumed.records["n0"].phase == "succeeded"
    assert resumed.attempts[("n1", 1)].phase == "lost"
    assert resumed.handle(sm.Admit("n1", 10.0)) == [sm.StartAttempt("n1", 2, {"x": val(5)})]


def test_late_report_of_a_settled_attempt_is_ignored() -> None:
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    s.handle(done("n0", 1, 5))
    assert s.handle(done("n0", 1, 6)) == []
    assert s.execution.outputs == {"o0": val(5)}


def test_transition_table_refuses_unknown_moves() -> None:
    s = sm.RunState(execution(chain(1)))
    with pytest.raises(InvalidTransition):
        s._move("n0", sm.N.RETRYING, "bogus", 0.0)


def test_list_binding_builds_a_collection_value_with_stable_hash() -> None:
    s = sm.RunState(execution(chain(1)))
    b = Binding("list", items=(Binding("input", name="x"), Binding("literal", value=val(2))))
    v1 = s.resolve(b)
    v2 = s.resolve(b)
    assert v1.format == "af-list" and v1.hash == v2.hash
    assert v1.hash != s.resolve(Binding("list", items=(Binding("input", name="x"),))).hash


def test_a_child_running_under_a_crashed_driver_is_re_armed_and_its_attempt_lost() -> None:
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.Admit("n0", 0.0))
    child = task("c")
    assert s.handle(sm.ChildCalled("n0", "n0.call1-ab", child, {"x": val(2)}, 1.0)) == [
        sm.Enqueue("n0.call1-ab")
    ]
    assert s.handle(sm.Admit("n0.call1-ab", 1.0)) == [
        sm.StartAttempt("n0.call1-ab", 1, {"x": val(2)})
    ]
    # The driver died: a new drive rebuilds the state from the records and the caller, re-run,
    # calls the same child again.
    s.take_batch()
    resumed = sm.RunState(s.execution, dict(s.records), dict(s.attempts))
    cmds = resumed.handle(sm.ChildCalled("n0", "n0.call1-ab", child, {"x": val(2)}, 2.0))
    assert cmds == [sm.Enqueue("n0.call1-ab")]
    assert resumed.attempts[("n0.call1-ab", 1)].phase == "lost"
    assert resumed.handle(sm.Admit("n0.call1-ab", 2.0)) == [
        sm.StartAttempt("n0.call1-ab", 2, {"x": val(2)})
    ]
    assert resumed.records["n0.call1-ab"].kind == sm.CHILD


def test_children_of_map_items_hang_under_the_map_node() -> None:
    s = sm.RunState(execution(chain(1)))
    s.handle(sm.Start(0.0))
    s.handle(sm.ChildCalled("n0[3]", "n0[3].call1-ab", task("c"), {"x": val(2)}, 1.0))
    assert s.graph["n0[3].call1-ab"].parent == "n0"
    assert s.records["n0[3].call1-ab"].parent == "n0[3]"
