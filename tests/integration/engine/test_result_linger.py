"""Bounded coalescing of results (``EngineSettings.result_linger_s``, issue 17): once an
attempt's result is back, the loop waits a little for the attempts submitted with it (or
later), so that their ends and their successors' starts share one store commit.

The promises tested here: the same run commits about half as often with two workers whose
results come back one by one; an attempt submitted in an earlier turn (a long task beside
short ones) is never waited for; the run's outcome and its stored history are the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.engine.local import convert_inputs, spec_of
from airfoil.engine.runner import EngineSettings
from airfoil.engine.state import RunState
from airfoil.executors.base import AttemptResult, DelegatingExecutor, Executor
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration


class OneByOne(DelegatingExecutor):
    """Attempts run inline when submitted; each poll hands back at most one result, as
    workers that end one after another would. The result of node ``last`` is handed back
    only after ``others`` other results (a task that runs longer than the others)."""

    def __init__(self, inner: Executor, last: str = "", others: int = 0) -> None:
        super().__init__(inner)
        self.held: list[AttemptResult] = []
        self.last, self.others = last, others
        self.handed = 0
        #: the timeout of every poll the loop made
        self.timeouts: list[float | None] = []

    def has_results(self) -> bool:
        return False  # the loop waits for them through poll, as on worker processes

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        self.timeouts.append(timeout)
        self.held.extend(self.inner.poll(0))
        for i, r in enumerate(self.held):
            if r.node_id != self.last or self.handed >= self.others:
                self.handed += 1
                return [self.held.pop(i)]
        return []


def _fan(tmp_path: Path, linger_s: float, last: str = "") -> tuple[int, OneByOne]:
    """Drive a fan-out of 12 trivial tasks and a reducer on two inline "workers"; the
    store commits the drive made (the engine's ``on_change``: one per store write) and the
    executor."""
    import airfoil as af

    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.workflow
    def fan(x: int = 0) -> int:
        return total(xs=[inc(x=i) for i in range(12)])

    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path / "home"), executor="inline"))
    try:
        executor = OneByOne(rt.new_executor("inline"), last, others=11)
        commits: list[RunState] = []
        settings = EngineSettings(max_parallel=2, result_linger_s=linger_s)
        engine = rt.engine(executor, commits.append, settings=settings)
        rec = engine.launch(spec_of(fan), convert_inputs(fan, {}, rt))
        done = engine.drive(rec.id)
        assert done.phase == "succeeded", done.error
        nodes = rt.meta.get_nodes(rec.id)
        assert {n.phase for n in nodes} == {"succeeded"} and len(nodes) == 13
        return len(commits), executor
    finally:
        rt.close()


def test_two_workers_results_share_a_commit(tmp_path: Path) -> None:
    without, _ = _fan(tmp_path / "a", 0.0)
    lingered, _ = _fan(tmp_path / "b", 5.0)
    # 12 tasks and a reducer: one commit per task's end without, one per pair of ends with
    # (plus, in both, the first turn's and the reducer's end's).
    assert without >= 14
    assert lingered <= without // 2 + 1


def test_an_attempt_of_an_earlier_turn_is_not_waited_for(tmp_path: Path) -> None:
    # n0 comes back only once every other task has: each short task that ends beside it was
    # submitted in a later turn, so the loop never lingers for n0 (a linger is a poll with
    # the linger's timeout; the loop's own polls wait without one).
    lingered, executor = _fan(tmp_path, 5.0, last="n0")
    lingers = [t for t in executor.timeouts if t is not None]
    assert len(lingers) <= 1  # the first turn submitted n0 and n1 together
    assert lingered >= 12  # so each short task's end is committed on its own
