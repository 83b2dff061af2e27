"""``AirfoilPolicy``'s rules that act only while the cluster is calm (``_calm.py``, off)."""

from __future__ import annotations

import msgspec
import pytest
from sched_factories import gpu_node, gpus, running, starts

from airfoil.scheduler import AirfoilPolicy, InvalidPolicyError, decide

pytestmark = pytest.mark.unit

ONE_NODE = [gpu_node("n0", 8)]
TWO_NODES = [gpu_node("n0", 8), gpu_node("n1", 8)]


def test_calm_spare_whole_keeps_whole_node_work_running_only_while_the_queue_is_short() -> None:
    """``calm_spare_whole``: while waiting work asks for under ``calm_queue`` clusters'
    GPUs, a single claimant does not preempt a whole-node single; with a longer queue it
    does, as by default."""
    whole = running(gpus("whole", 8, interruptible=True, estimate=100_000.0), "n0")
    claimant = gpus("x", 4, submit=900.0, estimate=100.0)
    spare = AirfoilPolicy(calm_queue=1.0, calm_spare_whole=True)
    assert decide([claimant], [whole], ONE_NODE, now=1000.0).preemptions == ("whole",)
    calm = decide([claimant], [whole], ONE_NODE, now=1000.0, policy=spare)
    assert calm.preemptions == () and starts(calm) == []
    # 4 + 4 GPUs asked: the bar of one cluster (8 GPUs) is reached, so not calm
    busy = [claimant, gpus("y", 4, submit=950.0, estimate=100.0)]
    assert decide(busy, [whole], ONE_NODE, now=1000.0, policy=spare).preemptions == ("whole",)
    # without ``calm_queue`` the cluster is never calm: the rule never acts
    never = AirfoilPolicy(calm_spare_whole=True)
    assert decide([claimant], [whole], ONE_NODE, now=1000.0, policy=never).preemptions == ("whole",)


def test_calm_whole_last_takes_a_smaller_victim_before_a_whole_node_single() -> None:
    """``calm_whole_last``: for a claimant of less than a node, whole-node singles are the
    last victims (here, the 4-GPU job with less work left is taken instead)."""
    run = [
        running(gpus("whole", 8, interruptible=True, estimate=100_000.0), "n0"),
        running(gpus("half", 4, interruptible=True, estimate=50_000.0), "n1"),
        running(gpus("other", 4, estimate=50_000.0), "n1"),
    ]
    x = gpus("x", 1, submit=900.0, estimate=60.0)
    assert decide([x], run, TWO_NODES, now=1000.0).preemptions == ("whole",)
    last = AirfoilPolicy(calm_queue=1.0, calm_whole_last=True)
    d = decide([x], run, TWO_NODES, now=1000.0, policy=last)
    assert d.preemptions == ("half",) and starts(d) == [("x", ("n1",))]
    # the only victim left: the whole-node single is still taken
    alone = [run[0], running(gpus("fixed", 8, estimate=50_000.0), "n1")]
    assert decide([x], alone, TWO_NODES, now=1000.0, policy=last).preemptions == ("whole",)


def test_calm_lost_limit_spares_work_that_lost_enough_waiting_after_a_preemption() -> None:
    """``calm_lost_limit`` f: a single worker preempted before that has waited at least f
    times its whole estimate is no victim while within its estimate; the next victim in
    order is taken, and the decision asks to be woken when the spared one is past it."""
    # preempted once, queued from its submit (0) to its restart (5000): 5000 s lost
    lost = msgspec.structs.replace(
        gpus("lost", 4, interruptible=True, estimate=10_000.0), preempted=1
    )
    other = gpus("other", 4, interruptible=True, submit=4000.0, estimate=8_000.0)
    run = [running(lost, "n0", start=5000.0), running(other, "n0", start=5000.0)]
    x = gpus("x", 4, submit=5500.0, estimate=100.0)
    assert decide([x], run, ONE_NODE, now=6000.0).preemptions == ("lost",)  # most work left
    spared = AirfoilPolicy(calm_queue=1.0, calm_lost_limit=0.5)  # 5000 >= 0.5 x 10,000
    d = decide([x], run, ONE_NODE, now=6000.0, policy=spared)
    assert d.preemptions == ("other",)
    assert d.wake_at == 15_000.0
    # a higher bound (5000 < 0.6 x 10,000), or a queue past the bar, spares nothing
    higher = AirfoilPolicy(calm_queue=1.0, calm_lost_limit=0.6)
    assert decide([x], run, ONE_NODE, now=6000.0, policy=higher).preemptions == ("lost",)
    long_queue = [x, gpus("y", 4, submit=5600.0, estimate=100.0)]
    assert decide(long_queue, run, ONE_NODE, now=6000.0, policy=spared).preemptions[0] == "lost"
    # never preempted: nothing was lost to a preemption
    fresh = [running(msgspec.structs.replace(lost, preempted=0), "n0", start=5000.0), run[1]]
    assert decide([x], fresh, ONE_NODE, now=6000.0, policy=spared).preemptions == ("lost",)


