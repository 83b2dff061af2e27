"""The process gang: all ranks start with the collective environment, a failing rank stops
the others at once, and a supervisor killed outright leaves no rank behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airfoil.executors._gang import GangPlan, ProcessGang, free_port, run_gang

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _entries  # noqa: E402


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(60)
def test_every_rank_runs_and_reports_its_result_and_log() -> None:
    outcome = ProcessGang().run(GangPlan(workers=3), _entries.echo_rank, b"hi")
    assert outcome.ok
    assert [r.result for r in outcome.ranks] == [b"0/3:hi", b"1/3:hi", b"2/3:hi"]
    assert [r.log.strip() for r in outcome.ranks] == [f"rank {i} says hi" for i in range(3)]
    assert outcome.started_at <= outcome.running_at


@pytest.mark.timeout(60)
def test_a_rank_that_raises_stops_the_gang_at_once() -> None:
    started = time.monotonic()
    outcome = ProcessGang().run(GangPlan(workers=2), _entries.rank_1_raises, b"")
    assert time.monotonic() - started < 30  # rank 0 (sleeping 60 s) was stopped
    assert not outcome.ok
    failure = outcome.first_failure()
    assert failure is not None and failure.rank == 1 and not failure.lost
    assert failure.error_type == "builtins.RuntimeError"
    assert failure.message == "rank 1 broke" and "rank_1_raises" in failure.traceback
    assert outcome.ranks[0].stopped


@pytest.mark.timeout(60)
def test_a_rank_that_died_is_the_cause_though_its_peer_raised_first() -> None:
    outcome = ProcessGang().run(GangPlan(workers=2), _entries.rank_0_raises_as_rank_1_dies, b"")
    assert not outcome.ok
    failure = outcome.first_failure()
    assert failure is not None and failure.rank == 1 and failure.lost, outcome.ranks
    assert failure.message == "rank 1 died (killed by signal 9)"
    assert not outcome.ranks[0].stopped and outcome.ranks[0].message == "connection closed by peer"


@pytest.mark.timeout(60)
def test_a_killed_supervisor_leaves_no_rank_running(tmp_path: Path) -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "import _entries\n"
        "from airfoil.executors._gang import GangPlan, ProcessGang, free_port, run_gang\n"
        "ProcessGang().run(GangPlan(workers=2), _entries.record_pid_and_wait, "
        f"{str(tmp_path).encode()!r})\n"
    )
    supervisor = subprocess.Popen([sys.executable, "-c", script])
    pids: list[int] = []
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        try:
            pids = [int((tmp_path / f"pid-{r}").read_text()) for r in (0, 1)]
        except (OSError, ValueError):
            time.sleep(0.05)
    assert len(pids) == 2, "the ranks never started"
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


@pytest.mark.timeout(60)
def test_a_gang_whose_rendezvous_port_was_taken_starts_again_on_another() -> None:
    # Another process listens on the port picked first (the race between picking a port and
    # rank 0 binding it): that start fails in rank 0's bind, and the gang starts again on a
    # fresh port instead of failing the attempt (or spending one of its restarts).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taker:
        taker.bind(("127.0.0.1", 0))
        taker.listen()
        taken = taker.getsockname()[1]
        picks = iter([taken, free_port(), free_port()])
        notes: list[str] = []
        gang = ProcessGang(ports=lambda: next(picks))
        alone = ProcessGang(ports=lambda: taken).run(
            GangPlan(workers=2), _entries.rank_0_listens, b""
        )
        assert not alone.ok
        failure = alone.first_failure()
        assert failure is not None and "Address already in use" in failure.message
        outcome = run_gang(gang, GangPlan(workers=2), _entries.rank_0_listens, b"", notes.append)
    assert outcome.ok, outcome.first_failure()
    assert int(outcome.ranks[0].result) != taken
    assert len(notes) == 1 and "rendezvous port was taken" in notes[0]


@pytest.mark.ray
@pytest.mark.timeout(120)
def test_a_ray_rank_stopped_with_its_gang_leaves_no_grandchild(
    tmp_path: Path, ray_session: None
) -> None:
    """A rank the gang stops (its peer failed) goes with every process its code started, a
    grandchild in a session of its own too (``ray.kill`` ended the rank's actor, and Ray its
    direct children, only)."""
    import ray.cloudpickle

    from airfoil.executors._ray_gang import RayGang

    ray.cloudpickle.register_pickle_by_value(_entries)  # the workers cannot import it
    try:
        plan = GangPlan(workers=2, cpu=0.5, start_timeout_s=60.0)
        outcome = RayGang().run(
            plan, _entries.grandchild_then_rank_1_raises, str(tmp_path).encode()
        )
    finally:
        ray.cloudpickle.unregister_pickle_by_value(_entries)
    assert not outcome.ok and outcome.ranks[0].stopped
    grandchild = int((tmp_path / "grandchild").read_text())
    end = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(grandchild)
