"""The least-attained-service pass's shortcuts (``airfoil.scheduler._settle``) change no
decision: the same starts, preemptions, reasons and wake-up time with them on and off, on
random fragmented clusters where they apply (many waiting whole-node workers of one shape,
a few smaller items deep in the queue, some due work), over chained decisions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sched_factories import GIB, gpus, make_state, running

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import AirfoilPolicy, Node, SchedulerState, WorkItem, _settle
from airfoil.scheduler._round import Round
from airfoil.scheduler._settle import next_unsettled, shortest_fails_too
from airfoil.scheduler._victims import Victims

pytestmark = pytest.mark.unit

NOW = 200_000.0


def _node(i: int) -> Node:
    return Node(f"n{i}", ResourceSpec(cpu=64.0, mem=512 * GIB, gpu=8))


def _item(prefix: str, i: int, gpu: int, **fields: object) -> WorkItem:
    return WorkItem(
        id=f"{prefix}{i}",
        project="p",
        resources=ResourceSpec(cpu=float(gpu), mem=gpu * GIB, gpu=gpu),
        interruptible=True,
        **fields,  # type: ignore[arg-type]
    )


@st.composite
def fragmented(draw: st.DrawFn) -> tuple[SchedulerState, float]:
    policy = draw(
        st.sampled_from(
            (
                AirfoilPolicy(),
                AirfoilPolicy(srpt_queue=None),
                AirfoilPolicy(srpt_ratio=None),
                AirfoilPolicy(defragment=False),
                AirfoilPolicy(due_share=None),
                AirfoilPolicy(preempt_ratio=None),
            )
        )
    )
    count = draw(st.integers(2, 6))
    state = SchedulerState([_node(i) for i in range(count)], policy=policy)
    for i in range(count):  # each node partly held by interruptible work
        for k in range(draw(st.integers(1, 2))):
            gpu = draw(st.sampled_from((2, 4)))
            item = _item(
                f"r{i}_",
                k,
                gpu,
                submit_time=NOW - 50_000.0,
                estimate=float(draw(st.sampled_from((3_600, 20_000, 90_000, 400_000)))),
                attained=float(draw(st.sampled_from((0, 5_000, 50_000)))),
                priority=draw(st.integers(0, 1)),
            )
            state.submit(item)
            state.start(item.id, [f"n{i}"], NOW - float(draw(st.integers(0, 40_000))))
    for j in range(draw(st.integers(5, 40))):  # the big shape
        state.submit(
            _item(
                "w",
                j,
                8,
                submit_time=NOW - float(draw(st.integers(0, 200_000))),
                estimate=float(draw(st.integers(2_000, 100_000))),
                attained=float(draw(st.sampled_from((0, 5_000)))),
                priority=draw(st.sampled_from((0, 0, 0, 1))),
            )
        )
    for j in range(draw(st.integers(0, 4))):  # a few others, anywhere in the queue
        state.submit(
            _item(
                "x",
                j,
                draw(st.sampled_from((1, 2, 4))),
                submit_time=NOW - float(draw(st.integers(0, 200_000))),
                estimate=float(draw(st.integers(600, 100_000))),
                attained=float(draw(st.sampled_from((0, 5_000, 50_000)))),
                gang_size=draw(st.sampled_from((1, 1, 1, 2))),
            )
        )
    return state, NOW


def _decide(state: SchedulerState, now: float, active: bool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_settle, "ACTIVE", active)
    return state.decide(now)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=fragmented())
def test_the_shortcuts_change_no_decision(
    scenario: tuple[SchedulerState, float],
) -> None:
    state, now = scenario
    with pytest.MonkeyPatch.context() as mp:
        for _ in range(4):  # chained: moved work restarts deep in the queue
            on = _decide(state, now, True, mp)
            off = _decide(state, now, False, mp)
            assert on == off
            state.apply(on, now)
            if state.running_by_end and not on.starts:
                state.finish(state.running_by_end[0][2], now)
            now += 1e-3 if on.wake_at is not None and on.wake_at - now < 1 else 60.0


def _halves(count: int) -> tuple[list[Node], list]:
    nodes = [_node(i) for i in range(count)]
    run = [
        running(
            gpus(f"r{i}", 4, interruptible=True, estimate=20_000.0, attained=5_000.0),
            f"n{i}",
            start=NOW - 1_000.0,
        )
        for i in range(count)
    ]
    return nodes, run


def test_a_shape_no_victim_serves_is_settled_and_the_walk_skips_to_the_next_shape() -> None:
    """Half of every node is held by 4-GPU work with 19,000 s left; 8-GPU workers wait with
    estimates of 20,000 s or more, so none is offered a victim (``srpt_ratio`` 2: 40,000 s
    left would be needed): the first one's failure settles the shape, and the walk goes
    straight to the 2-GPU item behind them (which starts), not through them."""
    nodes, run = _halves(3)
    queue = [
        gpus(f"w{j}", 8, submit=NOW - 100_000.0, estimate=20_000.0 + j, attained=5_000.0)
        for j in range(30)
    ]
    queue.append(gpus("x", 2, submit=NOW - 50_000.0, estimate=30_000.0, attained=5_000.0))
    state = make_state(
        nodes, AirfoilPolicy(srpt_queue=None, defragment=False), run=run, queue=queue
    )
    rnd = Round(state, NOW, explain=True)
    victims = Victims(state.policy, rnd, state.order[0][0])  # type: ignore[arg-type]
    first = state.waiting["w0"]
    assert rnd.try_start(first) is not None
    assert shortest_fails_too(rnd, victims, first, True, 2.0, 1.0, True, {})
    hopeless = {first.shape: (first.key[0], 0.0)}
    at = next_unsettled(rnd, hopeless, first.key, set())
    assert at is not None and state.order[at][4] == "x"
    # a shorter waiter, that a victim could serve, keeps the shape open
    state.submit(gpus("w_short", 8, submit=NOW, estimate=5_000.0, attained=5_000.0))
    rnd = Round(state, NOW, explain=True)
    victims = Victims(state.policy, rnd, state.order[0][0])  # type: ignore[arg-type]
    assert rnd.try_start(first) is not None
    assert not shortest_fails_too(rnd, victims, first, True, 2.0, 1.0, True, {})
    # and the decision is the same with and without the shortcuts
    with pytest.MonkeyPatch.context() as mp:
        assert _decide(state, NOW, True, mp) == _decide(state, NOW, False, mp)
