"""What only the ray executor does, on the session's local Ray (2 CPUs, no GPU): lost worker
actors, requests no node can meet, warm workers per task environment, closing.

What it shares with the process executor (results, user errors, parallelism, timeouts,
cancel, stale code, memory limits, an engine run) is tested on both in
``test_process_executor.py``; composition in ``control/test_composition_process.py``.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import psutil
import pytest

from airfoil.core.resources import ResourceSpec
from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.runtime.worker import worker_runtime
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = [pytest.mark.integration, pytest.mark.ray]

TASKS = textwrap.dedent(
    """
    import os
    import signal
    import sys
    import time

    import airfoil as af


    @af.task
    def whoami(x: int) -> int:
        return os.getpid()


    @af.task
    def exit_hard(code: int) -> int:
        os._exit(code)


    @af.task
    def leave(code: int) -> int:
        sys.exit(code)


    @af.task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds
    """
)


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.code = tmp_path / "code"
        self.code.mkdir()
        self.module_name = f"ray_tasks_{uuid.uuid4().hex[:8]}"
        (self.code / f"{self.module_name}.py").write_text(TASKS)
        sys.path.insert(0, str(self.code))
        self.tasks: ModuleType = importlib.import_module(self.module_name)
        self.blob_dir = str(tmp_path / "blobs")
        self.types = default_type_engine()
        self.ctx = ValueContext(blobs=LocalBlobStore(self.blob_dir))
        self.executors: list[Any] = []

    def executor(self, max_workers: int = 2) -> Any:
        from airfoil.executors.ray import RayExecutor

        ex = RayExecutor(self.blob_dir, runtime=worker_runtime, max_workers=max_workers)
        self.executors.append(ex)
        return ex

    def request(self, task: str, node: str = "n0", **inputs: Any) -> AttemptRequest:
        taskdef = getattr(self.tasks, task)
        types = taskdef.py_interface.input_types
        return AttemptRequest(
            execution_id="ex1",
            node_id=node,
            attempt=1,
            task=taskdef.spec,
            inputs={k: self.types.to_value(v, types[k], self.ctx) for k, v in inputs.items()},
            blob_url=self.blob_dir,
            code_root=str(self.code),
            log_key=f"logs/ex1/{node}/1.log",
        )

    def output(self, result: AttemptResult) -> Any:
        assert result.error is None, result.error
        assert result.outputs is not None
        return self.types.to_python(result.outputs["o0"], int, self.ctx)

    def close(self) -> None:
        for ex in self.executors:
            ex.close()
        sys.path.remove(str(self.code))
        sys.modules.pop(self.module_name, None)


@pytest.fixture
def h(tmp_path: Path, ray_session: None) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def run_one(ex: Any, request: AttemptRequest, within: float = 60.0) -> AttemptResult:
    ex.submit(request)
    end = time.monotonic() + within
    while True:
        assert time.monotonic() < end, "no result"
        done = ex.poll(1.0)
        if done:
            (result,) = done
            assert result.node_id == request.node_id
            return result


def with_requests(request: AttemptRequest, **changes: Any) -> AttemptRequest:
    task = msgspec.structs.replace(request.task, **changes)
    return msgspec.structs.replace(request, task=task)


def gone(pid: int, within: float = 30.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


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
    end = time.monotonic() + 60
    while not ex.worker_pids():
        assert time.monotonic() < end
        assert ex.poll(0.05) == []
    (pid,) = ex.worker_pids()
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)  # from outside, mid-attempt (as the OOM killer would)
    lost: list[AttemptResult] = []
    while not lost:
        assert time.monotonic() < end, "the lost attempt was never reported"
        lost.extend(ex.poll(1.0))
    assert [r.node_id for r in lost] == ["n1"] and lost[0].error is not None
    assert (lost[0].error.kind, lost[0].error.type) == ("system", "WorkerLostError")
    killed = run_one(ex, h.request("whoami", node="n2", x=0))
    assert h.output(killed) != pid, "a fresh worker took over"

    left = run_one(ex, h.request("leave", node="n3", code=4))
    assert left.error is not None and (left.error.kind, left.error.type) == ("user", "SystemExit")
    after = run_one(ex, h.request("whoami", node="n4", x=0))
    assert h.output(after) not in (pid, h.output(killed)), "a sys.exit() worker is not reused"


@pytest.mark.timeout(120)
def test_the_lost_attempt_is_reported_exactly_once(h: Harness) -> None:
    ex = h.executor(max_workers=2)
    ex.submit(h.request("nap", node="slow", seconds=30.0))
    end = time.monotonic() + 60
    while not ex.worker_pids():
        assert time.monotonic() < end
        assert ex.poll(0.05) == []
    (pid,) = ex.worker_pids()
    os.kill(pid, signal.SIGKILL)
    results: list[AttemptResult] = []
    end = time.monotonic() + 60
    while not results:
        assert time.monotonic() < end
        results.extend(ex.poll(1.0))
    assert [r.node_id for r in results] == ["slow"]
    assert results[0].error is not None and results[0].error.type == "WorkerLostError"
    assert ex.poll(0.5) == [] and ex.running() == 0


@pytest.mark.timeout(120)
def test_requests_no_node_can_meet_fail_at_once_naming_them(h: Harness) -> None:
    ex = h.executor()
    base = h.request("whoami", x=0)
    for changes, named in [
        ({"requests": ResourceSpec(gpu=1)}, "GPU=1"),
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
    assert h.output(first) == h.output(again), "the same environment reused its warm worker"
    one_cpu = with_requests(h.request("whoami", node="c", x=2), requests=ResourceSpec(cpu=1))
    other = run_one(ex, one_cpu)
    assert h.output(other) != h.output(first), "another requests shape gets its own worker"
    assert run_one(ex, msgspec.structs.replace(one_cpu, node_id="d")).worker == other.worker


@pytest.mark.timeout(120)
def test_close_stops_every_worker(h: Harness) -> None:
    ex = h.executor(max_workers=2)
    ex.submit(h.request("nap", node="busy", seconds=30.0))
    run_one(ex, h.request("whoami", node="idle", x=0))  # a second worker, idle after this
    end = time.monotonic() + 60
    while len(ex.worker_pids()) < 2:
        assert time.monotonic() < end
        assert ex.poll(0.05) == []
    pids = ex.worker_pids()
    assert ex.running() == 1
    ex.close()
    assert all(gone(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit(h.request("whoami", x=0))