def test_calm_reserve_after_reserves_for_a_long_waiting_whole_node_single() -> None:
    """``calm_reserve_after`` a: a whole-node single that waited a times its estimate holds
    the reservation; later work is EASY backfill around it (it starts only where it leaves
    the reserved room, or if it ends before the reservation)."""
    run = [
        running(gpus("r0", 4, estimate=3_000.0), "n0"),  # n0 frees at 3000
        running(gpus("r1", 2, estimate=10_000.0), "n1"),
    ]
    whole = gpus("whole", 8, submit=0.0, estimate=1_000.0)
    short = gpus("short", 4, submit=1_900.0, estimate=5_000.0)
    # by default the short job takes the best fit, n0's four free GPUs
    d = decide([whole, short], run, TWO_NODES, now=2_000.0)
    assert starts(d) == [("short", ("n0",))]
    reserve = AirfoilPolicy(calm_queue=1.0, calm_reserve_after=1.0)
    d = decide([whole, short], run, TWO_NODES, now=2_000.0, policy=reserve)
    assert starts(d) == [("short", ("n1",))]  # n0 is held for "whole" from 3000
    assert d.reasons["whole"].startswith("holding a reservation")
    # not yet waited its estimate: no reservation
    d = decide([whole, short], run, TWO_NODES, now=900.0, policy=reserve)
    assert starts(d) == [("short", ("n0",))]
    # a whole-node single that fits starts at once, ahead of the least-attained-service pass
    free = [running(gpus("r1", 2, estimate=10_000.0), "n1")]
    d = decide([short, whole], free, TWO_NODES, now=2_000.0, policy=reserve)
    assert ("whole", ("n0",)) in starts(d)


def test_calm_defragment_after_lets_a_recent_whole_node_waiter_claim_while_calm() -> None:
    """``calm_defragment_after`` a: while calm, ``defragment``'s claimant needs to have
    waited only a times its estimate; with a long queue ``defragment_after`` holds."""
    three = [*TWO_NODES, gpu_node("n2", 8)]
    # n0 and n1 half held by interruptible work, n2 full (not interruptible)
    run = [
        running(gpus("a", 4, estimate=36_000.0, interruptible=True), "n0", start=900.0),
        running(gpus("b", 4, estimate=36_000.0, interruptible=True), "n1", start=900.0),
        running(gpus("full", 8, estimate=36_000.0), "n2", start=900.0),
    ]
    w = gpus("w", 8, submit=0.0, estimate=3_600.0, attained=5_000.0)  # past the first level
    calm = AirfoilPolicy(calm_queue=1.0, calm_defragment_after=0.0)
    assert decide([w], run, three, now=1_000.0).preemptions == ()  # default: waited 1000 s
    d = decide([w], run, three, now=1_000.0, policy=calm)
    assert d.preemptions in (("a",), ("b",))  # one half moved onto the other node's room
    assert starts(d) == [("w", ("n0" if d.preemptions == ("a",) else "n1",))]
    # 8 + 4 x 6 GPUs waiting: past one cluster's 24, so not calm; ``defragment_after`` holds
    halves = [gpus(f"h{i}", 6, submit=900.0, estimate=3_600.0) for i in range(4)]
    assert decide([w, *halves], run, three, now=1_000.0, policy=calm).preemptions == ()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"calm_queue": 0.0}, "calm_queue must be a positive number"),
        ({"calm_lost_limit": -1.0}, "calm_lost_limit must be a finite number >= 0"),
        ({"calm_reserve_after": float("inf")}, "calm_reserve_after must be a finite number"),
        ({"calm_defragment_after": -1.0}, "calm_defragment_after must be a finite number"),
    ],
)
def test_calm_settings_are_checked(setting: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        AirfoilPolicy(**setting)  # type: ignore[arg-type]
