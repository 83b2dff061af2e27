"""SchedulerState bookkeeping, placement and the run-time estimator."""

from __future__ import annotations

import random

import pytest
from sched_factories import GIB, gpu_node, gpu_quota, gpus, make_state, running

from airfoil.core.errors import ConfigError, NotFoundError, UserError
from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import (
    InvalidWorkItemError,
    Node,
    PlacementError,
    RuntimeEstimator,
    SchedulerState,
    SchedulingError,
    UnknownItemError,
    UnknownPolicyError,
    UnschedulableError,
    WorkItem,
    decide,
    get_policy,
    policy_names,
)

pytestmark = pytest.mark.unit


def test_registry_knows_every_policy_and_rejects_unknown_names() -> None:
    assert policy_names() == ("fifo", "fifo-skip", "backfill", "fair", "las", "stretch", "airfoil")
    assert get_policy("las").name == "las"
    with pytest.raises(UnknownPolicyError, match="choose one of: fifo, fifo-skip") as info:
        get_policy("round-robin")
    assert isinstance(info.value, ConfigError)


def test_start_finish_keeps_free_capacity_and_usage() -> None:
    state = make_state([gpu_node("n0", 8)], "fifo", queue=[gpus("a", 3, project="x")])
    state.start("a", ["n0"], now=5.0)
    assert state.free()["n0"].gpu == 5
    assert state.project_usage("x") == ResourceSpec(cpu=1.0, mem=GIB, gpu=3)
    assert [r.item.id for r in state.running_items()] == ["a"]
    assert state.waiting_items() == []
    state.finish("a", now=15.0)
    assert state.free()["n0"].gpu == 8
    assert state.project_usage("x") == ResourceSpec()


def test_a_start_that_would_over_commit_raises_and_changes_nothing() -> None:
    state = make_state(
        [gpu_node("n0", 8), gpu_node("n1", 8)],
        "fifo",
        run=[running(gpus("r", 6), "n1")],
        queue=[gpus("g", 4, gang=2)],
    )
    with pytest.raises(PlacementError, match="over-committed"):
        state.start("g", ["n0", "n1"], now=0.0)
    assert state.free()["n0"].gpu == 8 and state.free()["n1"].gpu == 2
    assert [i.id for i in state.waiting_items()] == ["g"]
    with pytest.raises(PlacementError, match="2 workers"):
        state.start("g", ["n0"], now=0.0)
    with pytest.raises(PlacementError, match="unknown node 'n9'"):
        state.start("g", ["n0", "n9"], now=0.0)
    state.start("g", ["n0", "n0"], now=0.0)  # two 4-GPU workers share one 8-GPU node
    assert state.free()["n0"].gpu == 0


def test_submit_rejects_duplicates_malformed_and_never_fitting_items() -> None:
    state = make_state([gpu_node("n0", 4), gpu_node("n1", 4)], "fifo", queue=[gpus("a", 1)])
    with pytest.raises(InvalidWorkItemError, match="already"):
        state.submit(gpus("a", 1))
    with pytest.raises(InvalidWorkItemError, match="gang_size"):
        state.submit(gpus("b", 1, gang=0))
    bad = WorkItem("c", "p", ResourceSpec(cpu=-1.0))
    with pytest.raises(InvalidWorkItemError, match="negative"):
        state.submit(bad)
    # an 8-GPU worker cannot span two 4-GPU nodes: it would wait forever
    with pytest.raises(UnschedulableError, match="could ever give") as info:
        state.submit(gpus("big", 8))
    assert isinstance(info.value, UserError)
    with pytest.raises(UnschedulableError, match="could ever give"):
        state.check(gpus("big", 8))  # the launch-time check, queueing nothing
    assert [i.id for i in state.waiting_items()] == ["a"]
    state.submit(gpus("pair", 4, gang=2))  # but a gang of two 4-GPU workers fits


