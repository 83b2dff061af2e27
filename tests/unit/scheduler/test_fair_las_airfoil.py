"""fair, las, stretch and airfoil on hand-made cases with exact expected decisions."""

from __future__ import annotations

import pytest
from sched_factories import gpu_node, gpu_quota, gpus, make_state, running, starts

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import Decision, LasPolicy, Quota, StretchPolicy, decide

pytestmark = pytest.mark.unit

ONE_NODE = [gpu_node("n0", 8)]
TWO_NODES = [gpu_node("n0", 8), gpu_node("n1", 8)]
FAIR_POLICIES = ("fair", "stretch", "airfoil")


@pytest.mark.parametrize("policy", ["fair", "stretch"])
def test_free_room_goes_to_the_project_with_the_lowest_dominant_share(policy: str) -> None:
    run = [running(gpus("a0", 5, project="A"), "n0"), running(gpus("b0", 1, project="B"), "n0")]
    queue = [
        gpus("a1", 1, project="A", submit=0),
        gpus("b1", 1, project="B", submit=1),
        gpus("c1", 1, project="C", submit=2),
    ]
    d = decide(queue, run, ONE_NODE, now=10.0, policy=policy)
    assert starts(d) == [("c1", ("n0",)), ("b1", ("n0",))]
    assert "a1" in d.reasons
    # FIFO would have served A first
    assert [s.item_id for s in decide(queue, run, ONE_NODE, now=10.0, policy="fifo").starts] == [
        "a1",
        "b1",
    ]


def test_fair_share_weights_scale_entitlement() -> None:
    quotas = {"A": gpu_quota(0, weight=3.0), "B": gpu_quota(0, weight=1.0)}
    run = [running(gpus("a0", 3, project="A"), "n0"), running(gpus("b0", 2, project="B"), "n0")]
    queue = [gpus("b1", 3, project="B", submit=0), gpus("a1", 3, project="A", submit=1)]
    d = decide(queue, run, ONE_NODE, now=10.0, policy="fair", quotas=quotas)
    # A's share 3/8 / 3 = 0.125 is below B's 2/8 = 0.25, so A gets the 3 free GPUs
    assert starts(d) == [("a1", ("n0",))]


@pytest.mark.parametrize("policy", FAIR_POLICIES)
def test_projects_borrow_idle_capacity_beyond_their_nominal_quota(policy: str) -> None:
    quotas = {"A": gpu_quota(4), "B": gpu_quota(4)}
    queue = [gpus(f"a{i}", 1, project="A", submit=i) for i in range(6)]
    d = decide(queue, [], ONE_NODE, now=10.0, policy=policy, quotas=quotas)
    assert len(d.starts) == 6 and d.preemptions == ()


@pytest.mark.parametrize("policy", FAIR_POLICIES)
def test_reclaim_preempts_the_newest_borrowed_interruptible_work(policy: str) -> None:
    quotas = {"A": gpu_quota(4), "B": gpu_quota(4)}
    run = [
        running(gpus(f"a{i}", 1, project="A", interruptible=True), "n0", start=float(i))
        for i in range(8)
    ]
    queue = [gpus(f"b{i}", 1, project="B", submit=10 + i) for i in range(3)]
    d = decide(queue, run, ONE_NODE, now=20.0, policy=policy, quotas=quotas)
    assert d.preemptions == ("a7", "a6", "a5")
    assert starts(d) == [("b0", ("n0",)), ("b1", ("n0",)), ("b2", ("n0",))]


@pytest.mark.parametrize("policy", FAIR_POLICIES)
def test_reclaim_stops_at_the_lenders_nominal_and_the_claimants_quota(policy: str) -> None:
    quotas = {"A": gpu_quota(4), "B": gpu_quota(4)}
    run = [
        running(gpus(f"a{i}", 1, project="A", interruptible=True), "n0", start=float(i))
        for i in range(6)
    ]
    queue = [gpus("b0", 4, project="B", submit=10), gpus("b1", 1, project="B", submit=11)]
    d = decide(queue, run, ONE_NODE, now=20.0, policy=policy, quotas=quotas)
    # 2 GPUs were free; b0 needs 2 more: A gives back exactly its 2 borrowed GPUs
    assert d.preemptions == ("a5", "a4")
    assert starts(d) == [("b0", ("n0",))]
    # b1 would take B above its nominal 4: it may borrow, but not reclaim
    assert d.reasons["b1"].startswith("waiting for 1 GPU")


@pytest.mark.parametrize("policy", FAIR_POLICIES)
def test_reclaim_never_preempts_non_interruptible_work(policy: str) -> None:
    quotas = {"A": gpu_quota(4), "B": gpu_quota(4)}
    run = [running(gpus(f"a{i}", 1, project="A"), "n0", start=float(i)) for i in range(8)]
    d = decide([gpus("b0", 1, project="B")], run, ONE_NODE, now=20.0, policy=policy, quotas=quotas)
    assert d.preemptions == () and d.starts == ()


