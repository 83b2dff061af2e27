"""``VictimIndex.first_fit`` gives the node and victims a walk over the victims gives.

``Round._victims_for`` walks victims in order, adding each one's release to its nodes, and
stops at the first node where a worker fits; ``VictimIndex`` answers the same question per
node with running sums (see its module). These tests draw clusters with single workers and
gangs (some with two workers on one node), draining nodes, reservation caps and work the
round already preempted or restored, and ask both the same questions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sched_factories import GIB, gpu_node, make_state, running

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import AirfoilPolicy, Decision, SchedulerState, WorkItem, _victims
from airfoil.scheduler._capacity import demand_of
from airfoil.scheduler._round import Round
from airfoil.scheduler._state import RunningEntry
from airfoil.scheduler._victim_index import VictimIndex

pytestmark = pytest.mark.unit

NOW = 10_000.0


@st.composite
def clusters(draw: st.DrawFn) -> SchedulerState:
    """2-5 nodes of 8 GPUs, filled by workers of 1-3 worker items placed where they fit."""
    nodes = [
        gpu_node(f"n{i}", gpus=8, cpu=16.0, mem_gib=64) for i in range(draw(st.integers(2, 5)))
    ]
    free = {node.name: [16.0, 64, 8] for node in nodes}
    runs = []
    for i in range(draw(st.integers(1, 30))):
        cpu = draw(st.sampled_from((0.0, 1.0, 2.0, 4.0)))
        mem = draw(st.sampled_from((0, 1, 8)))
        gpu = draw(st.sampled_from((0, 1, 2, 4)))
        placement = []
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.sampled_from(sorted(free)))
            room = free[name]
            if room[0] < cpu or room[1] < mem or room[2] < gpu:
                break
            room[0] -= cpu
            room[1] -= mem
            room[2] -= gpu
            placement.append(name)
        if not placement:
            continue
        item = WorkItem(
            id=f"r{i}",
            project="p",
            resources=ResourceSpec(cpu=cpu, mem=mem * GIB, gpu=gpu),
            gang_size=len(placement),
            priority=draw(st.integers(0, 2)),
            interruptible=draw(st.booleans()) or draw(st.booleans()),
            submit_time=0.0,
            estimate=1000.0,
        )
        runs.append(running(item, *placement, start=NOW - 100.0))
    state = make_state(nodes, AirfoilPolicy(), run=runs)
    if draw(st.booleans()):  # a node leaves while its work runs: it drains
        state.set_nodes(nodes[1:])
    return state


demands = st.tuples(
    st.sampled_from((0.0, 1.0, 4.0, 8.0, 16.0)),
    st.sampled_from((0, 4, 32, 64)),
    st.sampled_from((0, 1, 2, 4, 8)),
).map(lambda d: demand_of(ResourceSpec(cpu=d[0], mem=d[1] * GIB, gpu=d[2])))


def _churn(rnd: Round, runs: list[RunningEntry], data: st.DataObject) -> None:
    """The round preempts or restores some work between searches (the index re-sums)."""
    for run in data.draw(st.lists(st.sampled_from(runs), max_size=3, unique_by=id)):
        if run.entry.item.id in rnd.preempted:
            rnd._restore(run)
        elif run.entry.item.interruptible:
            rnd._preempt(run)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=clusters(), data=st.data())
def test_first_fit_finds_what_walking_the_victims_finds(
    state: SchedulerState, data: st.DataObject
) -> None:
    rnd = Round(state, NOW, explain=True)
    runs = data.draw(st.permutations(sorted(state.running.values(), key=lambda r: r.entry.item.id)))
    index = VictimIndex(runs, state)
    for _ in range(data.draw(st.integers(1, 6))):
        _churn(rnd, runs, data)
        caps = [
            {n: list(data.draw(demands)) for n in data.draw(st.sets(st.integers(0, 4), max_size=3))}
            for _ in range(data.draw(st.integers(0, 2)))
        ]
        demand = data.draw(demands)
        want = rnd._victims_for(demand, runs, caps, False)
        got = index.first_fit(rnd, demand, caps)
        assert got == want, (demand, caps, sorted(rnd.preempted))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=clusters(), data=st.data())
def test_a_view_at_most_a_priority_finds_what_walking_its_victims_finds(
    state: SchedulerState, data: st.DataObject
) -> None:
    """``at_most(p)`` shares the index's per-node lists but answers as an index built over
    the victims of priority at most ``p`` would: as walking those victims."""
    rnd = Round(state, NOW, explain=True)
    runs = data.draw(st.permutations(sorted(state.running.values(), key=lambda r: r.entry.item.id)))
    every = VictimIndex(runs, state)
    most = data.draw(st.integers(0, 2))
    kept = [run for run in runs if run.entry.item.priority <= most]
    view = every.at_most(most, kept)
    for _ in range(data.draw(st.integers(1, 4))):
        _churn(rnd, runs, data)
        demand = data.draw(demands)
        assert view.first_fit(rnd, demand, ()) == rnd._victims_for(demand, kept, (), False)
        assert every.first_fit(rnd, demand, ()) == rnd._victims_for(demand, runs, (), False)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=clusters(), data=st.data())
def test_can_free_says_whether_walking_every_victim_finds_a_node(
    state: SchedulerState, data: st.DataObject
) -> None:
    """``can_free`` is the bound the LAS pass checks before a claimant's walk: when it is
    false, no walk over any of the index's victims (in any order, under any caps) finds a
    node; and it is false exactly when walking all of them without caps finds none."""
    rnd = Round(state, NOW, explain=True)
    runs = data.draw(st.permutations(sorted(state.running.values(), key=lambda r: r.entry.item.id)))
    index = VictimIndex(runs, state)
    for _ in range(data.draw(st.integers(1, 4))):
        _churn(rnd, runs, data)
        demand = data.draw(demands)
        every = rnd._victims_for(demand, runs, (), False)
        assert index.can_free(rnd, demand) == (every is not None), (demand, sorted(rnd.preempted))
        if every is None:
            some = data.draw(st.lists(st.sampled_from(runs), unique_by=id)) if runs else []
            caps = [{n: [0, 0, 0]} for n in data.draw(st.sets(st.integers(0, 4), max_size=2))]
            assert rnd._victims_for(demand, some, caps, False) is None


def test_the_index_is_built_once_per_decision_for_claimants_of_two_priorities() -> None:
    """Running work at priorities 0 and 1 and due gangs at both: the gang at priority 0 may
    not preempt the priority-1 work, so it searches fewer victims, but through a view of the
    one index the decision builds (it built one per priority before), with the same starts."""
    nodes = [gpu_node(f"n{i}", gpus=8, cpu=64.0, mem_gib=512) for i in range(4)]
    runs = [
        running(
            WorkItem(
                f"r{i}",
                "p",
                ResourceSpec(cpu=1.0, mem=GIB, gpu=4),
                priority=i % 2,
                interruptible=True,
                submit_time=0.0,
                estimate=50_000.0,
            ),
            f"n{i // 2}",
            start=NOW - 1000.0,
        )
        for i in range(8)
    ]
    queue = [
        WorkItem(
            f"g{p}",
            "p",
            ResourceSpec(cpu=1.0, mem=GIB, gpu=8),
            gang_size=2,
            priority=p,
            submit_time=NOW - 100.0,
            estimate=600.0,
        )
        for p in (0, 1)
    ]
    builds: list[int] = []
    real_init = VictimIndex.__init__

    def counting(self: VictimIndex, *args: object, **kwargs: object) -> None:
        builds.append(1)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VictimIndex, "__init__", counting)
        decision = make_state(nodes, AirfoilPolicy(), run=runs, queue=queue).decide(NOW)
    assert len(builds) == 1
    # the priority-1 gang took two nodes; the priority-0 gang found no two nodes of work of
    # priority 0 only (each node runs one item of each priority), so it waits
    assert {start.item_id for start in decision.starts} == {"g1"}
    assert len(decision.preemptions) == 4


def test_first_fit_takes_the_node_freed_earliest_in_the_victims_order() -> None:
    """Two full nodes; the node whose last victim comes first in the order is taken, with
    exactly its victims, even though the other node's first victim comes first."""
    nodes = [gpu_node("a", gpus=8), gpu_node("b", gpus=8)]
    items = [
        WorkItem(f"{n}{i}", "p", ResourceSpec(cpu=1.0, mem=GIB, gpu=4), interruptible=True)
        for n in "ab"
        for i in range(2)
    ]
    state = make_state(nodes, "airfoil", run=[running(it, it.id[0]) for it in items])
    run = state.running
    order = [run["a0"], run["b0"], run["b1"], run["a1"]]
    rnd = Round(state, NOW, explain=True)
    index = VictimIndex(order, state)
    demand = demand_of(ResourceSpec(cpu=1.0, mem=GIB, gpu=8))
    assert index.first_fit(rnd, demand, ()) == (1, [run["b0"], run["b1"]])
    assert rnd._victims_for(demand, order, (), False) == (1, [run["b0"], run["b1"]])
    # once b1 is preempted (its room already free), b fits after b0 alone
    rnd._preempt(run["b1"])
    assert index.first_fit(rnd, demand, ()) == (1, [run["b0"]])
    # a node capped by a reservation to 4 GPUs is never the answer for 8
    assert index.first_fit(rnd, demand, [{1: [64_000, 512 * GIB, 4]}]) == (
        0,
        [run["a0"], run["a1"]],
    )