def test_submit_rejects_items_over_their_projects_hard_cap() -> None:
    state = SchedulerState([gpu_node("n0", 8)], policy="fair", quotas={"x": gpu_quota(2, 0)})
    with pytest.raises(UnschedulableError, match="project 'x'"):
        state.submit(gpus("a", 3, project="x"))


def test_unknown_ids_raise_not_found() -> None:
    state = SchedulerState([gpu_node("n0")], policy="fifo")
    for call in (
        lambda: state.finish("nope", 0.0),
        lambda: state.withdraw("nope"),
        lambda: state.preempt("nope", 0.0),
        lambda: state.start("nope", ["n0"], 0.0),
    ):
        with pytest.raises(UnknownItemError) as info:
            call()
        assert isinstance(info.value, NotFoundError)


def test_node_names_must_be_unique() -> None:
    with pytest.raises(InvalidWorkItemError, match="unique"):
        SchedulerState([gpu_node("n0"), gpu_node("n0")])


def test_preempt_requeues_in_place_with_attained_service_and_less_estimate() -> None:
    state = make_state(
        [gpu_node("n0", 2)],
        "fifo",
        queue=[
            gpus("a", 2, submit=0.0, estimate=100.0, interruptible=True),
            gpus("b", 1, submit=1.0),
        ],
    )
    state.start("a", ["n0"], now=10.0)
    item = state.preempt("a", now=40.0)
    assert item.attained == 60.0  # 30 s x 2 GPUs
    assert state.remaining_estimate("a") == 70.0
    assert [i.id for i in state.waiting_items()] == ["a", "b"]  # back ahead of b
    assert state.free()["n0"].gpu == 2


def test_preempting_non_interruptible_work_is_refused() -> None:
    state = make_state([gpu_node("n0")], "fifo", run=[running(gpus("a", 1), "n0")])
    with pytest.raises(SchedulingError, match="not interruptible"):
        state.preempt("a", 1.0)


def test_apply_preempts_before_starting() -> None:
    state = make_state(
        [gpu_node("n0", 1)],
        "las",
        run=[running(gpus("old", 1, interruptible=True, attained=10**6), "n0")],
        queue=[gpus("new", 1, submit=5.0)],
    )
    decision = state.decide(10.0)
    assert decision.preemptions == ("old",)
    state.apply(decision, 10.0)
    assert [r.item.id for r in state.running_items()] == ["new"]
    assert [i.id for i in state.waiting_items()] == ["old"]


def test_best_fit_keeps_whole_nodes_free_and_cpu_work_off_free_gpus() -> None:
    nodes = [gpu_node("n0", 8), gpu_node("n1", 8)]
    run = [running(gpus("r", 4), "n1")]
    cpu_only = WorkItem("c", "p", ResourceSpec(cpu=2.0))
    d = decide([gpus("a", 2), cpu_only], run, nodes, now=0.0, policy="fifo")
    assert [(s.item_id, s.placement) for s in d.starts] == [("a", ("n1",)), ("c", ("n1",))]


def test_decide_is_pure_and_reasons_cover_every_waiting_item() -> None:
    state = make_state(
        [gpu_node("n0", 2)], "fifo-skip", queue=[gpus("a", 2), gpus("b", 1), gpus("c", 1)]
    )
    first = state.decide(0.0)
    assert state.decide(0.0) == first
    assert [s.item_id for s in first.starts] == ["a"]
    assert set(first.reasons) == {"b", "c"}
    assert first.reasons["b"] == "waiting for 1 GPU, 1 CPU, 1 GiB on one node"
    assert len(state.waiting) == 3  # nothing applied


def test_estimator_median_then_given_then_default() -> None:
    est = RuntimeEstimator(default=900.0, window=3)
    assert est.estimate("train", None) == 900.0
    assert est.estimate("train", 50.0) == 50.0
    for duration in (10.0, 1000.0, 30.0):
        est.record("train", duration)
    assert est.estimate("train", 50.0) == 30.0  # median, not mean
    est.record("train", 40.0)  # window of 3 drops the 10
    assert est.history("train") == (1000.0, 30.0, 40.0)
    assert est.estimate("train") == 40.0
    with pytest.raises(ValueError):
        RuntimeEstimator(default=0.0)


