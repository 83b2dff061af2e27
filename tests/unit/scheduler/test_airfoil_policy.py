"""The default ``airfoil`` policy on hand-made cases with exact expected decisions."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from sched_factories import gpu_node, gpu_quota, gpus, make_state, running, starts

from airfoil.core.errors import ConfigError
from airfoil.scheduler import (
    AirfoilPolicy,
    InvalidPolicyError,
    InvalidWorkItemError,
    RunningItem,
    decide,
)
from airfoil.scheduler._round import Round

pytestmark = pytest.mark.unit

ONE_NODE = [gpu_node("n0", 8)]
TWO_NODES = [gpu_node("n0", 8), gpu_node("n1", 8)]


def test_a_gang_preempts_interruptible_work_to_start_at_once() -> None:
    run = [
        running(gpus("r0", 8, interruptible=True, estimate=100.0), "n0"),
        running(gpus("r1", 4, interruptible=True, estimate=10_000.0), "n1"),
        running(gpus("r2", 4, interruptible=True, estimate=50.0), "n1"),
    ]
    d = decide([gpus("g", 8, gang=2, submit=5.0)], run, TWO_NODES, now=10.0)
    assert sorted(d.preemptions) == ["r0", "r1", "r2"]
    assert starts(d) == [("g", ("n0", "n1"))]


def test_a_gang_that_cannot_preempt_holds_a_reservation_with_easy_backfill_around_it() -> None:
    run = [
        running(gpus("r0", 8, estimate=100.0), "n0"),
        running(gpus("r1", 2, estimate=1000.0), "n1"),
    ]
    queue = [
        gpus("g", 8, gang=2, submit=0.0),
        gpus("short", 2, submit=5.0, estimate=500.0),
        gpus("long", 4, submit=6.0, estimate=5000.0),
    ]
    d = decide(queue, run, TWO_NODES, now=10.0)
    assert d.preemptions == ()  # nothing running is interruptible
    assert starts(d) == [("short", ("n1",))]  # ends at 510 s, before the gang's 1000 s
    assert d.reasons["g"].startswith("holding a reservation")
    assert d.reasons["long"].startswith("reserved for gang 'g'")


def test_least_attained_service_preempts_the_victim_with_the_most_work_left() -> None:
    run = [
        running(gpus("a", 4, interruptible=True, estimate=10_000.0), "n0"),
        running(gpus("b", 4, interruptible=True, estimate=200.0), "n0"),
    ]
    # at t=1000 both have 4,000 GPU-s of service (level 1); "x" has none (level 0)
    d = decide([gpus("x", 4, submit=900.0)], run, ONE_NODE, now=1000.0)
    assert d.preemptions == ("a",)
    assert starts(d) == [("x", ("n0",))]


def _level_one_pair() -> list[RunningItem]:
    # at t=1000 both have 4,000 GPU-s of service (level 1): "a" has 9,000 s left, "b" 200 s
    return [
        running(gpus("a", 4, interruptible=True, estimate=10_000.0), "n0"),
        running(gpus("b", 4, interruptible=True, estimate=1_200.0), "n0"),
    ]


def test_a_claimant_preempts_only_work_expected_to_run_longer_than_it() -> None:
    policy = AirfoilPolicy()  # preempt_ratio 1 is the default
    assert policy.preempt_ratio == 1.0
    # "x" is expected to take 5,000 s: "a" (9,000 s left) would end after it, so it goes
    d = decide(
        [gpus("x", 4, estimate=5_000.0)], _level_one_pair(), ONE_NODE, now=1000.0, policy=policy
    )
    assert d.preemptions == ("a",)
    assert starts(d) == [("x", ("n0",))]
    # "y" is expected to take 9,500 s: stopping either victim would delay it for nothing
    # (each would have ended before "y"), so "y" waits and nothing is preempted
    d = decide(
        [gpus("y", 4, estimate=9_500.0)], _level_one_pair(), ONE_NODE, now=1000.0, policy=policy
    )
    assert d.preemptions == () and d.starts == ()
    assert d.reasons["y"].startswith("waiting for 4 GPUs")
    # without the ratio (the default), least attained service stops "a" for "y" all the same
    without = AirfoilPolicy(preempt_ratio=None)
    d = decide(
        [gpus("y", 4, estimate=9_500.0)], _level_one_pair(), ONE_NODE, now=1000.0, policy=without
    )
    assert d.preemptions == ("a",)


def test_under_the_ratio_work_past_its_estimate_is_still_a_victim() -> None:
    # at t=1000 "late" (8 GPUs, level 1) has run 1,000 s on an estimate of 400 s: that
    # estimate proved wrong, so how long it still runs is unknown, and it is a victim as
    # under plain LAS; before, it counted as ending now and held the node against "x"
    # (whole-node workers both: this is about the ratio, so they may swap)
    policy = AirfoilPolicy(preempt_ratio=1.0, whole_node_swaps=True)
    run = [running(gpus("late", 8, interruptible=True, estimate=400.0), "n0")]
    d = decide([gpus("x", 8, estimate=100.0)], run, ONE_NODE, now=1000.0, policy=policy)
    assert d.preemptions == ("late",)
    assert starts(d) == [("x", ("n0",))]
    # however long the claimant: the ratio cannot hold for work whose end is unknown
    d = decide([gpus("y", 8, estimate=50_000.0)], run, ONE_NODE, now=1000.0, policy=policy)
    assert d.preemptions == ("late",)


def test_work_with_its_estimate_ahead_goes_before_work_past_its_estimate() -> None:
    # level 1 at t=1000: "a" is expected to run 9,000 s more, "late" overran (400 s
    # estimate), "b" has 200 s left; a 4-GPU claimant expected to take 5,000 s stops "a"
    run = [
        running(gpus("late", 4, interruptible=True, estimate=400.0), "n0"),
        running(gpus("a", 4, interruptible=True, estimate=10_000.0), "n1"),
        running(gpus("b", 4, interruptible=True, estimate=1_200.0), "n1"),
        running(gpus("c", 4, interruptible=True, estimate=1_200.0), "n0"),
    ]
    policy = AirfoilPolicy(preempt_ratio=1.0)
    d = decide([gpus("x", 4, estimate=5_000.0)], run, TWO_NODES, now=1000.0, policy=policy)
    assert d.preemptions == ("a",)
    # one expected to take 9,500 s would wait for "a": it stops "late", never "b" or "c"
    d = decide([gpus("y", 4, estimate=9_500.0)], run, TWO_NODES, now=1000.0, policy=policy)
    assert d.preemptions == ("late",)
    assert starts(d) == [("y", ("n0",))]


def test_ratio_zero_with_an_endless_estimate_still_finds_victims() -> None:
    # ratio 0 asks only that a victim has work left; 0 x an infinite estimate must not
    # turn into NaN, against which no victim compares as having enough left (whole-node
    # workers both: they may swap here)
    policy = AirfoilPolicy(preempt_ratio=0.0, whole_node_swaps=True)
    run = [running(gpus("a", 8, interruptible=True, estimate=10_000.0), "n0")]
    d = decide([gpus("x", 8, estimate=float("inf"))], run, ONE_NODE, now=1000.0, policy=policy)
    assert d.preemptions == ("a",)
    assert starts(d) == [("x", ("n0",))]


def test_a_shorter_claimant_behind_one_that_could_not_make_room_still_does() -> None:
    # the queue is first come, first served here (stretch 0): "long" and "mid" are expected
    # to outlast the only victim (9,000 s left), "short" is not; all three share one shape,
    # and nothing fits, so the decision skims the rest of the queue for a shorter claimant
    policy = AirfoilPolicy(preempt_ratio=1.0, stretch=0.0)
    run = [running(gpus("a", 8, interruptible=True, estimate=10_000.0), "n0")]
    queue = [
        gpus("long", 4, submit=0.0, estimate=20_000.0),
        gpus("mid", 4, submit=1.0, estimate=15_000.0),
        gpus("other", 2, submit=2.0, estimate=30_000.0),
        gpus("short", 4, submit=3.0, estimate=100.0),
    ]
    d = decide(queue, run, ONE_NODE, now=1000.0, policy=policy)
    assert d.preemptions == ("a",)
    assert starts(d) == [("short", ("n0",))]
    assert d.reasons["long"].startswith("waiting for 4 GPUs")
    assert d.reasons["other"].startswith("waiting for 2 GPUs")


def test_no_preemption_within_a_level_or_of_higher_priority_work() -> None:
    run = [
        running(gpus("a", 4, interruptible=True, estimate=10_000.0, priority=1), "n0"),
        running(gpus("b", 4, interruptible=True, estimate=200.0), "n0"),
    ]
    same_level = decide([gpus("x", 4, attained=5000.0)], run, ONE_NODE, now=1000.0)
    assert same_level.preemptions == () and same_level.starts == ()
    # "a" has more work left but a higher priority than "x": "b" goes instead
    d = decide([gpus("x", 4)], run, ONE_NODE, now=1000.0)
    assert d.preemptions == ("b",)


def test_work_started_as_due_is_not_preempted_by_least_attained_service() -> None:
    run = [running(gpus("g", 8, gang=2, interruptible=True), "n0", "n1")]
    state = make_state(TWO_NODES, "airfoil", run=run, queue=[gpus("x", 8, submit=5.0)])
    d = state.decide(10_000.0)  # the gang has 160,000 GPU-s of service, "x" none
    assert d.preemptions == () and d.starts == ()


def test_a_long_waiting_item_becomes_due_and_holds_a_reservation() -> None:
    run = [running(gpus("r", 4, estimate=60_000.0), "n0")]
    queue = [
        gpus("old", 8, submit=0.0, estimate=1000.0),
        gpus("fresh", 4, submit=100.0, estimate=50_000.0),
    ]
    # due after 12 x max(1000 s, 1 h) = 43,200 s; before that the free half goes to "fresh"
    early = decide(queue, run, ONE_NODE, now=1000.0)
    assert starts(early) == [("fresh", ("n0",))]
    assert early.wake_at == 43_200.0
    late = decide(queue, run, ONE_NODE, now=45_000.0)
    assert late.starts == ()
    assert late.reasons["old"].startswith("holding a reservation")
    assert late.reasons["fresh"].startswith("reserved for 'old'")
    never = decide(queue, run, ONE_NODE, now=45_000.0, policy=AirfoilPolicy(starve_after=None))
    assert starts(never) == [("fresh", ("n0",))]


def test_the_time_an_item_ran_does_not_count_toward_its_starvation_bound() -> None:
    run = [running(gpus("r", 4, estimate=60_000.0), "n0")]
    # "back" was preempted after running 10 h on 8 GPUs (288,000 GPU-s): it waited 2.5 h,
    # not 12.5 h, by t=45,000 s; it is due once it has waited 12 h: at 36,000 + 43,200 s
    back = gpus("back", 8, submit=0.0, estimate=1000.0, attained=8 * 36_000.0)
    queue = [back, gpus("fresh", 4, submit=100.0, estimate=50_000.0)]
    early = decide(queue, run, ONE_NODE, now=45_000.0)
    assert starts(early) == [("fresh", ("n0",))]
    assert early.wake_at == 79_200.0
    late = decide(queue, run, ONE_NODE, now=80_000.0)
    assert late.reasons["back"].startswith("holding a reservation")


def test_a_whole_node_worker_does_not_preempt_another_whole_node_worker() -> None:
    # at t=1000 "v" has 8,000 GPU-s of service (level 1) and 99,000 s left
    whole = [running(gpus("v", 8, interruptible=True, estimate=100_000.0), "n0")]
    claimant = gpus("w", 8, submit=900.0, estimate=50_000.0)
    d = decide([claimant], whole, ONE_NODE, now=1000.0)
    assert d.preemptions == () and d.starts == ()
    assert d.reasons["w"].startswith("waiting for 8 GPUs")
    swaps = decide(
        [claimant], whole, ONE_NODE, now=1000.0, policy=AirfoilPolicy(whole_node_swaps=True)
    )
    assert swaps.preemptions == ("v",)
    # a smaller claimant still preempts the whole-node worker, and a whole-node claimant
    # still preempts smaller work
    small = decide([gpus("s", 4, submit=900.0, estimate=50_000.0)], whole, ONE_NODE, now=1000.0)
    assert small.preemptions == ("v",)
    halves = [
        running(gpus(f"h{i}", 4, interruptible=True, estimate=100_000.0), "n0") for i in range(2)
    ]
    d = decide([claimant], halves, ONE_NODE, now=1000.0)
    assert sorted(d.preemptions) == ["h0", "h1"]
    assert starts(d) == [("w", ("n0",))]


def test_a_starving_items_reservation_does_not_count_on_work_that_overran_its_estimate() -> None:
    # "r0" was expected to end at 1,000 s and still runs at 45,000 s; "r1" ends at 60,000 s
    run = [
        running(gpus("r0", 4, estimate=1000.0), "n0"),
        running(gpus("r1", 4, estimate=60_000.0), "n1"),
    ]
    queue = [
        gpus("old", 8, submit=0.0, estimate=1000.0),  # due at 43,200 s
        gpus("fresh", 4, submit=100.0, estimate=50_000.0),
    ]
    # re-estimated, "r0" runs as long again (to 90,000 s): the reservation takes n1 at
    # 60,000 s and "fresh" is backfilled onto n0, where it delays nobody
    d = decide(queue, run, TWO_NODES, now=45_000.0)
    assert d.reasons["old"].startswith("holding a reservation: expected to start in ~4.2 h")
    assert starts(d) == [("fresh", ("n0",))]
    # expected to end "now", "r0" drew the reservation onto n0 and "fresh" took n1, the
    # node that frees first: "old" then waits for "r0", however long it overruns
    naive = decide(queue, run, TWO_NODES, now=45_000.0, policy=AirfoilPolicy(overrun=None))
    assert naive.reasons["old"].startswith("holding a reservation: expected to start in")
    assert starts(naive) == [("fresh", ("n1",))]


def test_a_gang_makes_room_even_when_a_starving_item_holds_the_reservation() -> None:
    run = [
        running(gpus("r0", 8, estimate=60_000.0), "n0"),  # not interruptible
        # interruptible, at the gang's own service level (800 GPU-s): LAS would not take it
        running(gpus("r1", 8, interruptible=True, estimate=50_000.0), "n1", start=44_900.0),
    ]
    queue = [
        gpus("old", 8, submit=0.0, estimate=1000.0),  # due at 43,200 s: the one reservation
        gpus("g", 4, gang=2, submit=44_000.0, estimate=500.0),
    ]
    d = decide(queue, run, TWO_NODES, now=45_000.0)
    assert d.reasons["old"].startswith("holding a reservation: expected to start in ~4.2 h")
    assert d.preemptions == ("r1",)
    assert starts(d) == [("g", ("n1", "n1"))]


FOUR_NODES = [gpu_node(f"n{i}", 8) for i in range(4)]


def _due_gang_and_level_one_work() -> list[RunningItem]:
    # a gang started as due holds half of 32 GPUs; long interruptible work holds the rest
    # but one GPU on n3
    return [
        running(gpus("g1", 8, gang=2, interruptible=True), "n0", "n1"),
        running(gpus("a", 8, interruptible=True, estimate=1e5), "n2"),
        running(gpus("b", 7, interruptible=True, estimate=1e5), "n3"),
    ]


def test_due_gangs_that_cannot_make_room_leave_the_wake_up_to_the_next_gang_due() -> None:
    """Once the reservation is held and every due gang's shape failed to make room, the due
    pass skips the due gangs left (they only wait) but still wakes for the first not yet
    due; a gang of a shape that has not failed is still tried (here it fits and starts)."""
    run = [
        running(gpus("r0", 8, estimate=1000.0), "n0"),
        running(gpus("r1", 6, estimate=2000.0), "n1"),
    ]
    policy = AirfoilPolicy(gang_after=60.0)
    whole = [gpus(f"g{i}", 8, gang=2, submit=float(i), estimate=500.0) for i in range(5)]
    later = gpus("later", 8, gang=2, submit=70.0, estimate=500.0)  # due at 130
    d = decide([*whole, later], run, TWO_NODES, now=100.0, policy=policy)
    assert starts(d) == []
    assert d.wake_at == 130.0
    assert "reserv" in d.reasons["g0"]
    assert set(d.reasons) == {"g0", "g1", "g2", "g3", "g4", "later"}
    small = gpus("small", 1, gang=2, submit=4.5, estimate=50.0)  # due at 64.5, after g4
    d = decide([*whole, small, later], run, TWO_NODES, now=100.0, policy=policy)
    assert starts(d) == [("small", ("n1", "n1"))]
    assert d.wake_at == 130.0


def test_work_started_as_due_holds_at_most_due_share_of_the_cluster() -> None:
    queue = [gpus("g2", 8, gang=2, submit=5000.0), gpus("x", 1, submit=6000.0, estimate=60.0)]
    # uncapped, the second due gang preempts everything it may and takes the whole cluster
    # for work nothing can preempt: the one-minute job then waits for a gang to end
    uncapped = decide(
        queue,
        _due_gang_and_level_one_work(),
        FOUR_NODES,
        now=10_000.0,
        policy=AirfoilPolicy(due_share=None),
    )
    assert sorted(uncapped.preemptions) == ["a", "b"]
    assert starts(uncapped) == [("g2", ("n2", "n3"))]
    assert "x" in uncapped.reasons
    # capped at 7/8 (28 GPUs), 16 + 16 would exceed it: "g2" waits for "g1" to end and
    # the short job runs at once
    d = decide(queue, _due_gang_and_level_one_work(), FOUR_NODES, now=10_000.0)
    assert d.preemptions == ()
    assert starts(d) == [("x", ("n3",))]
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")


def test_a_due_item_held_by_the_cap_holds_back_later_due_items() -> None:
    queue = [gpus("g2", 8, gang=2, submit=5000.0), gpus("g3", 1, gang=2, submit=5500.0)]
    d = decide(queue, _due_gang_and_level_one_work(), FOUR_NODES, now=10_000.0)
    # "g3" (18 of 28 GPUs with "g1") would fit under the cap, but it became due after "g2"
    assert d.starts == () and d.preemptions == ()
    assert d.reasons["g3"] == d.reasons["g2"]


def test_a_due_item_larger_than_the_cap_starts_when_no_due_work_runs() -> None:
    # the gang needs the whole cluster, more than 7/8 of it: it is never held for ever
    d = decide([gpus("g", 8, gang=4)], [], FOUR_NODES, now=10.0)
    assert starts(d) == [("g", ("n0", "n1", "n2", "n3"))]


def test_work_within_its_nominal_quota_is_never_a_victim() -> None:
    run = [
        running(gpus("a1", 4, project="A", interruptible=True, estimate=1e5), "n0"),
        running(gpus("b1", 4, project="B", interruptible=True, estimate=1e5), "n0"),
    ]
    quotas = {"A": gpu_quota(4)}
    d = decide([gpus("x", 4, project="C")], run, ONE_NODE, now=10_000.0, quotas=quotas)
    assert d.preemptions == ("b1",)
    assert starts(d) == [("x", ("n0",))]


def test_non_interruptible_work_is_never_preempted() -> None:
    run = [running(gpus("a", 8, estimate=1e5), "n0")]
    d = decide([gpus("g", 4, gang=2), gpus("x", 4)], run, ONE_NODE, now=10_000.0)
    assert d.preemptions == () and d.starts == ()


def test_with_quotas_projects_take_turns_by_dominant_share_within_a_level() -> None:
    run = [running(gpus("a0", 5, project="A"), "n0"), running(gpus("b0", 1, project="B"), "n0")]
    queue = [
        gpus("a1", 1, project="A", submit=0),
        gpus("b1", 1, project="B", submit=1),
        gpus("c1", 1, project="C", submit=2),
        gpus("c2", 1, project="C", submit=3, attained=5000.0),  # level 1: after the rest
    ]
    weights = {project: gpu_quota(0) for project in "ABC"}
    d = decide(queue, run, ONE_NODE, now=10.0, quotas=weights)
    assert starts(d) == [("c1", ("n0",)), ("b1", ("n0",))]
    # without quotas no project has a stated share: the queue order is global
    assert [s.item_id for s in decide(queue, run, ONE_NODE, now=10.0).starts] == ["a1", "b1"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"thresholds": (3600.0, 60.0)}, "thresholds must be positive and ascending"),
        ({"thresholds": (0.0,)}, "thresholds must be positive and ascending"),
        ({"stretch": -1.0}, "stretch must not be negative"),
        ({"gang_after": float("nan")}, "gang_after must not be negative"),
        ({"starve_after": 0.0}, "starve_after must be positive or None"),
        ({"max_reservations": -1}, "max_reservations must not be negative"),
        ({"max_preemptions": 0}, "max_preemptions must be at least 1"),
        ({"overrun": 0.5}, "overrun must be at least 1 or None"),
        ({"preempt_ratio": -1.0}, "preempt_ratio must be a finite number >= 0 or None"),
        ({"preempt_ratio": float("nan")}, "preempt_ratio must be a finite number >= 0 or None"),
        ({"preempt_ratio": float("inf")}, "preempt_ratio must be a finite number >= 0 or None"),
        ({"due_share": 0.0}, r"due_share must be in \(0, 1\] or None"),
        ({"due_share": 1.5}, r"due_share must be in \(0, 1\] or None"),
    ],
)
def test_bad_settings_are_a_clear_config_error(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message) as caught:
        AirfoilPolicy(**settings)
    assert isinstance(caught.value, ConfigError)


def test_reclaim_that_frees_room_outside_the_victims_lets_a_later_claimant_make_room() -> None:
    """A "no node can be freed" verdict is not reused in a decision where reclaim may run.

    The due gang builds the decision's victim index. ``c0`` (7 GPUs) then finds no node
    that even all victims could free (n0: 0 free + ``lv``'s 4). Reclaim for ``r1`` preempts
    ``due``, started as due and so no victim of least attained service, and leaves 3 GPUs
    free on n0: now n0's 3 free plus ``lv``'s 4 hold ``c1`` (7 GPUs, same demand as ``c0``).
    Kept, ``c0``'s verdict would have left ``c1`` waiting without a look.
    """
    nodes = [gpu_node("n0", 8), gpu_node("n1", 8)]
    now = 60_000.0
    run = [
        # past its starvation bound (12 x 1 h) when it started: started as due
        running(
            gpus("due", 4, project="b", interruptible=True, estimate=3600.0), "n0", start=50_000.0
        ),
        # a victim: level 1, most of its estimate left
        running(gpus("lv", 4, project="b", interruptible=True, estimate=2e5), "n0", start=1000.0),
        running(gpus("fixed", 8, project="z", estimate=1e6), "n1", start=1000.0),
    ]
    queue = [
        gpus("g", 8, gang=2, project="g", submit=now - 10.0),  # due; cannot make room
        gpus("c0", 7, project="c", priority=2, submit=now - 10.0, estimate=7200.0),
        gpus("r1", 1, project="r", priority=1, submit=now - 10.0, estimate=3600.0),
        gpus("c1", 7, project="c", submit=now - 10.0, estimate=3600.0),
    ]
    policy = AirfoilPolicy(max_reservations=0, due_share=None)
    d = decide(queue, run, nodes, now=now, quotas={"r": gpu_quota(4)}, policy=policy)
    assert sorted(d.preemptions) == ["due", "lv"]
    assert sorted(starts(d)) == [("c1", ("n0",)), ("r1", ("n0",))]


_SWAPS: dict[str, Any] = {"whole_node_swaps": True}


def test_with_srpt_ratio_the_last_level_preempts_its_own_work_with_far_more_left() -> None:
    # both at the last level (over 1 GPU-hour): the waiting one has 10 h left, the running
    # one 100 h; plain least attained service never preempts within a level
    run = [running(gpus("long", 8, interruptible=True, estimate=400_000.0), "n0")]
    short = gpus("short", 8, submit=5.0, estimate=36_000.0, attained=50_000.0)
    plain = AirfoilPolicy(srpt_ratio=None, **_SWAPS)
    assert decide([short], run, ONE_NODE, now=10_000.0, policy=plain).preemptions == ()
    always = AirfoilPolicy(srpt_queue=None, **_SWAPS)
    assert always.srpt_ratio == 2.0
    d = decide([short], run, ONE_NODE, now=10_000.0, policy=always)
    assert d.preemptions == ("long",)
    assert starts(d) == [("short", ("n0",))]
    # 100 h left is not 20 x 10 h
    policy = AirfoilPolicy(srpt_ratio=20.0, srpt_queue=None, **_SWAPS)
    assert decide([short], run, ONE_NODE, now=10_000.0, policy=policy).preemptions == ()
    # work past its estimate is no victim of this rule (its work left is unknown)
    late = [running(gpus("late", 8, interruptible=True, estimate=5_000.0), "n0")]
    assert decide([short], late, ONE_NODE, now=10_000.0, policy=always).preemptions == ()
    with pytest.raises(InvalidPolicyError, match="srpt_ratio"):
        AirfoilPolicy(srpt_ratio=0.5)


def test_with_srpt_one_victim_the_last_level_stops_one_job_at_most_for_a_claimant() -> None:
    # two 4-GPU jobs of 100 h fill n0; an 8-GPU claimant of 10 h needs both gone
    run = [
        running(gpus("a", 4, interruptible=True, estimate=400_000.0), "n0"),
        running(gpus("b", 4, interruptible=True, estimate=360_000.0), "n0"),
    ]
    whole = gpus("whole", 8, submit=5.0, estimate=36_000.0, attained=50_000.0)
    two = AirfoilPolicy(srpt_queue=None, srpt_one_victim=False)
    assert sorted(decide([whole], run, ONE_NODE, now=10_000.0, policy=two).preemptions) == [
        "a",
        "b",
    ]
    one = AirfoilPolicy(srpt_queue=None)
    assert one.srpt_one_victim
    assert decide([whole], run, ONE_NODE, now=10_000.0, policy=one).preemptions == ()
    # a 4-GPU claimant needs one of them: the one with the most work left goes
    half = gpus("half", 4, submit=5.0, estimate=36_000.0, attained=50_000.0)
    d = decide([half], run, ONE_NODE, now=10_000.0, policy=one)
    assert d.preemptions == ("a",)
    assert starts(d) == [("half", ("n0",))]


def test_with_srpt_queue_the_last_level_preempts_only_behind_a_long_enough_queue() -> None:
    run = [running(gpus("long", 8, interruptible=True, estimate=400_000.0), "n0")]
    short = gpus("short", 8, submit=5.0, estimate=36_000.0, attained=50_000.0)
    # the last level's queue asks 8 GPUs, one cluster's worth
    for bar, stops in ((1.0, ("long",)), (2.0, ())):
        policy = AirfoilPolicy(srpt_queue=bar, **_SWAPS)
        assert decide([short], run, ONE_NODE, now=10_000.0, policy=policy).preemptions == stops
    # by default (2 clusters' worth) a second such item in the last level's queue is enough
    default = AirfoilPolicy(**_SWAPS)
    assert default.srpt_queue == 2.0
    assert decide([short], run, ONE_NODE, now=10_000.0, policy=default).preemptions == ()
    other = gpus("other", 8, submit=6.0, estimate=72_000.0, attained=50_000.0)
    d = decide([short, other], run, ONE_NODE, now=10_000.0, policy=default)
    assert d.preemptions == ("long",)
    assert starts(d) == [("short", ("n0",))]
    with pytest.raises(InvalidPolicyError, match="srpt_queue"):
        AirfoilPolicy(srpt_queue=-1.0)


def _halves() -> list[RunningItem]:
    # n0 and n1: 4 of 8 GPUs each held by interruptible level-0 work; n2: full, not
    # interruptible
    return [
        running(gpus("a", 4, estimate=36_000.0, interruptible=True), "n0", start=900.0),
        running(gpus("b", 4, estimate=36_000.0, interruptible=True), "n1", start=900.0),
        running(gpus("full", 8, estimate=36_000.0), "n2", start=900.0),
    ]


THREE_NODES = [gpu_node("n0", 8), gpu_node("n1", 8), gpu_node("n2", 8)]


def defrag(**settings: Any) -> AirfoilPolicy:
    """``defragment`` with none of the default's guards (any claimant, at once, whatever
    waits), and ``settings``."""
    return AirfoilPolicy(
        **{
            "defragment": True,
            "defragment_whole_only": False,
            "defragment_spare_due": False,
            "defragment_after": None,
            **settings,
        }
    )


def test_defragment_moves_work_onto_idle_room_so_a_whole_node_worker_starts() -> None:
    """8 GPUs are idle, 4 on each of n0 and n1, and an 8-GPU job waits: no node holds it,
    and least attained service may not preempt for it (``a`` and ``b`` are at its level).
    With ``defragment`` one of them is moved: preempted, its restart room held on the other
    node, and the decision asks to be called again at once, when it restarts there."""
    w = gpus("w", 8, submit=1_000.0, estimate=3_600.0)
    without = AirfoilPolicy(defragment=False)
    assert starts(decide([w], _halves(), THREE_NODES, now=1_000.0, policy=without)) == []
    state = make_state(THREE_NODES, defrag(), run=_halves(), queue=[w])
    first = state.decide(1_000.0)
    assert len(first.preemptions) == 1
    moved = first.preemptions[0]
    freed = "n0" if moved == "a" else "n1"
    assert starts(first) == [("w", (freed,))]
    assert first.wake_at == pytest.approx(1_000.001)
    assert "w" not in first.reasons
    state.apply(first, 1_000.0)
    again = state.decide(1_000.001)
    other = "n1" if freed == "n0" else "n0"
    assert starts(again) == [(moved, (other,))] and again.preemptions == ()


def test_defragment_takes_no_room_a_waiting_item_could_use_and_moves_only_what_it_may() -> None:
    w = gpus("w", 8, submit=1_000.0, estimate=3_600.0)
    x = gpus("x", 4, submit=1_000.0, estimate=3_600.0)
    policy = defrag()
    # x takes one of the halves: the 4 GPUs left idle cannot hold w, nothing is moved
    decision = decide([w, x], _halves(), THREE_NODES, now=1_000.0, policy=policy)
    assert decision.preemptions == () and [s.item_id for s in decision.starts] == ["x"]
    # work that is not interruptible, or of a higher priority than the claimant, stays put
    for a, b in (
        (gpus("a", 4, estimate=36_000.0), gpus("b", 4, estimate=36_000.0)),
        (
            gpus("a", 4, estimate=36_000.0, interruptible=True, priority=1),
            gpus("b", 4, estimate=36_000.0, interruptible=True, priority=1),
        ),
    ):
        run = [running(a, "n0", start=900.0), running(b, "n1", start=900.0), _halves()[2]]
        decision = decide([w], run, THREE_NODES, now=1_000.0, policy=policy)
        assert decision.preemptions == () and decision.starts == ()
    # with defragment_whole_only, a worker of less than a node does not claim
    y = gpus("y", 6, submit=1_000.0, estimate=3_600.0)
    whole_only = defrag(defragment_whole_only=True)
    assert decide([y], _halves(), THREE_NODES, now=1_000.0, policy=whole_only).starts == ()
    assert starts(decide([y], _halves(), THREE_NODES, now=1_000.0, policy=policy)) in (
        [("y", ("n0",))],
        [("y", ("n1",))],
    )


def test_defragment_guards_move_only_a_long_waiter_and_none_while_due_work_waits() -> None:
    """``defragment_after``: the claimant must have waited that many times its estimate;
    ``defragment_spare_due``: nothing moves while a gang (or another due item) waits."""
    # w, a and b are all past the first level: least attained service does not preempt
    w = gpus("w", 8, submit=0.0, estimate=3_600.0, attained=5_000.0)

    def moved(policy: AirfoilPolicy, queue: list[Any], run: list[RunningItem], now: float) -> bool:
        return bool(decide(queue, run, THREE_NODES, now=now, policy=policy).preemptions)

    after = defrag(defragment_after=1.0)
    assert not moved(after, [w], _halves(), 3_599.0)  # waited less than its estimate
    assert moved(after, [w], _halves(), 3_600.0)
    # the default (since the seventeenth session's second round): whole-node claimants
    # that waited their estimate, none while due work waits
    assert not moved(AirfoilPolicy(), [w], _halves(), 3_599.0)
    assert moved(AirfoilPolicy(), [w], _halves(), 3_600.0)
    # a gang of three 8-GPU workers waits (due at once) while n2 is held by work that is
    # not interruptible, with no reservation to hold for it (as when another holds it)
    gang = gpus("g", 8, gang=3, submit=0.0, estimate=3_600.0)
    plain = defrag(max_reservations=0)
    spare = defrag(max_reservations=0, defragment_spare_due=True)
    assert moved(plain, [w, gang], _halves(), 1_000.0)
    assert not moved(spare, [w, gang], _halves(), 1_000.0)
    assert moved(spare, [w], _halves(), 1_000.0)


def test_defragment_settings_are_checked() -> None:
    with pytest.raises(InvalidPolicyError, match="defragment_after must be"):
        AirfoilPolicy(defragment_after=-0.5)


def test_a_shape_whose_items_all_started_does_not_keep_the_queue_pass_going() -> None:
    """``Round.exhausted()`` (the pass's early stop once nothing waiting fits) counted a
    shape all of whose items the decision had started: a 4-GPU job restarting after a
    move kept it false while 4 GPUs stayed free, and the least-attained-service pass tried
    every queued item in every decision after a move (twice the work). Fails on main."""
    x = gpus("x", 4, submit=1_000.0, estimate=3_600.0)
    w = gpus("w", 8, submit=1_000.0, estimate=3_600.0)
    state = make_state(THREE_NODES, AirfoilPolicy(), run=_halves(), queue=[x, w])
    rnd = Round(state, 1_000.0, explain=False)
    assert rnd.try_start(state.waiting["x"]) is None
    assert rnd.try_start(state.waiting["w"]) is not None
    assert rnd.exhausted()


def test_srpt_in_the_last_level_works_without_preempt_ratio() -> None:
    """``preempt_ratio=None`` with ``srpt_ratio`` (the default) once raised IndexError: the
    last level's cut searched sort keys built only when ``preempt_ratio`` was set (found by
    the invariants property test)."""
    long = gpus("long", 1, estimate=360_000.0, interruptible=True, attained=5_000.0)
    busy = gpus("busy", 1, estimate=360_000.0)
    # the last level's queue asks for twice the cluster's GPUs (``srpt_queue``)
    queue = [gpus(f"w{i}", 1, submit=1_000.0, estimate=3_600.0, attained=5_000.0) for i in range(4)]
    decision = decide(
        queue,
        [running(long, "n0", start=900.0), running(busy, "n0", start=900.0)],
        [gpu_node("n0", 2)],
        now=1_000.0,
        policy=AirfoilPolicy(preempt_ratio=None),
    )
    assert decision.preemptions == ("long",) and starts(decision) == [("w0", ("n0",))]


def test_the_state_counts_preemptions_on_the_item_and_rejects_a_negative_count() -> None:
    item = gpus("a", 4, interruptible=True, estimate=10_000.0)
    state = make_state(ONE_NODE, AirfoilPolicy(), run=[running(item, "n0")])
    again = state.preempt("a", 100.0)
    assert again.preempted == 1
    state.start("a", ["n0"], 200.0)
    assert state.preempt("a", 300.0).preempted == 2
    with pytest.raises(InvalidWorkItemError, match=r"preempted .* must not be negative"):
        state.submit(msgspec.structs.replace(gpus("b", 1), preempted=-1))


def test_shields_are_off_by_default_and_named_settings_make_work_no_victim() -> None:
    policy = AirfoilPolicy()
    assert (policy.shield_preempted, policy.shield_done, policy.shield_waited) == (None,) * 3
    claimant = [gpus("x", 4, estimate=5_000.0)]
    # at t=1000 "a" did 1,000 s of a 10,000 s estimate (0.1), "b" 1,000 s of 1,200 s (0.83)
    d = decide(claimant, _level_one_pair(), ONE_NODE, now=1000.0, policy=policy)
    assert d.preemptions == ("a",)
    # "nearly done": a share of 0.05 covers both, so "x" waits; 0.5 covers "b" only
    nearly = AirfoilPolicy(shield_done=0.05)
    d = decide(claimant, _level_one_pair(), ONE_NODE, now=1000.0, policy=nearly)
    assert d.preemptions == () and d.starts == ()
    d = decide(
        claimant, _level_one_pair(), ONE_NODE, now=1000.0, policy=AirfoilPolicy(shield_done=0.5)
    )
    assert d.preemptions == ("a",)
    # gated by the queue: "x" asks 4 GPUs, at least a quarter of the cluster's 8, so no shield
    gated = AirfoilPolicy(shield_done=0.05, shield_queue=0.25)
    d = decide(claimant, _level_one_pair(), ONE_NODE, now=1000.0, policy=gated)
    assert d.preemptions == ("a",)
    # a job already preempted twice, with a budget of two stops
    stopped = [
        running(msgspec.structs.replace(r.item, preempted=2), r.placement[0])
        for r in _level_one_pair()
    ]
    d = decide(claimant, stopped, ONE_NODE, now=1000.0, policy=AirfoilPolicy(shield_preempted=2))
    assert d.preemptions == ()
    d = decide(claimant, stopped, ONE_NODE, now=1000.0, policy=AirfoilPolicy(shield_preempted=3))
    assert d.preemptions == ("a",)


def test_a_job_that_waited_its_estimate_is_shielded_by_shield_waited() -> None:
    # "a" was submitted at 0 and started at 5,000: it waited 5,000 s of a 10,000 s estimate
    late = [running(gpus("a", 8, interruptible=True, estimate=10_000.0), "n0", start=5_000.0)]
    claimant = [gpus("x", 8, estimate=100.0, submit=5_500.0)]
    base = AirfoilPolicy(whole_node_swaps=True)
    d = decide(claimant, late, ONE_NODE, now=6_000.0, policy=base)
    assert d.preemptions == ("a",)
    for waited, stops in ((0.5, ()), (0.6, ("a",))):
        policy = AirfoilPolicy(whole_node_swaps=True, shield_waited=waited)
        d = decide(claimant, late, ONE_NODE, now=6_000.0, policy=policy)
        assert d.preemptions == stops


@pytest.mark.parametrize(
    "settings",
    [{"shield_preempted": 0}, {"shield_done": -0.1}, {"shield_waited": float("inf")}],
)
def test_invalid_shield_settings_are_refused_naming_the_setting(settings: dict[str, Any]) -> None:
    with pytest.raises(InvalidPolicyError, match=next(iter(settings))):
        AirfoilPolicy(**settings)
