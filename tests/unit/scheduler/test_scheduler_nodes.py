"""The scheduler's node list changes while it runs (a cluster's nodes join and leave):
waiting work stays queued, running work keeps its placement, a node that left while work
runs on it drains (nothing new is placed there, not even through a reservation or a
preemption), and a node that joins is used at the next decision."""

from __future__ import annotations

import pytest

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import InvalidWorkItemError, Node, SchedulerState, WorkItem

pytestmark = pytest.mark.unit

GIB = 2**30


def node(name: str, cpu: float = 2.0, gpu: int = 0) -> Node:
    return Node(name, ResourceSpec(cpu=cpu, mem=8 * GIB, gpu=gpu))


def item(item_id: str, cpu: float = 1.0, gang: int = 1, **kw: object) -> WorkItem:
    return WorkItem(
        id=item_id,
        project="p",
        resources=ResourceSpec(cpu=cpu, mem=GIB),
        gang_size=gang,
        estimate=10.0,
        **kw,  # type: ignore[arg-type]
    )


def start_all(state: SchedulerState, now: float) -> dict[str, tuple[str, ...]]:
    decision = state.decide(now)
    state.apply(decision, now)
    return {s.item_id: s.placement for s in decision.starts}


def test_a_node_that_joins_is_used_at_the_next_decision() -> None:
    state = SchedulerState([node("a")])
    for i in range(4):
        state.submit(item(f"i{i}"))
    assert sorted(start_all(state, 0.0)) == ["i0", "i1"]
    state.set_nodes([node("a"), node("b")])
    started = start_all(state, 1.0)
    assert sorted(started) == ["i2", "i3"] and set(started.values()) == {("b",)}
    assert state.free() == {"a": ResourceSpec(mem=6 * GIB), "b": ResourceSpec(mem=6 * GIB)}


def test_a_node_that_left_drains_and_takes_nothing_new() -> None:
    state = SchedulerState([node("a"), node("b")])
    for i in range(4):
        state.submit(item(f"i{i}"))
    placed = start_all(state, 0.0)
    on_b = sorted(i for i, p in placed.items() if p == ("b",))
    assert len(on_b) == 2
    state.submit(item("late"))
    state.set_nodes([node("a")])  # b left with two items on it
    assert [r.placement for r in state.running_items() if r.item.id in on_b] == [("b",)] * 2
    state.finish(on_b[0], 1.0)  # its room on b is not given back: b is gone
    assert start_all(state, 1.0) == {}
    assert state.free()["b"] == ResourceSpec()
    assert state.waiting_items()[0].id == "late"
    on_a = [i for i, p in placed.items() if p == ("a",)]
    state.finish(on_a[0], 2.0)
    assert start_all(state, 2.0) == {"late": ("a",)}
    state.finish(on_b[1], 3.0)
    state.set_nodes([node("a")])  # b is empty now: dropped
    assert [n.name for n in state.nodes] == ["a"]


def test_a_gang_never_reserves_or_preempts_on_a_node_that_left() -> None:
    state = SchedulerState([node("a"), node("b"), node("c")])
    state.submit(item("small-b", cpu=2.0, interruptible=True))
    state.submit(item("small-a", cpu=2.0, interruptible=True))
    started = start_all(state, 0.0)
    assert set(started.values()) <= {("a",), ("b",), ("c",)} and len(started) == 2
    gone = started["small-b"][0]
    left = [n for n in ("a", "b", "c") if n != gone]
    state.set_nodes([node(n) for n in left])
    state.submit(item("gang", cpu=2.0, gang=2, submit_time=0.0))
    decision = state.decide(10_000.0)  # long past the gang's due time: it may preempt
    for s in decision.starts:
        assert gone not in s.placement
    assert "small-b" not in decision.preemptions


def test_capacity_never_drops_below_what_runs_and_names_stay_unique() -> None:
    state = SchedulerState([node("a", cpu=4.0)])
    state.submit(item("big", cpu=3.0))
    start_all(state, 0.0)
    state.set_nodes([node("a", cpu=2.0)])  # reported smaller than what runs there
    assert state.free()["a"].cpu == 0.0
    with pytest.raises(InvalidWorkItemError, match="unique"):
        state.set_nodes([node("a"), node("a")])


def test_a_waiting_item_no_node_can_hold_stays_queued_until_one_joins() -> None:
    state = SchedulerState([node("a"), node("g", gpu=1)])
    state.submit(WorkItem("needs-gpu", "p", ResourceSpec(cpu=1.0, gpu=1), estimate=5.0))
    state.set_nodes([node("a")])  # the GPU node left before it started
    decision = state.decide(0.0)
    assert decision.starts == () and "needs-gpu" in decision.reasons
    state.set_nodes([node("a"), node("g2", gpu=1)])
    assert start_all(state, 1.0) == {"needs-gpu": ("g2",)}


def test_an_item_goes_to_the_preferred_node_with_room_and_never_waits_for_it() -> None:
    """Data locality: a one-worker item preferring a node (it caches the item's inputs) is
    placed there when it has room; with no room there it starts elsewhere at once."""
    state = SchedulerState([node("a"), node("b"), node("c")])
    state.submit(item("near", prefer=("c", "b")))
    assert start_all(state, 0.0) == {"near": ("c",)}
    state.submit(item("fill", cpu=1.0, prefer=("c",)))
    state.submit(item("next", cpu=1.0, prefer=("c", "b")))
    assert start_all(state, 1.0) == {"fill": ("c",), "next": ("b",)}  # c is full: b, its second
    state.submit(item("elsewhere", cpu=2.0, prefer=("c", "b", "gone")))
    assert start_all(state, 2.0) == {"elsewhere": ("a",)}  # neither has room: no waiting
    state.submit(item("waits", cpu=1.0, prefer=("c",)))
    assert start_all(state, 3.0) == {"waits": ("b",)}