def test_state_feeds_successful_durations_to_the_estimator() -> None:
    est = RuntimeEstimator(min_samples=1)
    state = SchedulerState([gpu_node("n0")], policy="fifo", estimator=est)
    item = WorkItem("a", "p", ResourceSpec(gpu=1), task_key="train", estimate=5.0)
    state.submit(item)
    state.start("a", ["n0"], 100.0)
    state.finish("a", 160.0)
    assert est.estimate("train") == 60.0
    state.submit(WorkItem("b", "p", ResourceSpec(gpu=1), task_key="train", estimate=5.0))
    assert state.remaining_estimate("b") == 60.0
    state.start("b", ["n0"], 200.0)
    state.finish("b", 201.0, succeeded=False)  # failures do not count
    assert est.history("train") == (60.0,)


def test_cpu_only_cluster_and_items_without_resources() -> None:
    nodes = [Node("laptop", ResourceSpec(cpu=4.0, mem=8 * GIB))]
    items = [WorkItem(f"t{i}", "p", ResourceSpec(cpu=1.5)) for i in range(3)]
    items.append(WorkItem("free", "p", ResourceSpec()))
    d = decide(items, [], nodes, now=0.0, policy="airfoil")
    assert [s.item_id for s in d.starts] == ["t0", "t1", "free"]
    assert "1.5 CPUs" in d.reasons["t2"]


def test_reservable_gangs_counts_the_waiting_gangs_by_shape_and_priority() -> None:
    """What the airfoil due pass checks before skipping due gangs: it follows submit,
    start, preempt (requeue) and withdraw."""
    state = make_state([gpu_node("n0", 8), gpu_node("n1", 8)], "airfoil")

    def recount() -> dict[object, int]:
        counts: dict[object, int] = {}
        for _, _, item_id in state.due_reservable(10.0):
            entry = state.waiting[item_id]
            if entry.workers > 1:
                key = (entry.shape, entry.item.priority)
                counts[key] = counts.get(key, 0) + 1
        return counts

    state.submit(gpus("a", 8, gang=2, interruptible=True))
    state.submit(gpus("b", 8, gang=2, priority=1))
    state.submit(gpus("c", 4, gang=2))
    state.submit(gpus("d", 4, gang=2))
    state.submit(gpus("single", 2))
    assert state.reservable_gangs == recount()
    assert len(state.reservable_gangs) == 3
    state.start("a", ["n0", "n1"], now=1.0)
    assert state.reservable_gangs == recount()
    state.withdraw("c")
    assert state.reservable_gangs == recount()
    state.preempt("a", now=2.0)
    assert state.reservable_gangs == recount()
    for item_id in ("a", "b", "d"):
        state.withdraw(item_id)
    assert state.reservable_gangs == {}


def test_due_reservable_is_the_sorted_prefix_of_every_reservable_item_due_by_then() -> None:
    """Items not yet due wait in a heap (so a submit does not shift a sorted list of the
    whole queue); what ``due_reservable(now)`` returns is still, in order, every reservable
    waiting item due by ``now`` and maybe some due later, and ``next_reservable`` the first
    due item left out: through submits, withdrawals, starts and preemptions (one preempted
    at the second it started, whose stale heap tuple equals its new one), and clocks that
    go back."""
    rng = random.Random(3)
    state = make_state([gpu_node(f"n{i}", 8) for i in range(4)], "airfoil")
    now, made = 0.0, 0

    def every() -> list[tuple[float, int, str]]:
        return sorted(
            (e.reserve_from, e.key[3], i)
            for i, e in state.waiting.items()
            if e.reserve_from is not None
        )

    for step in range(600):
        op = rng.random()
        if op < 0.45:
            made += 1
            gang = rng.choice((1, 1, 1, 2))
            state.submit(
                gpus(
                    f"w{made}",
                    rng.choice((1, 4, 8)),
                    gang=gang,
                    submit=now,
                    estimate=rng.choice((60.0, 3600.0, 7200.0)),
                    interruptible=True,
                )
            )
        elif op < 0.6 and state.waiting:
            state.withdraw(rng.choice(sorted(state.waiting)))
        elif op < 0.75 and state.waiting:
            item_id = rng.choice(sorted(state.waiting))
            entry = state.waiting[item_id]
            need = entry.demand[2]
            free = [
                n.name for n, g in zip(state.nodes, state.pool.free_g, strict=True) if g >= need
            ]
            if entry.workers == 1 and free:
                state.start(item_id, [free[0]], now)
                state.preempt(item_id, now + rng.choice((0.0, 0.0, 30.0)))
        else:
            now = max(0.0, now + rng.choice((-3600.0, 600.0, 3600.0, 20_000.0)))
            due = state.due_reservable(now)
            full = every()
            assert due == full[: len(due)], step
            assert all(d[0] > now for d in full[len(due) :]), step
            assert state.next_reservable() == (full[len(due)][0] if len(full) > len(due) else None)


