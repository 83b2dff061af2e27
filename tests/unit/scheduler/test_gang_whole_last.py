"""``AirfoilPolicy.gang_whole_last``: due gangs clear nodes of smaller work first."""

from __future__ import annotations

import pytest
from sched_factories import gpu_node, gpus, running, starts

from airfoil.scheduler import AirfoilPolicy, decide

pytestmark = pytest.mark.unit

FOUR_NODES = [gpu_node(f"n{i}", 8) for i in range(4)]


def test_a_due_gang_preempts_whole_node_singles_last_when_asked() -> None:
    # level 1 everywhere; "w" (a whole-node single) has the most work left
    run = [
        running(gpus("w", 8, interruptible=True, estimate=100_000.0), "n0"),
        running(gpus("a", 4, interruptible=True, estimate=10_000.0), "n1"),
        running(gpus("b", 4, interruptible=True, estimate=10_000.0), "n1"),
        running(gpus("c", 4, interruptible=True, estimate=9_000.0), "n2"),
        running(gpus("d", 4, interruptible=True, estimate=9_000.0), "n2"),
        running(gpus("busy", 8, estimate=100_000.0), "n3"),
    ]
    g = gpus("g", 8, gang=2, submit=900.0, estimate=5_000.0)
    by_default = decide([g], run, FOUR_NODES, now=1000.0)
    assert "w" in by_default.preemptions
    last = decide([g], run, FOUR_NODES, now=1000.0, policy=AirfoilPolicy(gang_whole_last=True))
    assert sorted(last.preemptions) == ["a", "b", "c", "d"]
    assert sorted(starts(last)[0][1]) == ["n1", "n2"]
    # when the gang needs its node, it still takes it
    three = [*run[:3], run[5]]
    nodes = FOUR_NODES[:2] + FOUR_NODES[3:]
    d = decide([g], three, nodes, now=1000.0, policy=AirfoilPolicy(gang_whole_last=True))
    assert sorted(d.preemptions) == ["a", "b", "w"]