def test_reclaim_takes_the_lowest_priority_victims_first() -> None:
    quotas = {"A": gpu_quota(4), "B": gpu_quota(4)}
    run = [
        running(gpus(f"a{i}", 1, project="A", interruptible=True, priority=i % 2), "n0", start=i)
        for i in range(8)
    ]
    d = decide([gpus("b0", 2, project="B")], run, ONE_NODE, now=20.0, policy="fair", quotas=quotas)
    assert d.preemptions == ("a6", "a4")  # priority 0, newest first


def test_las_runs_least_attained_first_and_preempts_the_most_served() -> None:
    nodes = [gpu_node("n0", 2)]
    run = [
        running(gpus("hi", 1, interruptible=True, attained=50_000.0), "n0", start=100.0),
        running(gpus("mid", 1, interruptible=True, attained=5_000.0), "n0", start=100.0),
    ]
    queue = [gpus("served", 1, attained=5_000.0, submit=0), gpus("new", 1, submit=50)]
    d = decide(queue, run, nodes, now=100.0, policy="las")
    # "new" (level 0) preempts "hi" (level 2); "served" (level 1) may not preempt "mid" (level 1)
    assert d.preemptions == ("hi",)
    assert starts(d) == [("new", ("n0",))]
    assert "served" in d.reasons


def test_las_skips_non_interruptible_victims() -> None:
    nodes = [gpu_node("n0", 2)]
    run = [
        running(gpus("hi", 1, attained=50_000.0), "n0", start=100.0),
        running(gpus("mid", 1, interruptible=True, attained=5_000.0), "n0", start=100.0),
    ]
    d = decide([gpus("new", 1)], run, nodes, now=100.0, policy="las")
    assert d.preemptions == ("mid",)
    assert starts(d) == [("new", ("n0",))]


def test_las_wakes_when_running_work_crosses_a_level() -> None:
    policy = LasPolicy(thresholds=(3600.0,))
    run = [running(gpus("r", 8, interruptible=True), "n0", start=0.0)]
    d = decide([gpus("w", 8, submit=50)], run, ONE_NODE, now=100.0, policy=policy)
    assert d.starts == () and d.preemptions == ()
    assert d.wake_at == pytest.approx(450.0)  # 8 GPUs x 450 s = 3600 GPU-seconds
    d = decide([gpus("w", 8, submit=50)], run, ONE_NODE, now=450.0, policy=policy)
    assert d.preemptions == ("r",)


def test_las_gang_preemption_frees_whole_nodes() -> None:
    run = [
        running(gpus("x", 8, interruptible=True, attained=10**6), "n0", start=0.0),
        running(gpus("y", 8, interruptible=True, attained=10**6), "n1", start=1.0),
    ]
    d = decide([gpus("g", 8, gang=2)], run, TWO_NODES, now=5.0, policy="las")
    assert d.preemptions == ("y", "x")
    assert starts(d) == [("g", ("n1", "n0"))]


def _gang_case(now: float) -> Decision:
    run = [
        running(gpus("r0", 8, estimate=100.0), "n0", start=0.0),
        running(gpus("r1", 4, estimate=1000.0), "n1", start=0.0),
    ]
    queue = [
        gpus("gang", 8, gang=2, project="p", submit=0.0),
        gpus("long", 4, project="q", submit=200.0, estimate=5000.0),
    ]
    return decide(queue, run, TWO_NODES, now=now, policy="stretch")


def test_stretch_reserves_for_a_gang_that_waited_and_backfills_around_it() -> None:
    early = _gang_case(now=300.0)
    # the gang waited 300 s < 600 s: no reservation yet, the long job takes the free GPUs
    assert starts(early) == [("long", ("n1",))]
    assert early.wake_at == 600.0
    late = _gang_case(now=700.0)
    # now it holds n0 and n1 from t=1000 (when r1 should end); "long" would delay it
    assert late.starts == ()
    assert late.reasons["gang"] == (
        "holding a reservation: expected to start in ~5 min as running work ends"
    )
    assert late.reasons["long"].startswith("reserved for gang 'gang'")
    assert late.preemptions == ()


def test_stretch_serves_short_work_first_within_a_project_but_ages_waiting_work() -> None:
    nodes = [gpu_node("n0", 1)]
    queue = [
        gpus("long", 1, submit=0.0, estimate=10_000.0),
        gpus("short", 1, submit=50.0, estimate=100.0),
    ]
    assert [s.item_id for s in decide(queue, [], nodes, now=60.0, policy="stretch").starts] == [
        "short"
    ]
    # an item that waited 4x its estimate ranks ahead of anything submitted after that
    queue = [
        gpus("old", 1, submit=0.0, estimate=1000.0),
        gpus("fresh", 1, submit=4001.0, estimate=1.0),
    ]
    assert [s.item_id for s in decide(queue, [], nodes, now=4001.0, policy="stretch").starts] == [
        "old"
    ]
    stretched = StretchPolicy(stretch=0.0)  # stretch 0 is plain FIFO within a project
    queue = [
        gpus("long", 1, submit=0.0, estimate=10_000.0),
        gpus("short", 1, submit=50.0, estimate=100.0),
    ]
    assert [s.item_id for s in decide(queue, [], nodes, now=60.0, policy=stretched).starts] == [
        "long"
    ]