def test_asked_gpus_and_due_running_follow_every_change_of_the_state() -> None:
    """``asked_gpus`` (the GPUs waiting work asks for, per level: what ``airfoil``'s
    ``srpt_queue`` reads instead of walking the last level) and ``due_running`` (running
    work started as due: what the cap on due work sums instead of every running item) are
    kept up to date: through submits, withdrawals, starts (some past their starvation
    bound), preemptions (re-queued at a higher level), finishes and a change of nodes, both
    equal what a walk of the whole state finds, ``due_running`` in ``running``'s order."""
    rng = random.Random(5)
    state = make_state([gpu_node(f"n{i}", 8) for i in range(4)], "airfoil")
    now, made = 0.0, 0

    def check(step: int) -> None:
        asked: dict[int, int] = {}
        for entry in state.waiting.values():
            asked[entry.key[0]] = asked.get(entry.key[0], 0) + entry.demand[2] * entry.workers
        assert {k: v for k, v in state.asked_gpus.items() if v} == {
            k: v for k, v in asked.items() if v
        }, step
        due = [
            item_id
            for item_id, run in state.running.items()
            if run.entry.reserve_from is not None and run.start >= run.entry.reserve_from
        ]
        assert list(state.due_running) == due, step
        assert all(state.due_running[i] is state.running[i] for i in due), step

    for step in range(800):
        op = rng.random()
        if op < 0.35:
            made += 1
            state.submit(
                gpus(
                    f"w{made}",
                    rng.choice((0, 1, 4, 8)),
                    gang=rng.choice((1, 1, 2)),
                    submit=now,
                    estimate=rng.choice((60.0, 3600.0, 7200.0)),
                    attained=rng.choice((0.0, 0.0, 50_000.0)),
                    interruptible=rng.random() < 0.8,
                )
            )
        elif op < 0.45 and state.waiting:
            state.withdraw(rng.choice(sorted(state.waiting)))
        elif op < 0.7 and state.waiting:
            item_id = rng.choice(sorted(state.waiting))
            entry = state.waiting[item_id]
            c, m, g = entry.demand
            free = [
                state.pool.names[n]
                for n in range(len(state.pool.names))
                if state.pool.fits_on(n, c, m, g)
            ]
            if entry.workers == 1 and free:
                state.start(item_id, [free[0]], now)
        elif op < 0.8 and state.running:
            item_id = rng.choice(sorted(state.running))
            if state.running[item_id].entry.item.interruptible:
                state.preempt(item_id, now)
        elif op < 0.9 and state.running:
            state.finish(rng.choice(sorted(state.running)), now)
        elif op < 0.91:
            state.set_nodes([gpu_node(f"n{i}", 8) for i in range(rng.choice((3, 4, 5)))])
        else:
            now += rng.choice((600.0, 3600.0, 50_000.0))
        check(step)
    assert state.due_running, "no item started as due: the check saw only the easy case"
