"""What only the ray executor does, on the session's local Ray (2 CPUs, 2 pretend GPUs): lost
worker actors, requests no node can meet, warm workers per task environment, closing.

What it shares with the process executor (results, user errors, parallelism, timeouts,
cancel, stale code, memory limits, an engine run) is tested on both in
``test_process_executor.py``; composition in ``control/test_composition_process.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _executor_harness import Harness, collect, gone, run_one, started_pids

from airfoil.core.resources import ResourceSpec
from airfoil.executors.base import AttemptRequest

pytestmark = [pytest.mark.integration, pytest.mark.ray]


@pytest.fixture
def h(tmp_path: Path, ray_session: None) -> Iterator[Harness]:
    harness = Harness(tmp_path, "ray")
    yield harness
    harness.close()


def with_requests(request: AttemptRequest, **changes: Any) -> AttemptRequest:
    task = msgspec.structs.replace(request.task, **changes)
    return msgspec.structs.replace(request, task=task)


@pytest.mark.timeout(120)
def test_a_lost_worker_is_a_system_error_and_is_replaced(h: Harness) -> None:
    ex = h.executor(max_workers=1)
    exited = run_one(ex, h.request("exit_hard", code=3))
    assert exited.error is not None
    assert (exited.error.kind, exited.error.type) == ("system", "WorkerLostError")
    assert "was lost mid-attempt" in exited.error.message
    log = Path(h.blob_dir, "logs/ex1/n0/1.log").read_text()
    assert "WorkerLostError" in log, "the executor noted the loss in the attempt's log"

    ex.submit(h.request("nap", node="n1", seconds=30.0))
    (pid,) = started_pids(ex, 1)
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)  # from outside, mid-attempt (as the OOM killer would)
    lost = collect(ex, 1, within=60)
    assert [r.node_id for r in lost] == ["n1"] and lost[0].error is not None
    assert (lost[0].error.kind, lost[0].error.type) == ("system", "WorkerLostError")
    killed = run_one(ex, h.request("whoami", node="n2", x=0))
    assert h.output(killed, "whoami") != pid, "a fresh worker took over"

    left = run_one(ex, h.request("leave", node="n3", code=4))
    assert left.error is not None and (left.error.kind, left.error.type) == ("user", "SystemExit")
    after = run_one(ex, h.request("whoami", node="n4", x=0))
    assert h.output(after, "whoami") not in (pid, h.output(killed, "whoami")), (
        "a sys.exit() worker is not reused"
    )


@pytest.mark.timeout(120)
def test_the_lost_attempt_is_reported_exactly_once(h: Harness) -> None:
    ex = h.executor(max_workers=2)
    ex.submit(h.request("nap", node="slow", seconds=30.0))
    (pid,) = started_pids(ex, 1)
    os.kill(pid, signal.SIGKILL)
    results = collect(ex, 1, within=60)
    assert [r.node_id for r in results] == ["slow"]
    assert results[0].error is not None and results[0].error.type == "WorkerLostError"
    assert ex.poll(0.5) == [] and ex.running() == 0


@pytest.mark.timeout(120)
def test_requests_no_node_can_meet_fail_at_once_naming_them(h: Harness) -> None:
    ex = h.executor()
    base = h.request("whoami", x=0)
    for changes, named in [
        ({"requests": ResourceSpec(gpu=3)}, "GPU=3"),
        ({"custom_resources": {"fast_disk": 1.0}}, "fast_disk=1"),
        ({"accelerator": "H100"}, "accelerator_type:H100"),
        ({"requests": ResourceSpec(cpu=64)}, "CPU=64"),
    ]:
        t0 = time.monotonic()
        result = run_one(ex, with_requests(base, **changes))
        assert time.monotonic() - t0 < 10
        assert result.error is not None
        assert (result.error.kind, result.error.type) == ("user", "UnschedulableTaskError")
        assert (
            named in result.error.message and "no node of the Ray cluster" in result.error.message
        )
    assert ex.worker_pids() == [], "no worker was started for them"


@pytest.mark.timeout(120)
def test_warm_workers_serve_one_task_environment(h: Harness) -> None:
    ex = h.executor(max_workers=2)
    first = run_one(ex, h.request("whoami", node="a", x=0))
    again = run_one(ex, h.request("whoami", node="b", x=1))
    assert h.output(first, "whoami") == h.output(again, "whoami"), (
        "the same environment reused its warm worker"
    )
    one_cpu = with_requests(h.request("whoami", node="c", x=2), requests=ResourceSpec(cpu=1))
    other = run_one(ex, one_cpu)
    assert h.output(other, "whoami") != h.output(first, "whoami"), (
        "another requests shape gets its own worker"
    )
    assert run_one(ex, msgspec.structs.replace(one_cpu, node_id="d")).worker == other.worker


@pytest.mark.timeout(120)
def test_close_stops_every_worker(h: Harness) -> None:
    ex = h.executor(max_workers=2)
    ex.submit(h.request("nap", node="busy", seconds=30.0))
    run_one(ex, h.request("whoami", node="idle", x=0))  # a second worker, idle after this
    pids = started_pids(ex, 2)
    assert ex.running() == 1
    ex.close()
    assert all(gone(pid, within=30) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit(h.request("whoami", x=0))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("end", ["timeout", "abort"])
def test_a_grandchild_in_its_own_session_is_stopped_with_its_attempt(
    h: Harness, tmp_path: Path, end: str
) -> None:
    """``ray.kill`` ends the worker actor's process, and Ray its direct children: a process
    further down, in a session of its own, ran on. A timeout or an abort stops it too."""
    ex = h.executor(max_workers=1)
    pid_file = tmp_path / "grandchild.pid"
    if end == "timeout":
        result = run_one(ex, h.request("grandchild_and_hang", pid_file=str(pid_file)))
        assert result.error is not None and result.error.type == "TaskTimeoutError"
    else:
        ex.submit(h.request("grandchild_and_nap", pid_file=str(pid_file), seconds=30.0))
        started_pids(ex, 1)
        end_at = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < end_at, "the task never started its grandchild"
            assert ex.poll(0.05) == []
        ex.cancel("ex1", "n0")
    end_at = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):  # (a timeout: written by now)
        assert time.monotonic() < end_at, "the task never started its grandchild"
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert gone(grandchild, within=10.0)


@pytest.mark.timeout(120)
def test_an_idle_worker_holding_cpus_makes_room_for_another_environment(h: Harness) -> None:
    # The session's Ray has 2 CPUs: a warm worker holding both blocks any other worker that
    # asks for one, until the executor stops it.
    ex = h.executor(max_workers=4)
    both = with_requests(h.request("whoami", node="both", x=0), requests=ResourceSpec(cpu=2))
    first = run_one(ex, both)
    one = with_requests(h.request("whoami", node="one", x=1), requests=ResourceSpec(cpu=1))
    t0 = time.monotonic()
    second = run_one(ex, one)
    assert time.monotonic() - t0 < 20
    assert h.output(second, "whoami") != h.output(first, "whoami")
    assert gone(h.output(first, "whoami"), within=30), "the idle 2-CPU worker was stopped"


@pytest.mark.timeout(180)
def test_a_fork_leaves_another_threads_executor_to_the_parent(h: Harness) -> None:
    """(adv26) The fork frees the thread-locals of the parent's other threads in the child,
    in C, before any fork hook runs: an executor held only by one was collected there, and
    its finalizer called Ray from the child (``ray.kill`` of the parent's worker actors, and
    the release that shuts down a Ray the parent started): on main the child hung there,
    inside ``os.fork()``, for good. Its finalizer now does nothing in another process: the
    child exits at once and the parent's worker serves on."""
    import threading

    from airfoil.executors.ray import RayExecutor
    from airfoil.runtime.worker import worker_runtime

    local = threading.local()
    ready, go = threading.Event(), threading.Event()
    served: list[int] = []
    failed: list[BaseException] = []

    def hold() -> None:
        try:
            local.ex = RayExecutor(h.blob_dir, runtime=worker_runtime, max_workers=1)
            served.append(h.output(run_one(local.ex, h.request("whoami", x=0)), "whoami"))
            ready.set()
            go.wait(120)
            again = run_one(local.ex, h.request("whoami", node="n1", x=0))
            served.append(h.output(again, "whoami"))
        except BaseException as exc:  # reported below, in the test's thread
            failed.append(exc)
        finally:
            ready.set()
            ex = getattr(local, "ex", None)
            if ex is not None:
                ex.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(90) and not failed, failed
        child = os.fork()
        if child == 0:  # the child: the fork has freed the thread's executor already
            os._exit(0)
        end = time.monotonic() + 30
        while (done := os.waitpid(child, os.WNOHANG)) == (0, 0) and time.monotonic() < end:
            time.sleep(0.05)
        if done == (0, 0):  # hung in the finalizer's Ray calls (main: ray.kill, forever)
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        assert done != (0, 0), "the forked child hung on its way out of the fork"
        assert os.waitstatus_to_exitcode(done[1]) == 0
    finally:
        go.set()
        thread.join(120)
    assert not failed, failed
    assert len(served) == 2 and served[0] == served[1], served  # the same worker actor
