"""Invariants every policy keeps, on random clusters, running sets, queues and quotas.

No policy ever over-commits a node, starts part of a gang, preempts work that is not
running and interruptible, starts work over its project's cap, or decides differently twice
on the same state; without quotas, ``airfoil`` never preempts work it started as due (gangs,
starving items) nor work of a higher priority than what it starts; and the work ``airfoil``
started as due stays within its ``due_share`` of the cluster (but for one item when no due
work runs).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sched_factories import GIB

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import (
    AirfoilPolicy,
    Node,
    Policy,
    Quota,
    SchedulerState,
    UnschedulableError,
    WorkItem,
    policy_names,
)
from airfoil.scheduler._state import WaitingEntry

pytestmark = pytest.mark.unit

GPU_CHOICES = (0, 1, 2, 4, 8)


@st.composite
def nodes(draw: st.DrawFn) -> list[Node]:
    count = draw(st.integers(1, 4))
    return [
        Node(
            f"n{i}",
            ResourceSpec(
                cpu=float(draw(st.sampled_from((2, 4, 8, 16)))),
                mem=draw(st.sampled_from((4, 16, 64))) * GIB,
                gpu=draw(st.sampled_from(GPU_CHOICES)),
            ),
        )
        for i in range(count)
    ]


@st.composite
def items(draw: st.DrawFn, prefix: str, count: int) -> list[WorkItem]:
    out = []
    for i in range(count):
        out.append(
            WorkItem(
                id=f"{prefix}{i}",
                project=draw(st.sampled_from("abc")),
                resources=ResourceSpec(
                    cpu=draw(st.sampled_from((0.0, 0.5, 1.0, 2.0, 4.0))),
                    mem=draw(st.sampled_from((0, 1, 4))) * GIB,
                    gpu=draw(st.sampled_from(GPU_CHOICES)),
                ),
                gang_size=draw(st.integers(1, 3)),
                priority=draw(st.integers(0, 2)),
                interruptible=draw(st.booleans()),
                submit_time=float(draw(st.integers(0, 1000))),
                estimate=draw(st.none() | st.floats(1.0, 5000.0)),
                attained=draw(st.sampled_from((0.0, 5000.0, 50_000.0))),
                preempted=draw(st.integers(0, 2)),
            )
        )
    return out


@st.composite
def quotas(draw: st.DrawFn) -> dict[str, Quota]:
    out = {}
    for project in draw(st.sets(st.sampled_from("abc"))):
        borrow = draw(st.none() | st.integers(0, 4))
        out[project] = Quota(
            nominal=ResourceSpec(
                cpu=float(draw(st.integers(0, 16))),
                mem=draw(st.integers(0, 64)) * GIB,
                gpu=draw(st.integers(0, 8)),
            ),
            borrowing_limit=None
            if borrow is None
            else ResourceSpec(cpu=float(borrow), mem=borrow * GIB, gpu=borrow),
            weight=draw(st.sampled_from((0.5, 1.0, 2.0))),
        )
    return out


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Node], list[WorkItem], list[WorkItem], dict[str, Quota], float]:
    cluster = draw(nodes())
    run = draw(items("r", draw(st.integers(0, 8))))
    queue = draw(items("w", draw(st.integers(0, 12))))
    return cluster, run, queue, draw(quotas()), float(draw(st.integers(1000, 3000)))


@st.composite
def partly_busy(
    draw: st.DrawFn,
) -> tuple[list[Node], list[WorkItem], list[WorkItem], dict[str, Quota], float]:
    """Nodes of 8 GPUs partly held by work that is not interruptible, some of it ending
    within the hour, and a queue of 1- to 8-GPU workers."""
    cluster = [
        Node(f"n{i}", ResourceSpec(cpu=64.0, mem=256 * GIB, gpu=8))
        for i in range(draw(st.integers(2, 4)))
    ]

    def item(prefix: str, i: int, submit: float, sizes: tuple[int, ...]) -> WorkItem:
        return WorkItem(
            id=f"{prefix}{i}",
            project="a",
            resources=ResourceSpec(cpu=1.0, mem=GIB, gpu=draw(st.sampled_from(sizes))),
            submit_time=submit,
            estimate=draw(st.sampled_from((1_200.0, 3_600.0, 100_000.0))),
        )

    # started ``submit_time / 2`` before now (see ``build``): 0-200 s ago
    run = [
        item("r", i, float(draw(st.integers(0, 400))), (2, 4, 6))
        for i in range(draw(st.integers(1, 8)))
    ]
    queue = [item("w", i, 2000.0, (1, 2, 4, 8)) for i in range(draw(st.integers(1, 8)))]
    return cluster, run, queue, {}, 2500.0


def build(
    policy: str | Policy,
    cluster: list[Node],
    run: list[WorkItem],
    queue: list[WorkItem],
    caps: dict[str, Quota],
    now: float,
) -> SchedulerState:
    state = SchedulerState(cluster, policy=policy, quotas=caps)
    for item in run:
        try:
            state.submit(item)
        except UnschedulableError:
            continue
        nodes_for = state.pool.copy().place(state.waiting[item.id].demand, item.gang_size)
        if nodes_for is None:
            state.withdraw(item.id)
            continue
        state.start(item.id, [state.pool.names[n] for n in nodes_for], now - item.submit_time / 2)
    for item in queue:
        try:
            state.submit(item)
        except UnschedulableError:
            continue
    return state


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.one_of(scenarios(), partly_busy()))
def test_no_policy_over_commits_splits_a_gang_or_preempts_wrongly(
    scenario: tuple[list[Node], list[WorkItem], list[WorkItem], dict[str, Quota], float],
) -> None:
    # one scenario, every policy: generating the scenario is the expensive part
    for policy in policy_names():
        check_invariants(policy, *scenario)
    # the preemption ratio on and off, whatever the default
    for ratio in (None, 1.0):
        check_invariants(AirfoilPolicy(preempt_ratio=ratio), *scenario)
    # preemption within the last level, without its guards and off
    for srpt in (None, 1.0):
        check_invariants(AirfoilPolicy(srpt_ratio=srpt, srpt_queue=None), *scenario)
    check_invariants(AirfoilPolicy(srpt_queue=0.5, srpt_one_victim=False), *scenario)
    # defragmentation by migration moves running work onto idle room (the default, with
    # its guards, is checked above; here without them, and off)
    for whole_only in (False, True):
        check_invariants(
            AirfoilPolicy(
                defragment=True,
                defragment_whole_only=whole_only,
                defragment_spare_due=False,
                defragment_after=None,
            ),
            *scenario,
        )
    check_invariants(AirfoilPolicy(defragment=False), *scenario)
    # shields (off by default): fewer victims, the same guarantees, gated by the queue or not
    for shield_queue in (None, 1.0):
        shielded = AirfoilPolicy(
            shield_preempted=1, shield_done=0.5, shield_waited=1.0, shield_queue=shield_queue
        )
        check_invariants(shielded, *scenario)
    # the cap on due work with a budget on the due gangs' expected GPU-time: work started
    # as due still stays within ``due_share``, and gangs within it (check_airfoil_due_share)
    for queue_bar in (None, 0.5):
        check_invariants(
            AirfoilPolicy(due_gang_hours=0.01, due_gang_queue=queue_bar, gang_after=0.0), *scenario
        )
        # ... or one in mean gangs submitted so far, alone or beside the budget in hours
        for hours in (None, 0.01):
            scaled = AirfoilPolicy(
                due_gang_hours=hours, due_gang_scale=0.5, due_gang_queue=queue_bar, gang_after=0.0
            )
            check_invariants(scaled, *scenario)
        # ... or only behind other projects' waiting work
        others = AirfoilPolicy(
            due_gang_hours=0.01, due_gang_queue=queue_bar, due_gang_others=True, gang_after=0.0
        )
        check_invariants(others, *scenario)
    # ... with its guards: only long waiters claim, none while due work waits (and without
    # reservations, so that due work waits unreserved)
    for reservations in (0, 1):
        check_invariants(
            AirfoilPolicy(
                defragment=True,
                defragment_spare_due=True,
                defragment_after=0.5,
                max_reservations=reservations,
            ),
            *scenario,
        )


def check_invariants(
    policy: str | Policy,
    cluster: list[Node],
    run: list[WorkItem],
    queue: list[WorkItem],
    caps: dict[str, Quota],
    now: float,
) -> None:
    state = build(policy, cluster, run, queue, caps, now)
    decision = state.decide(now)
    assert state.decide(now) == decision, f"{policy}: decide must be a pure function of the state"
    quiet = state.decide(now, explain=False)
    assert (quiet.starts, quiet.preemptions) == (decision.starts, decision.preemptions), (
        f"{policy}: explaining must not change the decision"
    )

    started = [s.item_id for s in decision.starts]
    assert len(set(started)) == len(started)
    assert len(set(decision.preemptions)) == len(decision.preemptions)
    for item_id in decision.preemptions:
        assert state.running[item_id].entry.item.interruptible, (
            f"{policy} preempted non-interruptible work"
        )
    names = set(state.pool.names)
    for start in decision.starts:
        item = state.waiting[start.item_id].item
        assert len(start.placement) == item.gang_size, f"{policy}: a gang must start whole"
        assert set(start.placement) <= names
    assert not set(decision.reasons) & set(started)
    assert set(decision.reasons) == set(state.waiting) - set(started), (
        f"{policy}: every waiting item needs a reason"
    )

    if isinstance(state.policy, AirfoilPolicy):
        check_airfoil_victims(state, decision.preemptions, started, caps, now)
        check_airfoil_due_share(state, started, now)

    before = {p: list(u) for p, u in state.usage.items()}
    state.apply(decision, now)  # raises PlacementError on any over-commit
    pool = state.pool
    for n in range(len(pool.names)):
        assert 0 <= pool.free_c[n] <= pool.cap_c[n], policy
        assert 0 <= pool.free_m[n] <= pool.cap_m[n], policy
        assert 0 <= pool.free_g[n] <= pool.cap_g[n], policy
    for project, limit in state.limits.items():
        if any(state.running[i].entry.project == project for i in started):
            usage = state.usage.get(project, [0, 0, 0])
            assert all(u <= cap for u, cap in zip(usage, limit, strict=True)), (
                f"{policy} started work of {project} over its cap {limit}: {usage} "
                f"(was {before.get(project)})"
            )


def check_airfoil_victims(
    state: SchedulerState,
    preempted: tuple[str, ...],
    started: list[str],
    caps: dict[str, Quota],
    now: float,
) -> None:
    """Without quotas, ``airfoil`` never preempts work started as due, nor higher priorities.

    (With quotas, reclaim may take any borrowed interruptible work, as in ``fair``.)
    """
    if caps:
        return
    top = max((state.waiting[i].item.priority for i in started), default=None)
    for item_id in preempted:
        run = state.running[item_id]
        due = run.entry.reserve_from
        assert due is None or run.start < due, "airfoil preempted work it started as due"
        assert top is not None and run.entry.item.priority <= top, (
            "airfoil preempted work of a higher priority than anything it started"
        )
    check_airfoil_preempt_ratio(state, preempted, started, now)


def check_airfoil_preempt_ratio(
    state: SchedulerState, preempted: tuple[str, ...], started: list[str], now: float
) -> None:
    """With ``preempt_ratio``, least attained service stops only work expected to run at
    least that many times longer than the claimant (so longer than the shortest start), or
    work already past its estimate (its end is unknown).

    Gangs (due, never subject to the ratio) may preempt anything, so decisions that start
    due work are left out.
    """
    policy = state.policy
    assert isinstance(policy, AirfoilPolicy)
    ratio = policy.preempt_ratio
    entries = [state.waiting[i] for i in started]
    if ratio is None or not preempted or not entries:
        return
    if any(e.reserve_from is not None and e.reserve_from <= now for e in entries):
        return
    shortest = min(e.estimate for e in entries)
    for item_id in preempted:
        run = state.running[item_id]
        left = run.entry.estimate - (now - run.start)
        assert left < 0 or left > ratio * shortest, (
            f"airfoil preempted {item_id!r} with {left:.0f} s left for a claimant expected "
            f"to take at least {shortest:.0f} s (preempt_ratio {ratio})"
        )


def check_airfoil_due_share(state: SchedulerState, started: list[str], now: float) -> None:
    """Work started as due stays within ``due_share`` of the cluster (never preempted).

    The one exception: when no work started as due runs, one due item may start whatever
    its size (else an item larger than the cap would wait for ever).
    """
    policy = state.policy
    assert isinstance(policy, AirfoilPolicy)
    share = policy.due_share
    assert share is not None
    limit = [share * total for total in state.totals]

    def usage(shapes: list[tuple[tuple[int, int, int], int]]) -> list[int]:
        return [sum(demand[i] * workers for demand, workers in shapes) for i in range(3)]

    before = usage(
        [
            (run.entry.demand, run.entry.workers)
            for run in state.running.values()
            if run.entry.reserve_from is not None and run.start >= run.entry.reserve_from
        ]
    )
    entries = [state.waiting[i] for i in started]
    due = [
        (e.demand, e.workers)
        for e in entries
        if e.reserve_from is not None and e.reserve_from <= now
    ]
    after = [b + a for b, a in zip(before, usage(due), strict=True)]
    if due and any(a > lim for a, lim in zip(after, limit, strict=True)):
        assert not any(before) and len(due) == 1, (
            f"airfoil started due work past its cap: {before} + {usage(due)} > {limit}"
        )
    budgets = []
    if policy.due_gang_hours is not None:
        budgets.append(policy.due_gang_hours * 3600.0 * state.totals[2])
    if policy.due_gang_scale is not None and state.gangs_seen:
        budgets.append(policy.due_gang_scale * state.gang_gpu_seconds_seen / state.gangs_seen)
    queued = _gang_queue_applies(policy, state, entries, now)
    if budgets and queued:
        # due gangs' expected GPU-seconds stay within the budget, but for one when none runs
        # (with due_gang_queue, checked when the queue made the budget apply to every gang)
        budget = max(budgets)
        held = [
            run
            for run in state.running.values()
            if run.entry.workers > 1
            and run.entry.reserve_from is not None
            and run.start >= run.entry.reserve_from
        ]
        work = sum(r.entry.demand[2] * r.entry.workers * max(r.end_key[0] - now, 0) for r in held)
        new = [e for e in entries if e.workers > 1 and e.reserve_from is not None]
        new = [e for e in new if e.reserve_from <= now]
        work += sum(e.demand[2] * e.workers * e.estimate for e in new)
        if new and work > budget:
            assert not held and len(new) == 1, (
                f"airfoil started due gangs past their budget: {work:.0f} > {budget:.0f} GPU-s"
            )


def _gang_queue_applies(
    policy: AirfoilPolicy, state: SchedulerState, started: list[WaitingEntry], now: float
) -> bool:
    """Whether ``due_gang_queue`` let the gangs' caps apply to every due gang ``started``:
    the waiting work (with ``due_gang_others``, of other projects than the gang's) asks for
    that many times the cluster's GPUs (``None``: always)."""
    if policy.due_gang_queue is None:
        return True
    bar = policy.due_gang_queue * state.totals[2]
    waiting = list(state.waiting.values())
    if not policy.due_gang_others:
        return sum(e.demand[2] * e.workers for e in waiting) >= bar
    gangs = [e for e in started if e.workers > 1 and e.reserve_from is not None]
    return all(
        sum(e.demand[2] * e.workers for e in waiting if e.project != gang.project) >= bar
        for gang in gangs
        if gang.reserve_from is not None and gang.reserve_from <= now
    )


@st.composite
def contested(draw: st.DrawFn) -> tuple[list[Node], list[WorkItem], list[WorkItem], float]:
    """A full GPU cluster of level-1 interruptible work and a queue of fresh single workers:
    the case where least attained service preempts, so the ratio decides every victim."""
    cluster = [
        Node(f"n{i}", ResourceSpec(cpu=64.0, mem=256 * GIB, gpu=8))
        for i in range(draw(st.integers(1, 3)))
    ]
    run = [
        WorkItem(
            id=f"r{i}",
            project="a",
            resources=ResourceSpec(cpu=1.0, mem=GIB, gpu=draw(st.sampled_from((1, 2, 4, 8)))),
            interruptible=True,
            # started at ``now - submit_time / 2`` (see ``build``): some ran past their estimate
            submit_time=float(draw(st.integers(0, 2000))),
            estimate=draw(st.floats(10.0, 20_000.0)),
            attained=50_000.0,
        )
        for i in range(draw(st.integers(1, 12)))
    ]
    queue = [
        WorkItem(
            id=f"w{i}",
            project="b",
            resources=ResourceSpec(cpu=1.0, mem=GIB, gpu=draw(st.sampled_from((1, 2, 4, 8)))),
            submit_time=float(draw(st.integers(0, 1000))),
            estimate=draw(st.floats(10.0, 20_000.0)),
        )
        for i in range(draw(st.integers(1, 8)))
    ]
    return cluster, run, queue, float(draw(st.integers(1000, 3000)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=contested(), ratio=st.sampled_from((0.5, 1.0, 2.0)))
def test_airfoil_preempts_only_work_expected_to_outlast_its_claimant(
    scenario: tuple[list[Node], list[WorkItem], list[WorkItem], float], ratio: float
) -> None:
    cluster, run, queue, now = scenario
    check_invariants(AirfoilPolicy(preempt_ratio=ratio), cluster, run, queue, {}, now)
