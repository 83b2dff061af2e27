"""``AirfoilPolicy``'s cap on due work (``due_share``) and the due gangs' budget
(``due_gang_hours``, ``due_gang_scale``) with ``due_gang_queue`` and ``due_gang_others``."""

from __future__ import annotations

from typing import Any

import pytest
from sched_factories import gpu_node, gpus, running

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import AirfoilPolicy, InvalidPolicyError, SchedulerState, WorkItem, decide

pytestmark = pytest.mark.unit

FOUR_NODES = [gpu_node(f"n{i}", 8) for i in range(4)]
NOW = 50_000.0


def _caps(**settings: Any) -> AirfoilPolicy:
    """``AirfoilPolicy`` with the due gangs' caps applying whatever waits (``due_gang_queue``
    None: the default's bar on other projects' queue is tested on its own below), then
    ``settings``."""
    return AirfoilPolicy(**{"due_gang_queue": None, "due_gang_others": False, **settings})


def _due_gang_running() -> list:
    # a gang started as due (gang_after 0) on n0, n1, expected to end at 100,000 s; the cap
    # (7/8 of 32 GPUs) leaves 12 GPUs of due work beside it
    return [running(gpus("g1", 8, gang=2, estimate=100_000.0), "n0", "n1")]


def _held_gang() -> object:
    # 16 + 24 > 28: held by the cap until "g1" is expected to end; then 24 of 28 are used
    return gpus("g2", 8, gang=3, submit=1_000.0, estimate=10_000.0)


def _starving(item_id: str, estimate: float, n: int = 8) -> object:
    # due at 2,000 s (12 x its estimate, at least 12 h, after its submit): after "g2"
    return gpus(item_id, n, submit=2_000.0 - 12 * max(estimate, 3600.0), estimate=estimate)


def test_by_default_a_held_due_gang_holds_back_every_later_due_item() -> None:
    queue = [_held_gang(), _starving("short", 60.0)]
    d = decide(queue, _due_gang_running(), FOUR_NODES, now=NOW)
    assert d.starts == ()
    assert d.reasons["short"] == d.reasons["g2"]


def test_due_gang_queue_applies_the_gang_budget_only_behind_a_long_queue() -> None:
    policy = _caps(due_gang_hours=8.0, due_gang_scale=None, due_gang_queue=2.0)
    # 80 GPU-hours more beside the running gang's 222: over 8 hours of the cluster (256)
    small_gang = gpus("g2", 4, gang=2, submit=1_000.0, estimate=36_000.0)
    # 8 GPUs waiting, under 2 x 32: the gang budget does not apply and the gang starts
    d = decide([small_gang], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert [s.item_id for s in d.starts] == ["g2"]
    # 8 + 64 GPUs waiting (fresh work that cannot start: not interruptible work runs): held
    fresh = [gpus(f"f{i}", 8, submit=NOW - 10.0, estimate=1e5) for i in range(8)]
    run = [*_due_gang_running(), running(gpus("a", 8, estimate=1e6), "n2")]
    d = decide([small_gang, *fresh], run, FOUR_NODES, now=NOW, policy=policy)
    assert "g2" not in [s.item_id for s in d.starts]
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"due_gang_queue": -1.0}, r"due_gang_queue must be a finite number >= 0 or None"),
    ],
)
def test_bad_due_guard_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        AirfoilPolicy(**settings)


