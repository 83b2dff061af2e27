"""fifo, fifo-skip and backfill on hand-made cases with exact expected decisions."""

from __future__ import annotations

import pytest
from sched_factories import gpu_node, gpu_quota, gpus, make_state, running, starts

from airfoil.scheduler import decide

pytestmark = pytest.mark.unit

TWO_NODES = [gpu_node("n0", 8), gpu_node("n1", 8)]


def test_strict_fifo_blocks_everything_behind_a_head_that_does_not_fit() -> None:
    run = [running(gpus("r", 6), "n0")]
    queue = [gpus("a", 1, submit=0), gpus("big", 8, gang=2, submit=1), gpus("c", 1, submit=2)]
    d = decide(queue, run, TWO_NODES, now=10.0, policy="fifo")
    assert starts(d) == [("a", ("n0",))]
    assert d.reasons["big"] == (
        "waiting for room for a gang of 2 workers x (8 GPUs, 1 CPU, 1 GiB): a gang starts "
        "whole or not at all"
    )
    assert d.reasons["c"] == (
        "behind 'big', which cannot start yet (strict FIFO: nothing passes the head)"
    )
    assert d.preemptions == ()


def test_fifo_skip_lets_fitting_work_pass_a_blocked_head() -> None:
    run = [running(gpus("r", 6), "n0")]
    queue = [gpus("a", 1, submit=0), gpus("big", 8, gang=2, submit=1), gpus("c", 1, submit=2)]
    d = decide(queue, run, TWO_NODES, now=10.0, policy="fifo-skip")
    assert starts(d) == [("a", ("n0",)), ("c", ("n0",))]
    assert set(d.reasons) == {"big"}


def test_gang_starts_whole_on_distinct_nodes_or_not_at_all() -> None:
    d = decide([gpus("g", 8, gang=2)], [], TWO_NODES, now=0.0, policy="fifo")
    assert starts(d) == [("g", ("n0", "n1"))]
    # one node busy: neither worker starts
    d = decide(
        [gpus("g", 8, gang=2)], [running(gpus("r", 1), "n1")], TWO_NODES, now=0.0, policy="fifo"
    )
    assert d.starts == ()


def test_priority_goes_before_submit_order() -> None:
    queue = [gpus("early", 8, submit=0), gpus("urgent", 8, submit=5, priority=10)]
    d = decide(queue, [], [gpu_node("n0", 8)], now=10.0, policy="fifo")
    assert starts(d) == [("urgent", ("n0",))]


def test_quota_cap_holds_back_only_its_project_and_is_never_exceeded() -> None:
    quotas = {"x": gpu_quota(2, borrow=0)}
    queue = [
        gpus("x1", 2, project="x", submit=0),
        gpus("x2", 1, project="x", submit=1),
        gpus("y1", 1, project="y", submit=2),
    ]
    for policy in ("fifo", "fifo-skip", "backfill", "fair", "las", "airfoil"):
        state = make_state([gpu_node("n0", 8)], policy, queue=queue, quotas=quotas)
        d = state.decide(10.0)
        assert sorted(s.item_id for s in d.starts) == ["x1", "y1"], policy
        assert d.reasons["x2"] == (
            "project 'x' over quota: it uses 2 of its 2 GPUs and this needs 1 more"
        ), policy


def test_backfill_refuses_work_that_would_delay_the_reservation() -> None:
    # n0 frees at t=100 (estimate), n1 at t=1000; the head needs a whole node.
    run = [
        running(gpus("r0", 4, estimate=100.0), "n0"),
        running(gpus("r1", 8, estimate=1000.0), "n1"),
    ]
    queue = [
        gpus("head", 8, submit=0, estimate=500.0),
        gpus("long", 4, submit=1, estimate=500.0),
        gpus("short", 4, submit=2, estimate=50.0),
    ]
    d = decide(queue, run, TWO_NODES, now=0.0, policy="backfill")
    # "short" ends by t=50, before the head's reservation at t=100; "long" would hold n0 past it.
    assert starts(d) == [("short", ("n0",))]
    assert d.reasons["head"] == (
        "holding a reservation: expected to start in ~100 s as running work ends"
    )
    assert d.reasons["long"].startswith("reserved for 'head': starting now would delay it")
    # fifo-skip has no such scruple: it starts "long" and the head waits longer
    d = decide(queue, run, TWO_NODES, now=0.0, policy="fifo-skip")
    assert starts(d) == [("long", ("n0",))]


def test_backfill_may_use_nodes_the_reservation_does_not_need() -> None:
    nodes = [*TWO_NODES, gpu_node("n2", 8)]
    run = [
        running(gpus("r0", 4, estimate=100.0), "n0"),
        running(gpus("r1", 8, estimate=1000.0), "n1"),
        running(gpus("r2", 4, estimate=1000.0), "n2"),
    ]
    queue = [gpus("head", 8, submit=0), gpus("long", 4, submit=1, estimate=5000.0)]
    d = decide(queue, run, nodes, now=0.0, policy="backfill")
    # the head is reserved on n0 (free at t=100); "long" runs past that, but on n2
    assert starts(d) == [("long", ("n2",))]


def test_backfill_reserves_for_a_gang_across_nodes() -> None:
    run = [
        running(gpus("r0", 8, estimate=300.0), "n0"),
        running(gpus("r1", 8, estimate=200.0), "n1"),
    ]
    nodes = [*TWO_NODES, gpu_node("n2", 4)]
    queue = [gpus("gang", 8, gang=2, submit=0), gpus("small", 2, submit=1, estimate=400.0)]
    d = decide(queue, run, nodes, now=0.0, policy="backfill")
    # both 8-GPU nodes are reserved from t=300; n2 cannot hold a worker, so "small" may use it
    assert (
        d.reasons["gang"]
        == "holding a reservation: expected to start in ~5 min as running work ends"
    )
    assert starts(d) == [("small", ("n2",))]
