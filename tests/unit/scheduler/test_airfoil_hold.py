"""``AirfoilPolicy.hold_after``: a start after a long wait is not undone at once."""

from __future__ import annotations

import pytest
from sched_factories import gpu_node, gpus, running, starts

from airfoil.scheduler import AirfoilPolicy, InvalidPolicyError, decide

pytestmark = pytest.mark.unit

ONE_NODE = [gpu_node("n0", 8)]
TWO_NODES = [gpu_node("n0", 8), gpu_node("n1", 8)]
HOLD = AirfoilPolicy(hold_after=1.0, hold_for=0.1)


def _whole(submit: float) -> list:
    # 8 GPUs, 10,000 s estimated, started at 20,000 s: waited 20,000 - submit
    return [
        running(
            gpus("w", 8, interruptible=True, estimate=10_000.0, submit=submit), "n0", start=20_000.0
        )
    ]


def test_a_whole_node_job_started_after_waiting_its_estimate_is_no_victim_while_held() -> None:
    x = gpus("x", 1, submit=20_400.0, estimate=100.0)
    run = _whole(submit=0.0)  # waited twice its estimate
    # by default a fresh 1-GPU job preempts it (level 1 against level 0, 9,500 s left)
    assert decide([x], run, ONE_NODE, now=20_500.0).preemptions == ("w",)
    # held for a tenth of its estimate: no victim until 21,000 s, and the decision wakes then
    held = decide([x], run, ONE_NODE, now=20_500.0, policy=HOLD)
    assert held.preemptions == () and starts(held) == []
    assert held.wake_at == 21_000.0
    assert decide([x], run, ONE_NODE, now=21_000.0, policy=HOLD).preemptions == ("w",)
    # hold_s: at least that many seconds, the longer of the two
    longer = AirfoilPolicy(hold_after=1.0, hold_for=0.1, hold_s=2_000.0)
    assert decide([x], run, ONE_NODE, now=21_500.0, policy=longer).preemptions == ()
    assert decide([x], run, ONE_NODE, now=22_000.0, policy=longer).preemptions == ("w",)


def test_no_hold_for_a_job_that_waited_less_or_for_less_than_a_node_unless_asked() -> None:
    x = gpus("x", 1, submit=20_400.0, estimate=100.0)
    # waited 5,000 s, half its estimate: not held
    assert decide([x], _whole(15_000.0), ONE_NODE, now=20_500.0, policy=HOLD).preemptions == ("w",)
    half = [running(gpus("h", 4, interruptible=True, estimate=10_000.0), "n0", start=20_000.0)]
    run = [*half, running(gpus("o", 4, estimate=50_000.0), "n0")]
    assert decide([x], run, ONE_NODE, now=20_950.0, policy=HOLD).preemptions == ("h",)
    anyone = AirfoilPolicy(hold_after=1.0, hold_for=0.1, hold_whole=False)
    assert decide([x], run, ONE_NODE, now=20_950.0, policy=anyone).preemptions == ()


def test_defragment_moves_no_held_job() -> None:
    # "h" (4 GPUs, waited twice its estimate) and the non-interruptible "o" each leave half a
    # node idle; the 8-GPU "big" waited past its estimate: by default defragment moves "h"
    h = gpus("h", 4, interruptible=True, estimate=10_000.0)
    run = [running(h, "n0", start=20_000.0), running(gpus("o", 4, estimate=90_000.0), "n1")]
    big = gpus("big", 8, submit=0.0, estimate=10_000.0)
    moved = decide([big], run, TWO_NODES, now=20_500.0)
    assert moved.preemptions == ("h",) and starts(moved) == [("big", ("n0",))]
    anyone = AirfoilPolicy(hold_after=1.0, hold_for=0.1, hold_whole=False)
    held = decide([big], run, TWO_NODES, now=20_500.0, policy=anyone)
    assert held.preemptions == () and starts(held) == []


def test_due_gangs_respect_a_hold_unless_preempt_limit_gangs_is_off() -> None:
    g = gpus("g", 8, gang=2, submit=20_400.0, estimate=1_000.0)
    run = _whole(submit=0.0)
    held = decide([g], run, TWO_NODES, now=20_500.0, policy=HOLD)
    assert held.preemptions == () and held.reasons["g"].startswith("holding a reservation")
    gangs_take = AirfoilPolicy(hold_after=1.0, hold_for=0.1, preempt_limit_gangs=False)
    d = decide([g], run, TWO_NODES, now=20_500.0, policy=gangs_take)
    assert d.preemptions == ("w",) and starts(d) == [("g", ("n1", "n0"))]
    # ... while the least-attained-service pass still spares it
    x = gpus("x", 1, submit=20_400.0, estimate=100.0)
    assert decide([x], run, ONE_NODE, now=20_500.0, policy=gangs_take).preemptions == ()


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"hold_after": -1.0}, "-1.0"),
        ({"hold_after": 1.0, "hold_for": 1.5}, "1.5"),
        ({"hold_after": 1.0, "hold_s": float("inf")}, "inf"),
    ],
)
def test_hold_settings_are_checked(settings: dict[str, float], shown: str) -> None:
    with pytest.raises(InvalidPolicyError, match=rf"hold_after must be .*{shown}"):
        AirfoilPolicy(**settings)  # type: ignore[arg-type]