def test_due_gang_hours_holds_a_long_gang_but_not_a_short_one() -> None:
    # the gang running (16 GPUs) is expected to hold 16 x 50,000 s = 222 GPU-hours more, under
    # a budget of 8 hours of the 32-GPU cluster (256 GPU-hours); the due_share cap (28 GPUs)
    # lets a second gang of 8 GPUs start either way
    policy = _caps(due_gang_hours=8.0, due_gang_scale=None)
    short = gpus("g2", 4, gang=2, submit=1_000.0, estimate=3_600.0)  # 8 GPU-hours more
    d = decide([short], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert [s.item_id for s in d.starts] == ["g2"]
    long = gpus("g2", 4, gang=2, submit=1_000.0, estimate=36_000.0)  # 80 GPU-hours more
    d = decide([long], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert d.starts == ()
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")
    # with no budget the long gang starts
    d = decide(
        [long],
        _due_gang_running(),
        FOUR_NODES,
        now=NOW,
        policy=_caps(due_gang_hours=None, due_gang_scale=None),
    )
    assert [s.item_id for s in d.starts] == ["g2"]


def test_due_gang_hours_holds_back_later_gangs_but_not_starving_single_workers() -> None:
    policy = _caps(due_gang_hours=8.0, due_gang_scale=None)
    long = gpus("g2", 4, gang=2, submit=1_000.0, estimate=36_000.0)
    later = gpus("g3", 2, gang=2, submit=1_500.0, estimate=600.0)
    d = decide(
        [long, later, _starving("short", 60.0, n=4)],
        _due_gang_running(),
        FOUR_NODES,
        now=NOW,
        policy=policy,
    )
    assert [s.item_id for s in d.starts] == ["short"]
    assert "g3" in d.reasons


def test_due_gang_hours_lets_one_gang_start_whatever_its_length_when_none_runs() -> None:
    policy = _caps(due_gang_hours=1.0, due_gang_scale=None)
    long = gpus("g2", 8, gang=2, submit=1_000.0, estimate=1e6)  # far over 32 GPU-hours
    d = decide([long], [], FOUR_NODES, now=NOW, policy=policy)
    assert [s.item_id for s in d.starts] == ["g2"]


def test_due_gang_hours_counts_a_gang_past_its_estimate_as_ending_now() -> None:
    policy = _caps(due_gang_hours=8.0, due_gang_scale=None)
    overrun = [running(gpus("g1", 8, gang=2, estimate=10_000.0), "n0", "n1")]  # ended at 10,000 s
    long = gpus("g2", 4, gang=2, submit=1_000.0, estimate=36_000.0)  # 80 of 256 GPU-hours
    d = decide([long], overrun, FOUR_NODES, now=NOW, policy=policy)
    assert [s.item_id for s in d.starts] == ["g2"]


def test_due_gang_others_holds_a_long_gang_only_behind_other_projects_work() -> None:
    """``due_gang_others`` (an experimental setting, off; twenty-seventh session): with
    ``due_gang_queue``, only other projects' waiting work counts towards the queue that
    makes the due gangs' budget apply."""
    policy = AirfoilPolicy(
        due_gang_hours=8.0, due_gang_scale=None, due_gang_queue=1.0, due_gang_others=True
    )
    long = gpus("g2", 4, gang=2, project="a", submit=1_000.0, estimate=36_000.0)  # over it
    # 8 + 32 GPUs of its own project's work wait behind it (over one 32-GPU cluster): the
    # budget does not apply, the gang starts
    own = [gpus(f"own{i}", 8, project="a", submit=NOW - 10.0, estimate=60.0) for i in range(4)]
    d = decide([long, *own], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert "g2" in [s.item_id for s in d.starts]
    # the whole queue counts without the setting: the budget holds the gang
    whole = _caps(due_gang_hours=8.0, due_gang_scale=None, due_gang_queue=1.0)
    d = decide([long, *own], _due_gang_running(), FOUR_NODES, now=NOW, policy=whole)
    assert "g2" not in [s.item_id for s in d.starts]
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")
    # 32 GPUs of another project's work wait: the budget holds the gang
    others = [gpus(f"b{i}", 8, project="b", submit=NOW - 10.0, estimate=60.0) for i in range(4)]
    d = decide([long, *others], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert "g2" not in [s.item_id for s in d.starts]
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")


def test_by_default_the_budget_holds_a_long_gang_only_behind_a_cluster_of_others_work() -> None:
    """The default (twenty-seventh session): ``due_gang_queue`` 1 with ``due_gang_others``."""
    default = AirfoilPolicy()
    assert (default.due_gang_queue, default.due_gang_others) == (1.0, True)
    # the default's queue settings with a budget of 8 cluster-hours alone (with the scale of
    # mean gangs seen, two gangs never pass it): "g2" of project "a" is over it
    policy = AirfoilPolicy(due_gang_hours=8.0, due_gang_scale=None)
    long_gang = gpus("g2", 4, gang=2, project="a", submit=1_000.0, estimate=36_000.0)
    own = [gpus(f"own{i}", 8, project="a", submit=NOW - 10.0, estimate=60.0) for i in range(4)]
    d = decide([long_gang, *own], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert "g2" in [s.item_id for s in d.starts]
    others = [gpus(f"b{i}", 8, project="b", submit=NOW - 10.0, estimate=60.0) for i in range(4)]
    d = decide([long_gang, *others], _due_gang_running(), FOUR_NODES, now=NOW, policy=policy)
    assert "g2" not in [s.item_id for s in d.starts]
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")


@pytest.mark.parametrize("hours", [0.0, -1.0, float("inf")])
def test_bad_due_gang_hours_are_refused(hours: float) -> None:
    with pytest.raises(InvalidPolicyError, match=r"due_gang_hours must be positive and finite"):
        AirfoilPolicy(due_gang_hours=hours)


def test_a_due_gang_asking_nothing_still_counts_as_a_due_gang_running() -> None:
    # found by the invariants property test: a due gang of no CPUs, memory or GPUs left the
    # gangs' usage all zeros, so the next gang started as if no due gang ran, past the cap
    nothing = WorkItem(
        id="z", project="p", resources=ResourceSpec(cpu=0.0, mem=0, gpu=0), gang_size=2
    )
    gang = gpus("g2", 8, gang=2, submit=1_000.0, estimate=36_000.0)  # 16 GPUs, 160 GPU-hours
    policy = _caps(due_gang_hours=0.5, due_gang_scale=None)
    d = decide([gang], [running(nothing, "n0", "n1")], FOUR_NODES, now=NOW, policy=policy)
    assert d.starts == ()
    assert d.reasons["g2"].startswith("due work (gangs, jobs past their starvation bound)")


def _scaled_gangs(scale: float) -> tuple[list, object, float]:
    # the running gang of _due_gang_running (16 GPUs, half of its estimate left) and a
    # waiting gang of 8 GPUs for an hour, every length and the clock times ``scale``
    run = [running(gpus("g1", 8, gang=2, estimate=100_000.0 * scale), "n0", "n1")]
    gang = gpus("g2", 4, gang=2, submit=1_000.0, estimate=3_600.0 * scale)
    return run, gang, NOW * scale


@pytest.mark.parametrize("scale", [1.0, 2.0, 10.0])
def test_due_gang_scale_holds_gangs_in_mean_gangs_seen_whatever_their_length(scale: float) -> None:
    # mean gang seen: (16 x 100,000 + 8 x 3,600) / 2 = 814,400 GPU-s (x scale); the due
    # gangs would hold 16 x 50,000 + 8 x 3,600 = 828,800 (x scale): over 1.0 mean gang,
    # under 1.1, at every scale
    run, gang, now = _scaled_gangs(scale)
    for k, starts_it in ((1.0, False), (1.1, True)):
        policy = _caps(due_gang_hours=None, due_gang_scale=k)
        d = decide([gang], run, FOUR_NODES, now=now, policy=policy)
        assert [s.item_id for s in d.starts] == (["g2"] if starts_it else [])
    # the budget in hours (8 h of 32 GPUs: 921,600 GPU-s) holds it only once it is longer
    hours = _caps(due_gang_hours=8.0, due_gang_scale=None)
    d = decide([gang], run, FOUR_NODES, now=now, policy=hours)
    assert [s.item_id for s in d.starts] == (["g2"] if scale == 1.0 else [])


def test_due_gang_scale_with_due_gang_hours_takes_the_larger_budget() -> None:
    policy = _caps(due_gang_hours=8.0, due_gang_scale=1.0)
    run, gang, now = _scaled_gangs(1.0)  # under 8 h, over one mean gang: the hours admit it
    assert [s.item_id for s in decide([gang], run, FOUR_NODES, now=now, policy=policy).starts]
    run, gang, now = _scaled_gangs(2.0)  # over both
    assert decide([gang], run, FOUR_NODES, now=now, policy=policy).starts == ()
    run, gang, now = _scaled_gangs(2.0)  # under 1.1 mean gangs (over 8 h): the mean admits it
    policy = _caps(due_gang_hours=8.0, due_gang_scale=1.1)
    assert [s.item_id for s in decide([gang], run, FOUR_NODES, now=now, policy=policy).starts]


def test_the_state_counts_each_gang_once_at_submission() -> None:
    # the mean is history: a gang preempted and queued again is not counted twice, a gang
    # that ended still counts, and single workers do not
    state = SchedulerState(FOUR_NODES, policy=_caps(due_gang_scale=1.0))
    state.submit(gpus("g1", 8, gang=2, estimate=1_000.0, interruptible=True))
    state.submit(gpus("s1", 8, estimate=50_000.0))
    state.start("g1", ["n0", "n1"], 0.0)
    state.preempt("g1", 100.0)
    state.start("g1", ["n0", "n1"], 200.0)
    state.finish("g1", 1_100.0)
    state.submit(gpus("g2", 4, gang=2, estimate=3_000.0))
    assert state.gangs_seen == 2
    assert state.gang_gpu_seconds_seen == 16 * 1_000.0 + 8 * 3_000.0


@pytest.mark.parametrize("scale", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_due_gang_scales_are_refused(scale: float) -> None:
    with pytest.raises(InvalidPolicyError, match=r"due_gang_scale must be positive and finite"):
        AirfoilPolicy(due_gang_scale=scale)
