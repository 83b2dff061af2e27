"""A server's driver slots share one pool of worker processes (``SharedProcessPool``): each
slot's view (``PoolClient``) reports only its own attempts, exactly once; a slot's cancel or
close (a reset, a lost execution, a terminate) touches no other slot's attempts; attempts are
handed out round-robin over the slots, so one execution with many ready tasks does not starve
the others. The process executor's own promises, through one view, run in
``test_process_executor.py`` (the ``shared`` harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _executor_harness import Harness, collect, gone, worker_pid

from airfoil.executors._process_shared import PoolClient, SharedProcessPool
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import worker_runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def _pool(h: Harness, workers: int) -> SharedProcessPool:
    pool = SharedProcessPool(ProcessExecutor(h.blob_dir, workers, runtime=worker_runtime))
    h.executors.append(pool)
    return pool


def _client(h: Harness, pool: SharedProcessPool) -> PoolClient:
    c = pool.client()
    h.executors.append(c)  # closed before the pool (the harness closes in reverse)
    return c


def _req(h: Harness, execution: str, task: str, node: str, **inputs: Any) -> Any:
    return msgspec.structs.replace(h.request(task, node=node, **inputs), execution_id=execution)


@pytest.mark.timeout(60)
def test_results_never_cross_slots(h: Harness) -> None:
    """Two slots submit attempts with the same node ids (their executions differ), on fewer
    workers than attempts: each gets back exactly its own, once."""
    pool = _pool(h, 2)
    a, b = _client(h, pool), _client(h, pool)
    for i in range(6):
        a.submit(_req(h, "exA", "add", f"n{i}", a=i, b=1000))
        b.submit(_req(h, "exB", "add", f"n{i}", a=i, b=2000))
    got_a = collect(a, 6)
    got_b = collect(b, 6)
    assert sorted(h.output(r, "add") for r in got_a) == [1000 + i for i in range(6)]
    assert sorted(h.output(r, "add") for r in got_b) == [2000 + i for i in range(6)]
    assert {r.execution_id for r in got_a} == {"exA"}
    assert {r.execution_id for r in got_b} == {"exB"}
    assert a.poll(0.2) == [] and b.poll(0) == []  # nothing twice
    assert len(pool.worker_pids()) <= 2


@pytest.mark.timeout(60)
def test_a_slots_cancel_and_close_leave_other_slots_attempts_alone(h: Harness) -> None:
    pool = _pool(h, 3)
    a, b = _client(h, pool), _client(h, pool)
    a.submit(_req(h, "exA", "nap", "n0", seconds=30.0))
    a.submit(_req(h, "exA", "nap", "n1", seconds=30.0))
    b.submit(_req(h, "exB", "nap", "n0", seconds=1.0))  # same node id as a's first
    deadline = 30.0
    while a.running() + b.running() < 3:
        assert a.poll(0.05) == [] and b.poll(0) == []
        deadline -= 0.05
        assert deadline > 0
    a.cancel("exA", "n0")  # the node id b runs too
    a.close()  # a slot reset: everything a still has
    assert a.poll(0) == []
    (result,) = collect(b, 1)  # b's attempt ran to its end, in a worker nobody killed
    assert (result.execution_id, result.node_id) == ("exB", "n0")
    assert h.output(result, "nap") == 1.0
    assert not gone(worker_pid(result), within=0.2)
    # a's cancelled attempts are never reported, to b or a new client
    c = _client(h, pool)
    assert b.poll(0.3) == [] and c.poll(0) == []
    with pytest.raises(RuntimeError, match="closed"):
        a.submit(_req(h, "exA", "add", "n2", a=1, b=2))


@pytest.mark.timeout(60)
def test_attempts_are_handed_out_round_robin_over_slots(h: Harness) -> None:
    """One slot with many ready attempts does not starve another: on one worker, the other
    slot's attempt submitted last runs second, not after the 12 before it."""
    pool = _pool(h, 1)
    busy, quiet = _client(h, pool), _client(h, pool)
    for i in range(12):
        busy.submit(_req(h, "exBusy", "nap", f"n{i}", seconds=0.05))
    quiet.submit(_req(h, "exQuiet", "nap", "n0", seconds=0.05))
    (q,) = collect(quiet, 1)
    done = collect(busy, 12)
    ran_before = sum(1 for r in done if r.started_at < q.started_at)
    assert ran_before <= 2, ran_before


@pytest.mark.timeout(60)
def test_closing_the_pool_leaves_no_workers(h: Harness) -> None:
    pool = _pool(h, 2)
    a = _client(h, pool)
    a.warm()
    pids = pool.worker_pids()
    assert len(pids) == 2
    a.submit(_req(h, "exA", "nap", "n0", seconds=30.0))
    a.poll(0.2)
    pool.close()
    assert all(gone(p) for p in pids)
    assert a.poll(0) == []