def test_stretch_never_preempts_without_quotas() -> None:
    run = [
        running(gpus("r0", 8, interruptible=True, estimate=10.0), "n0", start=0.0),
        running(gpus("r1", 8, interruptible=True, estimate=10.0), "n1", start=0.0),
    ]
    state = make_state(TWO_NODES, "stretch", run=run, queue=[gpus("g", 8, gang=2, submit=0.0)])
    d = state.decide(10_000.0)
    assert d.preemptions == () and d.starts == ()
    assert d.reasons["g"].startswith("holding a reservation")


def test_stretch_reserves_a_node_for_whole_node_work_once_it_is_overdue() -> None:
    run = [
        running(gpus("r0", 4, estimate=100.0), "n0", start=0.0),
        running(gpus("r1", 8, estimate=10_000.0), "n1", start=0.0),
    ]
    queue = [
        gpus("whole", 8, project="p", submit=0.0, estimate=100.0),
        gpus("long", 4, project="q", submit=50.0, estimate=5000.0),
    ]
    # not yet due (due at max(600 s, 4 x 100 s) = 600 s): fair share lets "long" take n0
    early = decide(queue, run, TWO_NODES, now=500.0, policy="stretch")
    assert starts(early) == [("long", ("n0",))]
    assert early.wake_at == 600.0
    # overdue: n0 is held for it as soon as r0 ends, and "long" may not delay that
    late = decide(queue, run, TWO_NODES, now=700.0, policy="stretch")
    assert late.starts == ()
    assert late.reasons["whole"].startswith("holding a reservation")
    assert late.reasons["long"].startswith("reserved for 'whole': starting now would delay it")


@pytest.mark.parametrize("policy", FAIR_POLICIES)
def test_a_quota_governs_only_the_resources_it_names(policy: str) -> None:
    # nominal names GPUs only: CPUs and memory are neither capped nor part of the guarantee
    gpu_only = {
        "A": Quota(ResourceSpec(gpu=2), borrowing_limit=ResourceSpec()),
        "B": Quota(ResourceSpec(gpu=6)),
    }
    queue = [gpus(f"a{i}", 1, project="A", submit=i, cpu=8.0) for i in range(3)]
    d = decide(queue, [], ONE_NODE, now=10.0, policy=policy, quotas=gpu_only)
    assert [s.item_id for s in d.starts] == ["a0", "a1"]  # capped at 2 GPUs, CPUs unlimited
    assert d.reasons["a2"] == (
        "project 'A' over quota: it uses 2 of its 2 GPUs and this needs 1 more"
    )
    run = [
        running(gpus(f"b{i}", 1, project="B", interruptible=True, cpu=8.0), "n0", start=i)
        for i in range(8)
    ]
    d = decide(queue[:1], run, ONE_NODE, now=10.0, policy=policy, quotas=gpu_only)
    assert d.preemptions == ("b7",)  # B borrows 2 GPUs above its 6; A reclaims one
    assert starts(d) == [("a0", ("n0",))]


def test_las_preempts_at_most_max_preemptions_per_decision_then_goes_on() -> None:
    nodes = [gpu_node(f"n{i}", 8) for i in range(4)]
    run = [
        running(gpus(f"r{i}", 1, interruptible=True, attained=50_000.0), f"n{i // 8}", start=0.0)
        for i in range(32)
    ]
    queue = [gpus(f"w{i}", 1, submit=float(i)) for i in range(32)]
    capped = make_state(nodes, LasPolicy(max_preemptions=5), run=run, queue=queue)
    now, rounds, preempted, started = 100.0, 0, [], []
    while capped.waiting:
        d = capped.decide(now)
        assert len(d.preemptions) <= 5
        preempted += d.preemptions
        started += [s.item_id for s in d.starts if s.item_id.startswith("w")]
        capped.apply(d, now)
        rounds += 1
        if d.wake_at is None:
            break
        assert d.wake_at == pytest.approx(now + 1e-3)
        now = d.wake_at
    assert rounds == 7  # 32 preemptions, 5 a decision
    uncapped = decide(queue, run, nodes, now=100.0, policy=LasPolicy(max_preemptions=1000))
    assert sorted(preempted) == sorted(uncapped.preemptions)
    assert sorted(started) == sorted(s.item_id for s in uncapped.starts)
