"""How many attempts a slot sharing a worker pool may have out (``depth``): deep while the
pool's attempts are short (what they finish shares a slot's fenced statements), its share of
the workers once they are long (attempts out that wait for a worker show as running)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airfoil.engine.admission import Admission
from airfoil.executors._process_shared import DEEPEST_PER_WORKER, QUEUE_WAIT_BOUND_S, depth
from airfoil.executors.base import Executor

pytestmark = pytest.mark.unit


def test_trivial_tasks_get_the_deepest_queue() -> None:
    """~2,000 attempts a second (the server's trivial tasks): 4 a worker up to 4 slots; with
    8 slots all that deep, the last would wait ~60 ms: 13 each (104 out, ~50 ms)."""
    assert DEEPEST_PER_WORKER == 4 and QUEUE_WAIT_BOUND_S == 0.05
    for slots in (1, 2, 4):
        assert depth(4, 2_000.0, slots, others_out=16 * (slots - 1)) == 16
    assert depth(4, 2_000.0, 8, others_out=16 * 7) == 13
    assert depth(1, 2_000.0, 2, others_out=4) == 4


def test_long_tasks_get_the_workers_share_and_no_more() -> None:
    """1-s tasks on 4 workers (4 a second): the slots share the 4 workers."""
    assert depth(4, 4.0, 1, others_out=0) == 4
    assert depth(4, 4.0, 2, others_out=2) == 2
    assert depth(4, 4.0, 4, others_out=3) == 1
    assert depth(2, 2.0, 2, others_out=1) == 1
    assert depth(1, 1.0, 2, others_out=1) == 1  # never none: each slot gets its turn
    assert depth(1, 0.0, 8, others_out=7) == 1


def test_what_the_others_leave_unused_is_taken() -> None:
    """Another slot with one long task out: this one uses the other three workers."""
    assert depth(4, 4.0, 2, others_out=1) == 3


def test_the_depth_follows_the_rate_in_between() -> None:
    """100 attempts a second (10-ms tasks on 1 worker... or 40 ms on 4): the workers plus
    5 more, so the last waits about 50 ms."""
    assert depth(4, 100.0, 1, others_out=0) == 9
    assert depth(4, 100.0, 3, others_out=6) == 3


class _Adaptive(Executor):
    def __init__(self) -> None:
        self.out = 3

    def submit(self, request: Any) -> None:
        raise AssertionError

    def poll(self, timeout: float | None) -> list[Any]:
        return []

    def cancel(self, execution_id: str, node_id: str) -> None:
        pass

    def max_parallel(self) -> int:
        return 2

    def max_out(self) -> int:
        return self.out


def _admission(executor: Executor, max_parallel: int | None) -> Admission:
    return Admission(executor, max_parallel, lambda: None, "e1", "p")  # type: ignore[arg-type,return-value]


def _state() -> Any:
    return SimpleNamespace(task_of=lambda nid: None)


def test_admission_asks_an_adaptive_executor_at_each_admission() -> None:
    ex = _Adaptive()
    adm = _admission(ex, None)
    for i in range(10):
        adm.enqueue(f"n{i}", _state())
    assert adm.admit(_state()) == ["n0", "n1", "n2"]
    ex.out = 5
    assert adm.admit(_state()) == ["n3", "n4"]
    ex.out = 1  # shallower: nothing more until the attempts out come back
    assert adm.admit(_state()) == []
    for nid in ("n0", "n1", "n2", "n3", "n4"):
        adm.release(nid)
    assert adm.admit(_state()) == ["n5"]


def test_max_parallel_caps_what_an_adaptive_executor_answers() -> None:
    """The operator's ``--max-parallel`` stays a bound on the attempts of an execution out."""
    ex = _Adaptive()
    ex.out = 16
    adm = _admission(ex, 4)
    for i in range(10):
        adm.enqueue(f"n{i}", _state())
    assert len(adm.admit(_state())) == 4
    assert adm.current_limit() == 4
    ex.out = 2
    assert adm.current_limit() == 2


def test_a_fixed_executors_limit_is_as_before() -> None:
    class Fixed(_Adaptive):
        def max_out(self) -> None:  # type: ignore[override]
            return None

    assert _admission(Fixed(), None).current_limit() == 2
    assert _admission(Fixed(), 7).current_limit() == 7
