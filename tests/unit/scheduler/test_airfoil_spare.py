"""``AirfoilPolicy.preempt_rate`` (a bound on recent preemptions per item)."""

from __future__ import annotations

import msgspec
import pytest
from sched_factories import gpu_node, gpus, make_state, running

from airfoil.scheduler import AirfoilPolicy, InvalidPolicyError, decide

pytestmark = pytest.mark.unit

ONE_NODE = [gpu_node("n0", 8)]
FOUR_NODES = [gpu_node(f"n{i}", 8) for i in range(4)]


def _often_preempted() -> list:
    a = msgspec.structs.replace(
        gpus("a", 4, interruptible=True, estimate=10_000.0), preempted_at=(100.0, 200.0, 900.0)
    )
    return [running(a, "n0"), running(gpus("b", 4, interruptible=True, estimate=5_000.0), "n0")]


def test_preempt_rate_spares_work_preempted_that_often_lately() -> None:
    """Preempted 3 times within the last hour: no victim until the oldest of those three
    leaves the window (or it passes its estimate); the next victim in order is taken."""
    run = _often_preempted()
    x = gpus("x", 4, submit=900.0, estimate=100.0)
    # default: the one with the most work left, "a"
    assert decide([x], run, ONE_NODE, now=1000.0).preemptions == ("a",)
    bound = AirfoilPolicy(preempt_rate=3, preempt_window=3600.0)
    d = decide([x], run, ONE_NODE, now=1000.0, policy=bound)
    assert d.preemptions == ("b",)
    assert d.wake_at == 3700.0  # when the first of the three is an hour old
    assert decide([x], run, ONE_NODE, now=3800.0, policy=bound).preemptions == ("a",)
    # fewer recent preemptions than the bound, or a shorter window: "a" is a victim
    for policy in (
        AirfoilPolicy(preempt_rate=4, preempt_window=3600.0),
        AirfoilPolicy(preempt_rate=3, preempt_window=500.0),
    ):
        assert decide([x], run, ONE_NODE, now=1000.0, policy=policy).preemptions == ("a",)
    # past its estimate it is a victim again, as under preempt_limit
    long_window = AirfoilPolicy(preempt_rate=3, preempt_window=100_000.0)
    only_a = [run[0], running(gpus("c", 4, estimate=50_000.0), "n0")]
    assert decide([x], only_a, ONE_NODE, now=1000.0, policy=long_window).preemptions == ()
    assert decide([x], only_a, ONE_NODE, now=10_500.0, policy=long_window).preemptions == ("a",)


def test_preempt_rate_spares_work_from_due_gangs_unless_told_not_to() -> None:
    a = msgspec.structs.replace(
        gpus("a", 8, interruptible=True, estimate=10_000.0), preempted_at=(900.0,)
    )
    run = [running(a, "n0"), running(gpus("b", 8, interruptible=True, estimate=500.0), "n1")]
    g = gpus("g", 8, gang=2, submit=950.0, estimate=100.0)
    nodes = FOUR_NODES[:2]
    assert sorted(decide([g], run, nodes, now=1000.0).preemptions) == ["a", "b"]
    spared = AirfoilPolicy(preempt_rate=1)
    assert decide([g], run, nodes, now=1000.0, policy=spared).preemptions == ()
    gangs_take = AirfoilPolicy(preempt_rate=1, preempt_limit_gangs=False)
    d = decide([g], run, nodes, now=1000.0, policy=gangs_take)
    assert sorted(d.preemptions) == ["a", "b"]


def test_the_state_keeps_the_latest_preemption_times() -> None:
    item = gpus("a", 4, interruptible=True, estimate=100_000.0)
    state = make_state(ONE_NODE, AirfoilPolicy(), run=[running(item, "n0")])
    for t in range(20):
        again = state.preempt("a", 10.0 * t + 1.0)
        state.start("a", ["n0"], 10.0 * t + 2.0)
    assert again.preempted == 20
    assert again.preempted_at == tuple(10.0 * t + 1.0 for t in range(4, 20))  # the last 16


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"preempt_rate": 0}, "preempt_rate must be in"),
        ({"preempt_rate": 17}, "preempt_rate must be in"),
        ({"preempt_window": 0.0}, "preempt_window must be positive"),
        ({"preempt_window": float("inf")}, "preempt_window must be positive"),
    ],
)
def test_preempt_rate_settings_are_checked(settings: dict, message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        AirfoilPolicy(**settings)