@st.composite
def gang_scenes(draw: st.DrawFn) -> Callable[[], SchedulerState]:
    """A full cluster of mixed interruptible work and a queue with due gangs (of whole-node
    and smaller workers), at two priorities: where the due pass searches for room."""
    count = draw(st.integers(2, 6))
    nodes = [gpu_node(f"n{i}", gpus=8, cpu=64.0, mem_gib=512) for i in range(count)]
    runs = []
    for n, node in enumerate(nodes):
        used = 0
        while used < 8:
            size = draw(st.sampled_from((1, 2, 4, 8)))
            if used + size > 8:
                size = 8 - used
            item = WorkItem(
                id=f"r{n}_{used}",
                project="p",
                resources=ResourceSpec(cpu=1.0, mem=GIB, gpu=size),
                priority=draw(st.integers(0, 1)),
                interruptible=draw(st.integers(0, 3)) > 0,
                submit_time=0.0,
                estimate=float(draw(st.integers(100, 100_000))),
            )
            runs.append(running(item, node.name, start=NOW - draw(st.integers(1, 5000))))
            used += size
    queue = [
        WorkItem(
            id=f"w{i}",
            project="p",
            resources=ResourceSpec(cpu=1.0, mem=GIB, gpu=draw(st.sampled_from((1, 4, 8)))),
            gang_size=draw(st.integers(1, min(3, count))),
            priority=draw(st.integers(0, 1)),
            submit_time=NOW - draw(st.integers(0, 50_000)),
            estimate=float(draw(st.integers(60, 50_000))),
        )
        for i in range(draw(st.integers(1, 12)))
    ]
    policy = AirfoilPolicy(max_preemptions=draw(st.sampled_from((4, 64))))
    return lambda: make_state(nodes, policy, run=runs, queue=queue)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=gang_scenes())
def test_decisions_are_the_same_with_the_index_as_with_the_walk(
    scene: Callable[[], SchedulerState],
) -> None:
    """Whole decisions, three chained (each applied before the next): the due pass
    searching with the index, and searching by walking the same victims (as before it)."""

    def chain() -> list[Decision]:
        state, out = scene(), []
        for step in range(3):
            out.append(state.decide(NOW + step))
            state.apply(out[-1], NOW + step)
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_victims.Victims, "indexed", lambda self, e: self.for_claimant(e, None))
        walked = chain()
    indexed = chain()
    assert indexed == walked
