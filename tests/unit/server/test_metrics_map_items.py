"""The server's Prometheus counters count the attempts of map items as they count any
node's: a map of four items, one failing twice, ended five attempts (three succeeded, two
failed), and each was timed. Before, ``airfoil_attempts_total`` and
``airfoil_task_duration_seconds`` read only ``RunState.attempts``, which never holds an
item's attempt, so a map's work was invisible to them."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import airfoil as af
from airfoil.engine._mapping import ITEM_DURATIONS_KEPT, ItemEnds
from airfoil.local import LocalRuntime, spec_of
from airfoil.server._metrics import Metrics
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit


@af.task(retries=1)
def halve(x: int) -> int:
    if x == 3:
        raise ValueError("three is odd here")
    return x // 2


@af.task
def plain(x: int) -> int:
    return x


@af.workflow
def halves(xs: list[int]) -> list[int]:
    return af.map_task(halve)(x=xs)


@af.workflow
def single(x: int = 1) -> int:
    return plain(x=x)


def _samples(metrics: Metrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        s.name + str(sorted(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _drive(rt: LocalRuntime, metrics: Metrics, wf: Any, name: str, value: Any, t: Any) -> str:
    engine = rt.engine(on_change=metrics.on_change)
    inputs = {name: rt.types.to_value(value, t, ValueContext(blobs=rt.blobs))}
    return str(engine.drive(engine.launch(spec_of(wf), inputs).id).phase)


def test_the_attempts_of_map_items_are_counted_and_timed(rt: LocalRuntime) -> None:
    metrics = Metrics(rt.meta)
    assert _drive(rt, metrics, halves, "xs", [1, 2, 3, 4], list[int]) == "failed"
    s = _samples(metrics)
    assert s["airfoil_attempts_total[('phase', 'succeeded')]"] == 3
    assert s["airfoil_attempts_total[('phase', 'failed')]"] == 2  # item 2 and its retry
    assert s["airfoil_task_duration_seconds_count[]"] == 5
    # a plain node is counted as before, beside them
    assert _drive(rt, metrics, single, "x", 2, int) == "succeeded"
    s = _samples(metrics)
    assert s["airfoil_attempts_total[('phase', 'succeeded')]"] == 4
    assert s["airfoil_task_duration_seconds_count[]"] == 6


class _Exec:
    def __init__(self, id: str, phase: str) -> None:
        self.id, self.phase = id, phase


class _State:
    """What :meth:`Metrics.changes` reads of a run state, for the look-by-look cases."""

    def __init__(self, phase: str = "running") -> None:
        self.execution = _Exec("e1", phase)
        self.attempts: dict[object, object] = {}
        self.records: dict[object, object] = {}
        self.item_ends = ItemEnds()


def _ended(ends: ItemEnds, phase: str, took: float) -> None:
    from airfoil.core.records import AttemptRecord

    ends.ended(
        AttemptRecord(
            execution_id="e1",
            node_id="n0[0]",
            attempt=1,
            phase=phase,
            started_at=100.0,
            ended_at=100.0 + took,
        )
    )


def test_each_look_counts_only_what_ended_since_the_last(rt: LocalRuntime) -> None:
    metrics = Metrics(rt.meta)
    state = _State()
    for _ in range(3):
        _ended(state.item_ends, "succeeded", 0.2)
    assert metrics.changes(state) == [
        ("attempts", "succeeded", 3.0, None),
        *[("duration", "", pytest.approx(0.2), None)] * 3,
    ]
    _ended(state.item_ends, "failed", 0.5)
    metrics._next_look.clear()  # the next look is due (they are half a second apart)
    assert metrics.changes(state) == [
        ("attempts", "failed", 1.0, None),
        ("duration", "", pytest.approx(0.5), None),
    ]
    metrics._next_look.clear()
    assert metrics.changes(state) == []
    # the same execution driven again by a fresh state (its lease taken back): counts anew
    again = _State()
    _ended(again.item_ends, "succeeded", 0.1)
    metrics._next_look.clear()
    assert metrics.changes(again) == [
        ("attempts", "succeeded", 1.0, None),
        ("duration", "", pytest.approx(0.1), None),
    ]


def test_more_ends_between_two_looks_than_kept_still_count_every_attempt(
    rt: LocalRuntime,
) -> None:
    metrics = Metrics(rt.meta)
    state = _State()
    for _ in range(ITEM_DURATIONS_KEPT + 5):
        _ended(state.item_ends, "succeeded", 0.01)
    metrics.record(metrics.changes(state))
    s = _samples(metrics)
    assert s["airfoil_attempts_total[('phase', 'succeeded')]"] == ITEM_DURATIONS_KEPT + 5
    assert s["airfoil_task_duration_seconds_count[]"] == ITEM_DURATIONS_KEPT  # the newest