@pytest.mark.timeout(60)
def test_an_attempts_wait_for_a_worker_comes_back_with_its_result(h: Harness) -> None:
    """On one worker, the second of two 0.5-s naps waits ~0.5 s in the queues (the client's,
    then the executor's): its result says so (``queued_s``, this host's monotonic clock), so
    the engine records its start at the hand-off; the first, handed over at once, says 0.
    The executor's own queue, without a pool in front, does the same."""
    pool = _pool(h, 1)
    a, b = _client(h, pool), _client(h, pool)
    a.submit(_req(h, "exA", "nap", "n0", seconds=0.5))
    b.submit(_req(h, "exB", "nap", "n0", seconds=0.5))
    (first,) = collect(a, 1)
    (second,) = collect(b, 1)
    assert first.queued_s == 0.0
    assert 0.4 <= second.queued_s < 5.0, second.queued_s
    own = ProcessExecutor(h.blob_dir, 1, runtime=worker_runtime)
    h.executors.append(own)
    own.submit(_req(h, "exC", "nap", "n0", seconds=0.5))
    own.submit(_req(h, "exC", "nap", "n1", seconds=0.5))
    got = {r.node_id: r for r in collect(own, 2)}
    assert got["n0"].queued_s == 0.0 and 0.4 <= got["n1"].queued_s < 5.0


@pytest.mark.timeout(60)
def test_a_client_has_its_share_out_deeper_while_the_pool_runs_short_attempts(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``max_out``: the workers for a lone client; their share once another has attempts
    out; 4 a worker while the pool finishes ~2,000 attempts a second (the rate is set here:
    the limit, not the timing, is what is checked)."""
    pool = _pool(h, 2)
    a, b = _client(h, pool), _client(h, pool)
    assert a.max_out() == 2
    # a's engine commits what it admitted before it submits: b asking meanwhile counts it
    assert b.max_out() == 1
    assert a.poll(0) == [] and b.poll(0) == []  # submitted what they admitted (nothing)
    assert a.max_out() == 2
    a.poll(0)
    b.submit(_req(h, "exB", "nap", "n0", seconds=30.0))
    assert a.max_out() == 1
    monkeypatch.setattr(pool, "rate", lambda: 2_000.0)
    assert a.max_out() == 8
    b.cancel("exB", "n0")


def _runs(path: Path) -> list[int]:
    """What ``tally`` attempts ran (one line each), in order."""
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.mark.timeout(60)
def test_a_worker_killed_among_a_turns_attempts_loses_no_finished_result(
    h: Harness, tmp_path: Path
) -> None:
    """A slot hands on a turn's attempts one after another; one of them kills
    its worker: every other attempt comes back once with its result, having run once, the
    killed one is reported lost once, and nothing is run or reported again."""
    pool = _pool(h, 2)
    a = _client(h, pool)
    tally = tmp_path / "tally.txt"
    for i in range(4):
        a.submit(_req(h, "exA", "tally", f"n{i}", path=str(tally), x=i))
    a.submit(_req(h, "exA", "kill_self", "dies", x=0))
    for i in range(4, 8):
        a.submit(_req(h, "exA", "tally", f"n{i}", path=str(tally), x=i))
    got = collect(a, 9)
    assert sorted(r.node_id for r in got) == sorted([*(f"n{i}" for i in range(8)), "dies"])
    (lost,) = [r for r in got if r.node_id == "dies"]
    assert lost.error is not None and lost.error.type == "WorkerLostError", lost.error
    assert sorted(h.output(r, "tally") for r in got if r.node_id != "dies") == list(range(8))
    assert a.poll(0.3) == []  # nothing reported twice
    assert sorted(_runs(tally)) == list(range(8))  # nothing run twice


@pytest.mark.timeout(60)
def test_a_submitted_attempt_cancelled_or_closed_before_its_hand_off_never_runs(
    h: Harness, tmp_path: Path
) -> None:
    """Attempts a slot submitted and cancels (or drops with its ``close``) before anything
    hands them on are neither run nor reported; those submitted with them run once each."""
    pool = _pool(h, 2)
    a, b = _client(h, pool), _client(h, pool)
    tally = tmp_path / "tally.txt"
    for i in range(3):
        a.submit(_req(h, "exA", "tally", f"n{i}", path=str(tally), x=i))
    a.cancel("exA", "n1")
    assert sorted(r.node_id for r in collect(a, 2)) == ["n0", "n2"]
    assert a.poll(0.3) == []
    b.submit(_req(h, "exB", "tally", "n0", path=str(tally), x=10))
    b.close()  # a slot reset before its turn ended
    c = _client(h, pool)
    c.submit(_req(h, "exC", "tally", "n0", path=str(tally), x=20))
    assert [h.output(r, "tally") for r in collect(c, 1)] == [20]
    assert sorted(_runs(tally)) == [0, 2, 20]
