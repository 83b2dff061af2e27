"""The process executor runs attempts in worker processes: results, failures, timeouts, lost
workers, memory limits, cancellation, and no processes left behind. The tests of what every
executor that runs attempts elsewhere promises (the ``hx`` fixture) run on the ray executor
too, on the session's local Ray.

Each test writes its tasks as a module under ``tmp_path`` (workers import it by name from the
request's ``code_root``) and builds the requests from the tasks' specs, as the engine does.
"""

from __future__ import annotations

import importlib
import multiprocessing.connection
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest
from _executor_harness import Harness, collect, gone, run_one, started_pids, worker_pid

from airfoil.core.log_lines import entries
from airfoil.executors.base import live_log_key
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import worker_runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


@pytest.fixture(params=["process", "ray", "shared"])
def hx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A harness for each executor that runs attempts out of the driver's process (and for
    one driver slot's view of a server's shared worker pool, ``shared``)."""
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    harness = Harness(tmp_path, request.param)
    yield harness
    harness.close()


@pytest.fixture(params=["process", "shared"])
def hx_local(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The process executor alone and as one driver slot's view of a shared pool."""
    harness = Harness(tmp_path, request.param)
    yield harness
    harness.close()


@pytest.mark.timeout(60)
def test_outputs_come_back_and_workers_are_reused(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    first = run_one(ex, hx.request("add", a=2, b=3))
    assert hx.output(first, "add") == 5
    assert first.started_at <= first.ended_at
    # More attempts than workers: queued, run one after another in the same warm worker.
    for i in range(3):
        ex.submit(hx.request("whoami", node=f"w{i}", x=i))
    # A shared pool's dispatcher thread collects and hands out meanwhile: some may be done.
    assert ex.running() == 1 or (hx.kind == "shared" and ex.running() == 0)
    results = collect(ex, 3)
    assert sorted(r.node_id for r in results) == ["w0", "w1", "w2"]
    pids = {hx.output(r, "whoami") for r in results}
    assert pids == {worker_pid(first)} and os.getpid() not in pids
    assert ex.running() == 0
    assert ex.poll(0) == []


@pytest.mark.timeout(60)
def test_user_exception_is_a_user_error_with_its_traceback(hx: Harness) -> None:
    ex = hx.executor()
    result = run_one(ex, hx.request("fail", x=7))
    assert result.outputs is None and result.error is not None
    assert (result.error.kind, result.error.type) == ("user", "ValueError")
    assert result.error.message == "no good: 7"
    assert f"{hx.module_name}.py" in result.error.traceback
    assert 'raise ValueError(f"no good: {x}")' in result.error.traceback
    # The worker survives a user error and runs the next attempt.
    again = run_one(ex, hx.request("whoami", node="n1", x=0))
    assert hx.output(again, "whoami") == worker_pid(result)


@pytest.mark.timeout(60)
def test_independent_attempts_run_in_parallel(hx: Harness) -> None:
    ex = hx.executor(max_workers=2)
    for i in range(2):  # start both workers first: this measures running, not starting
        ex.submit(hx.request("add", node=f"warm{i}", a=i, b=i))
    collect(ex, 2)
    ex.submit(hx.request("nap", node="a", seconds=1.0))
    ex.submit(hx.request("nap", node="b", seconds=1.0))
    results = collect(ex, 2)
    assert all(hx.output(r, "nap") == 1.0 for r in results)
    a, b = results
    # They overlapped: each started before the other ended (the attempts' own clocks, not a
    # wall-clock bound on the test, which a loaded machine can break).
    assert max(a.started_at, b.started_at) < min(a.ended_at, b.ended_at)
    assert worker_pid(a) != worker_pid(b)


@pytest.mark.timeout(60)
def test_timeout_kills_a_stuck_task_and_a_fresh_worker_takes_over(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    # `stuck` never returns and swallows the in-process interrupt: a result at all (within
    # run_one's bound) is the hard timeout's kill, and the worker is gone. The attempt's own
    # record says why it ended. (No wall-clock bound: on Ray it included the actor's start,
    # and failed at load 20.)
    result = run_one(ex, hx.request("stuck", x=0))
    assert result.error is not None
    assert (result.error.kind, result.error.type) == ("system", "TaskTimeoutError")
    assert "timeout of 1s" in result.error.message
    assert gone(worker_pid(result))
    log = Path(hx.blob_dir, "logs/ex1/n0/1.log").read_text()
    assert "TaskTimeoutError" in log and result.log_uri.endswith("logs/ex1/n0/1.log")
    after = run_one(ex, hx.request("add", node="n1", a=1, b=1))
    assert hx.output(after, "add") == 2
    assert worker_pid(after) != worker_pid(result)


@pytest.mark.timeout(60)
def test_a_task_that_lets_the_timeout_interrupt_it_reports_where(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    # A worker up first: the timeout counts from the hand-off, so a fresh worker's start on a
    # loaded machine could use up the 0.5 s before the task's code runs.
    run_one(ex, hx.request("add", node="warm", a=1, b=1))
    req = hx.request("nap", seconds=30.0)
    req = msgspec.structs.replace(req, task=msgspec.structs.replace(req.task, timeout_s=0.5))
    # Interrupted at 0.5 s, not ended by its 30 s nap: the error and where it was stopped.
    result = run_one(ex, req)
    assert result.error is not None and result.error.kind == "system"
    assert result.error.type.rsplit(".", 1)[-1] == "TaskTimeoutError"
    assert "time.sleep(seconds)" in result.error.traceback  # where the task was stopped
    # The interrupted worker is not reused.
    after = run_one(ex, hx.request("add", node="n1", a=1, b=1))
    assert worker_pid(after) != worker_pid(result)


def _slow_import_request(hx: Harness, import_s: float, timeout_s: float, nap_s: float) -> Any:
    """A request for a task whose module takes ``import_s`` seconds to import in a worker
    (not here: the driver builds the spec from it), with a timeout of ``timeout_s``."""
    name = f"slow_{hx.module_name}"
    (hx.code / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            import os
            import time

            import airfoil as af

            if os.getpid() != {os.getpid()}:  # a worker: a slow import (a big library, a
                time.sleep({import_s})  # loaded machine)


            @af.task(timeout={timeout_s})
            def sleepy(seconds: float) -> float:
                time.sleep(seconds)
                return seconds
            """
        )
    )
    task = importlib.import_module(name).sleepy
    req = hx.request("nap", seconds=nap_s)
    inputs = {"seconds": hx.types.to_value(nap_s, float, hx.ctx)}
    return msgspec.structs.replace(req, task=task.spec, inputs=inputs)


@pytest.mark.timeout(60)
def test_a_timeout_counts_from_the_hand_off_so_a_slow_import_still_reports_where(
    hx: Harness,
) -> None:
    ex = hx.executor(max_workers=1)
    run_one(ex, hx.request("add", node="warm", a=1, b=1))  # a worker up: the hand-off is quick
    # Import 1 s, timeout 2 s: the task's own code is running when the timeout passes, so the
    # error says where it was (main: the interrupt was armed only once the task had loaded,
    # at 1 + 2 s, after the executor's hard stop at 2.5 s: no traceback).
    result = run_one(ex, _slow_import_request(hx, import_s=1.0, timeout_s=2.0, nap_s=30.0))
    assert result.error is not None and result.error.kind == "system"
    assert result.error.type.rsplit(".", 1)[-1] == "TaskTimeoutError"
    assert "time.sleep(seconds)" in result.error.traceback, result.error
    assert "killed" not in result.error.message  # the interrupt, not the hard stop


@pytest.mark.timeout(60)
def test_a_timeout_that_passes_during_the_import_interrupts_the_import(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    run_one(ex, hx.request("add", node="warm", a=1, b=1))
    result = run_one(ex, _slow_import_request(hx, import_s=30.0, timeout_s=1.0, nap_s=0.0))
    assert result.error is not None and result.error.kind == "system"
    # The timeout, not a failure to import the module, and where the import was stopped.
    assert result.error.type.rsplit(".", 1)[-1] == "TaskTimeoutError", result.error
    assert "time.sleep(30.0)" in result.error.traceback, result.error


@pytest.mark.timeout(60)
def test_a_worker_that_dies_is_reported_lost_and_replaced(h: Harness) -> None:
    ex = h.executor(max_workers=1)
    exited = run_one(ex, h.request("exit_hard", code=3))
    assert exited.error is not None
    assert (exited.error.kind, exited.error.type) == ("system", "WorkerLostError")
    assert "exited with code 3" in exited.error.message

    killed = run_one(ex, h.request("kill_self", node="n1", x=0))
    assert killed.error is not None and killed.error.type == "WorkerLostError"
    assert "SIGKILL" in killed.error.message

    ex.submit(h.request("nap", node="n2", seconds=30.0))
    (pid,) = ex.worker_pids()
    time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)  # from outside, mid-attempt
    (outside,) = collect(ex, 1, within=10)
    assert outside.error is not None and outside.error.type == "WorkerLostError"
    assert str(pid) in outside.error.message

    crashed = run_one(ex, h.request("segfault", node="n4", x=0))
    assert crashed.error is not None
    assert (crashed.error.kind, crashed.error.type) == ("system", "WorkerLostError")
    assert "SIGSEGV" in crashed.error.message and "crashed" in crashed.error.message
    assert "os._exit" in exited.error.message

    exit_call = run_one(ex, h.request("leave", node="n3", code=4))
    assert exit_call.error is not None
    assert (exit_call.error.kind, exit_call.error.type) == ("user", "SystemExit")

    after = run_one(ex, h.request("add", node="n4", a=2, b=2))
    assert h.output(after, "add") == 4
    assert len({worker_pid(r) for r in (exited, killed, outside, exit_call, after)}) == 5


@pytest.mark.timeout(60)
def test_an_idle_worker_that_died_is_never_handed_an_attempt(h: Harness) -> None:
    ex = h.executor(max_workers=1)
    first = run_one(ex, h.request("whoami", node="n0", x=0))
    idle = worker_pid(first)
    os.kill(idle, signal.SIGKILL)  # from outside, while it waits for work
    assert gone(idle)
    # A forkserver child's exit reaches its parent through the forkserver, which reaps it
    # and then writes its status to the worker's sentinel: until then no check can tell the
    # worker is dead (a worker dying in that window is reported lost, a system error that is
    # retried). The claim is about a death the executor can see.
    (worker,) = ex._pool.idle
    assert multiprocessing.connection.wait([worker.proc.sentinel], timeout=5)
    # The next attempt goes to a fresh worker and succeeds: nothing is reported lost.
    after = run_one(ex, h.request("whoami", node="n1", x=1))
    assert after.error is None
    assert h.output(after, "whoami") == worker_pid(after) != idle
    assert ex.worker_pids() == [worker_pid(after)]


@pytest.mark.timeout(60)
def test_memory_limit_gives_out_of_memory(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    over = run_one(ex, hx.request("hog", mib=4096))  # far beyond the task's 200Mi limit
    assert over.error is not None and over.error.kind == "system"
    assert over.error.type.rsplit(".", 1)[-1] == "OutOfMemoryError"
    under = run_one(ex, hx.request("hog", node="n1", mib=20))
    assert hx.output(under, "hog") == 20 * 2**20
    # The limit lasts only for the attempt: the same worker then allocates freely.
    big = run_one(ex, hx.request("whoami", node="n2", x=0))
    assert worker_pid(big) == worker_pid(under)


@pytest.mark.timeout(60)
def test_a_sigkill_near_the_memory_limit_reads_as_out_of_memory(h: Harness) -> None:
    ex = h.executor(max_workers=1)
    ex.submit(h.request("hold", mib=190))  # within the limit, but close to it
    (pid,) = ex.worker_pids()
    end = time.monotonic() + 20
    while psutil.Process(pid).memory_info().rss < 190 * 2**20:
        assert time.monotonic() < end, "the task never allocated its memory"
        assert ex.poll(0.1) == []
    assert ex.poll(0.6) == []  # the executor samples the worker's memory meanwhile
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer would do
    (result,) = collect(ex, 1)
    assert result.error is not None and result.error.kind == "system"
    assert result.error.type == "OutOfMemoryError"
    assert "SIGKILL" in result.error.message and "200Mi" in result.error.message


@pytest.mark.timeout(60)
def test_cancel_stops_the_attempt_and_reports_nothing_for_it(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    ex.submit(hx.request("nap", node="slow", seconds=30.0))
    ex.submit(hx.request("add", node="queued", a=1, b=2))  # waits for the only worker
    (pid,) = started_pids(ex, 1)
    ex.cancel("ex1", "queued")
    ex.cancel("ex1", "slow")
    assert gone(pid)
    assert ex.running() == 0
    assert ex.poll(0.3) == []
    # A result that arrived but was not polled yet is dropped too.
    ex.submit(hx.request("add", node="done", a=1, b=1))
    time.sleep(0.5)
    ex.cancel("ex1", "done")
    assert ex.poll(0.3) == []
    after = run_one(ex, hx.request("add", node="next", a=5, b=5))
    assert hx.output(after, "add") == 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("end", ["timeout", "abort"])
def test_a_child_that_left_the_process_group_is_stopped_with_its_attempt(
    h: Harness, tmp_path: Path, end: str
) -> None:
    """A task's child in a session of its own (``start_new_session=True``, ``setsid``) is
    out of the worker's process group: a timeout or an abort stops it too."""
    ex = h.executor(max_workers=1)
    pid_file = tmp_path / "child.pid"
    if end == "timeout":
        result = run_one(ex, h.request("detach_and_hang", pid_file=str(pid_file)))
        assert result.error is not None and result.error.type == "TaskTimeoutError"
        worker = worker_pid(result)
    else:
        ex.submit(h.request("detach_and_nap", pid_file=str(pid_file), seconds=30.0))
        (worker,) = started_pids(ex, 1)
        end_at = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < end_at, "the task never started its child"
            assert ex.poll(0.02) == []
        ex.cancel("ex1", "n0")
    child = int(pid_file.read_text())
    assert os.getsid(child) == child  # it did leave the worker's session and group
    ex.poll(0.1)  # the executor reaps what it stopped as it polls
    assert gone(worker) and gone(child, within=3.0)


@pytest.mark.timeout(60)
def test_what_a_succeeded_attempt_left_running_is_stopped_not_left_in_the_worker(
    hx_local: Harness, tmp_path: Path
) -> None:
    """On the shared pool a worker lives on after its attempt: a child the attempt left
    running (in a session of its own) would live on in it. It is stopped, with the worker
    (a fresh one runs what comes next); an attempt that leaves nothing keeps its worker."""
    ex = hx_local.executor(max_workers=1)
    pid_file = tmp_path / "child.pid"
    first = run_one(ex, hx_local.request("detach_and_nap", pid_file=str(pid_file), seconds=0.0))
    child = hx_local.output(first, "detach_and_nap")
    assert child == int(pid_file.read_text())
    second = run_one(ex, hx_local.request("add", node="n1", a=1, b=1))
    assert gone(child, within=3.0)
    assert worker_pid(second) != worker_pid(first)
    third = run_one(ex, hx_local.request("add", node="n2", a=2, b=2))
    assert worker_pid(third) == worker_pid(second)  # nothing left: the worker is reused


@pytest.mark.timeout(60)
def test_changed_task_code_never_runs_in_a_stale_worker(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    req = hx.request("whoami", x=0)
    first = run_one(ex, req)
    changed = msgspec.structs.replace(
        req, node_id="n1", task=msgspec.structs.replace(req.task, version="changed")
    )
    second = run_one(ex, changed)
    assert hx.output(second, "whoami") != hx.output(first, "whoami")


@pytest.mark.timeout(60)
def test_close_leaves_no_processes(h: Harness, tmp_path: Path) -> None:
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    ex = h.executor(max_workers=2)
    pid_file = tmp_path / "grandchild.pid"
    ex.submit(h.request("spawn_and_wait", node="busy", pid_file=str(pid_file)))
    ex.submit(h.request("add", node="idle", a=1, b=1))
    collect(ex, 1)  # one worker idle, one busy with a subprocess of its own
    end = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < end, "the task never started its subprocess"
        time.sleep(0.02)
    grandchild = int(pid_file.read_text())
    workers = ex.worker_pids()
    assert len(workers) == 2
    ex.close()
    assert all(gone(pid, within=0.5) for pid in [*workers, grandchild])
    left = [
        p
        for p in me.children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert left == [], [p.cmdline() for p in left]  # workers and the forkserver are gone
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit(h.request("add", a=1, b=1))


@pytest.mark.timeout(60)
def test_warm_starts_every_worker_and_the_first_attempts_use_them(h: Harness) -> None:
    me = psutil.Process()
    ex = h.executor(max_workers=3)
    assert ex.worker_pids() == []  # nothing started before it is asked
    ex.warm()
    warm = ex.worker_pids()
    assert len(warm) == 3 and all(psutil.pid_exists(p) for p in warm)
    assert ex.running() == 0  # idle: warming starts no attempt
    ex.warm()  # warm already: starts nothing more
    assert sorted(ex.worker_pids()) == sorted(warm)
    for i in range(3):
        ex.submit(h.request("nap", node=f"n{i}", seconds=0.3))
    results = collect(ex, 3)
    assert all(r.error is None for r in results), [r.error for r in results]
    assert {worker_pid(r) for r in results} == set(warm)  # no worker started for them
    assert sorted(ex.worker_pids()) == sorted(warm)
    ex.close()
    assert all(gone(pid, within=0.5) for pid in warm)
    assert not [p for p in me.children(recursive=True) if p.pid in warm]
    with pytest.raises(RuntimeError, match="closed"):
        ex.warm()


@pytest.mark.timeout(60)
def test_workers_and_their_tasks_run_at_the_lower_priority_asked(h: Harness) -> None:
    mine = os.nice(0)
    ex = ProcessExecutor(h.blob_dir, 2, runtime=worker_runtime, worker_nice=3)
    h.executors.append(ex)
    ex.warm()
    pids = ex.worker_pids()
    assert len(pids) == 2
    # (a worker lowers its priority first thing once it runs, just after it is started)
    assert _nices(pids, min(19, mine + 3)) == [min(19, mine + 3)] * 2
    assert os.nice(0) == mine  # the driver's own priority is left as it was
    for i in range(2):
        ex.submit(h.request("niceness", node=f"n{i}", x=i))
    results = collect(ex, 2)
    assert {worker_pid(r) for r in results} <= set(pids)
    assert [h.output(r, "niceness") for r in results] == [min(19, mine + 3)] * 2
    # The default leaves workers at the driver's priority (a local run's).
    plain = h.executor(max_workers=1)
    plain.warm()
    plain.submit(h.request("niceness", node="n9", x=9))
    assert h.output(collect(plain, 1)[0], "niceness") == mine
    assert _nices(plain.worker_pids(), mine) == [mine]


def _nices(pids: list[int], expected: int, within: float = 10.0) -> list[int]:
    """The workers' nice values once they all are ``expected`` (or as they are after
    ``within`` seconds)."""
    end = time.monotonic() + within
    while True:
        nices = [psutil.Process(p).nice() for p in pids]
        if set(nices) == {expected} or time.monotonic() > end:
            return nices
        time.sleep(0.01)


@pytest.mark.parametrize("nice", [-1, 20, True, 2.5, "5"])
def test_a_worker_nice_outside_0_to_19_is_refused_naming_the_range(
    h: Harness, nice: object
) -> None:
    from airfoil.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"from 0 .* to 19"):
        ProcessExecutor(h.blob_dir, 1, runtime=worker_runtime, worker_nice=nice)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_engine_runs_a_workflow_with_parallel_nodes(hx: Harness) -> None:
    memory = pytest.importorskip("airfoil.store.memory")
    from airfoil.engine.runner import Engine

    ex = hx.executor(max_workers=2)
    engine = Engine(memory.MemoryMetaStore(), hx.blobs, ex, blob_url=hx.blob_dir)
    wf = hx.tasks.fan_in
    inputs = {
        "a": hx.types.to_value(1.0, float, hx.ctx),
        "b": hx.types.to_value(1.0, float, hx.ctx),
    }
    record = engine.launch(wf.spec, inputs, code_root=str(hx.code))
    record = engine.drive(record.id)
    assert record.phase == "succeeded", record.error
    assert record.outputs is not None
    assert hx.types.to_python(record.outputs["o0"], float, hx.ctx) == 2.0
    naps = [
        a
        for a in engine.meta.get_attempts(record.id)
        if a.node_id in {n.id for n in wf.spec.nodes if n.task and n.task.name.endswith("nap")}
    ]
    assert len(naps) == 2
    first, second = naps
    assert first.ended_at is not None and second.ended_at is not None
    assert max(first.started_at, second.started_at) < min(first.ended_at, second.ended_at)


@pytest.mark.timeout(60)
def test_a_running_attempts_log_can_be_tailed_and_is_whole_at_the_end(hx: Harness) -> None:
    ex = hx.executor(max_workers=1)
    go = Path(hx.blob_dir).parent / "go"  # the task runs on until the test has seen its log
    ex.submit(hx.request("chatty", go=str(go)))
    live = Path(hx.blob_dir, live_log_key("logs/ex1/n0/1.log"))
    end = time.monotonic() + 30
    while not live.exists():
        assert time.monotonic() < end, "no live copy of the log while the attempt ran"
        assert ex.poll(0.1) == []
    # entries with their time and level (airfoil.core.log_lines)
    assert [(e.level, e.text) for e in entries(live.read_text())] == [
        ("OUT", "started the long part")
    ]
    assert ex.running() == 1, "the log was read while the attempt ran"
    go.write_text("")
    (result,) = collect(ex, 1)
    assert result.error is None
    assert not live.exists(), "the live copy is removed once the whole log is written"
    whole = Path(hx.blob_dir, "logs/ex1/n0/1.log").read_text()
    assert [e.text for e in entries(whole)] == ["started the long part", "done"]
    assert whole.endswith(" OUT      done\n")


@pytest.mark.timeout(120)
def test_a_failure_aborts_the_running_sibling_and_stops_its_worker(hx: Harness) -> None:
    memory = pytest.importorskip("airfoil.store.memory")
    from airfoil.engine.runner import Engine

    ex = hx.executor(max_workers=2)
    engine = Engine(memory.MemoryMetaStore(), hx.blobs, ex, blob_url=hx.blob_dir)
    wf = hx.tasks.one_fails
    inputs = {k: hx.types.to_value(v, float, hx.ctx) for k, v in {"a": 60.0, "b": 1.0}.items()}
    t0 = time.monotonic()
    record = engine.drive(engine.launch(wf.spec, inputs, code_root=str(hx.code)).id)
    assert time.monotonic() - t0 < 30, "the 60 s sibling was stopped, not waited for"
    assert record.phase == "failed" and record.error is not None
    assert "failing while a sibling runs" in record.error.message
    nodes = {n.node_id: n for n in engine.meta.get_nodes(record.id)}
    napping = next(n for n in nodes.values() if n.task.endswith(".nap"))
    assert napping.phase == "aborted"
    assert ex.running() == 0
    # The failed task's worker stays warm; the aborted one's was stopped.
    assert len(ex.worker_pids()) == 1


@pytest.mark.timeout(60)
def test_spawn_start_method_works_too(h: Harness) -> None:
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    ex = ProcessExecutor(h.blob_dir, 1, runtime=worker_runtime, start_method="spawn")
    h.executors.append(ex)
    assert h.output(run_one(ex, h.request("add", a=20, b=22)), "add") == 42
    failed = run_one(ex, h.request("fail", node="n1", x=1))
    assert failed.error is not None and failed.error.kind == "user"
    ex.close()
    left = [
        p
        for p in me.children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert left == []


def test_fork_is_refused(tmp_path: Path) -> None:
    from airfoil.core.errors import ConfigError

    with pytest.raises(ConfigError, match="forkserver"):
        ProcessExecutor(str(tmp_path), runtime=worker_runtime, start_method="fork")


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {code!r})
    from airfoil.executors.base import AttemptRequest
    from airfoil.executors.process import ProcessExecutor
    from airfoil.runtime.worker import worker_runtime
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext, default_type_engine
    import {module} as tasks

    ctx = ValueContext(blobs=LocalBlobStore({blobs!r}))

    def nap(node, seconds):
        value = default_type_engine().to_value(seconds, float, ctx)
        inputs = {{"seconds": value}}
        return AttemptRequest("e", node, 1, tasks.nap.spec, inputs, {blobs!r}, {code!r})

    ex = ProcessExecutor({blobs!r}, 2, runtime=worker_runtime)
    ex.submit(nap("busy", 60.0))
    ex.submit(nap("idle", 0.0))
    done = []
    while not done:
        done = ex.poll(10)
    assert [(r.node_id, r.error) for r in done] == [("idle", None)], done
    print(" ".join(map(str, ex.worker_pids())), flush=True)
    # exits without close(): the exit hook must stop both workers, the busy one included
    """
)


@pytest.mark.timeout(60)
def test_interpreter_exit_stops_workers(h: Harness) -> None:
    import subprocess

    script = EXIT_SCRIPT.format(code=str(h.code), module=h.module_name, blobs=h.blob_dir)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 15
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2
    assert all(gone(pid, within=2.0) for pid in pids)


@pytest.mark.timeout(60)
def test_a_malformed_request_is_reported_as_such(h: Harness) -> None:
    ex = h.executor(max_workers=1)
    good = h.request("add", a=1, b=2)
    bad = msgspec.structs.replace(good, node_id="bad", inputs={"a": {"not": "a value"}})
    broken = run_one(ex, bad)
    assert broken.error is not None and broken.error.kind == "system"
    assert "could not read the attempt request" in broken.error.message  # not a lost worker
    assert h.output(run_one(ex, good), "add") == 3


@pytest.mark.timeout(60)
def test_the_workers_flytekit_sandboxes_are_removed_when_the_pool_closes(h: Harness) -> None:
    """(adv27) Workers end with ``os._exit`` (a multiprocessing child's end, after
    multiprocessing's own exit finalizers): no ``atexit`` hook runs there. Two workers each
    make flytekit's per-process sandbox; after the pool's close none is left (on integ both
    were left behind, one directory per worker)."""
    ex = h.executor(max_workers=2)
    for i in range(4):
        ex.submit(h.request("flytekit_sandbox", node=f"s{i}", x=i))
    dirs = {h.output(r, "flytekit_sandbox") for r in collect(ex, 4)}
    assert dirs and all(os.path.isdir(d) for d in dirs)
    assert all(os.path.basename(d).startswith("airfoil-flytekit-") for d in dirs)
    ex.close()
    assert sorted(d for d in dirs if os.path.exists(d)) == []
