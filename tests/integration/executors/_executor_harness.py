"""The task module and helpers the executor tests share (``test_process_executor.py``,
``test_ray_executor.py``): tasks written under ``tmp_path`` (workers import them by name from
the request's ``code_root``), requests built from their specs as the engine builds them."""

from __future__ import annotations

import importlib
import sys
import textwrap
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from _procs import gone

from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import worker_runtime
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

__all__ = ["TASKS", "Harness", "collect", "gone", "run_one", "started_pids", "worker_pid"]


TASKS = textwrap.dedent(
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    import airfoil as af


    @af.task
    def add(a: int, b: int) -> int:
        return a + b


    @af.task
    def whoami(x: int) -> int:
        return os.getpid()


    @af.task
    def niceness(x: int) -> int:
        return os.nice(0)


    @af.task
    def fail(x: int) -> int:
        raise ValueError(f"no good: {x}")


    @af.task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds


    @af.task(timeout=1)
    def stuck(x: int) -> int:
        while True:  # swallows the in-process timeout too: only a kill stops it
            try:
                time.sleep(100)
            except BaseException:
                pass


    @af.task
    def exit_hard(code: int) -> int:
        os._exit(code)


    @af.task
    def segfault(x: int) -> int:
        import ctypes

        return int(ctypes.cast(8, ctypes.POINTER(ctypes.c_int)).contents.value) + x  # SIGSEGV


    @af.task
    def kill_self(x: int) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return x


    @af.task
    def leave(code: int) -> int:
        sys.exit(code)


    @af.task(limits=af.Resources(mem="200Mi"))
    def hog(mib: int) -> int:
        data = bytearray(mib * 2**20)
        return len(data)


    @af.task(limits=af.Resources(mem="200Mi"))
    def hold(mib: int) -> int:
        data = bytearray(mib * 2**20)
        time.sleep(30)
        return len(data)


    @af.task
    def spawn_and_wait(pid_file: str) -> int:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(pid_file, "w") as fh:
            fh.write(str(child.pid))
        time.sleep(60)
        return child.pid


    def _detached_child(pid_file: str) -> int:
        # a child in a session (and process group) of its own: the group kill misses it
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
        )
        with open(pid_file, "w") as fh:
            fh.write(str(child.pid))
        return child.pid


    GRANDCHILD = (
        "import subprocess, sys, time\\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\\n"
        "open(sys.argv[1], 'w').write(str(p.pid))\\n"
        "time.sleep(60)\\n"
    )


    @af.task(timeout=3)
    def grandchild_and_hang(pid_file: str) -> int:
        # a grandchild in a session of its own, below a child that stays: Ray stops only
        # a dead worker's direct children
        subprocess.Popen([sys.executable, "-c", GRANDCHILD, pid_file])
        while True:  # only the hard timeout's kill stops it (once the grandchild is up)
            try:
                while not os.path.exists(pid_file):
                    time.sleep(0.02)
                time.sleep(100)
            except BaseException:
                pass


    @af.task
    def grandchild_and_nap(pid_file: str, seconds: float) -> int:
        child = subprocess.Popen([sys.executable, "-c", GRANDCHILD, pid_file])
        time.sleep(seconds)
        return child.pid


    @af.task(timeout=1)
    def detach_and_hang(pid_file: str) -> int:
        _detached_child(pid_file)
        while True:  # only the hard timeout's kill stops it
            try:
                time.sleep(100)
            except BaseException:
                pass


    @af.task
    def detach_and_nap(pid_file: str, seconds: float) -> int:
        pid = _detached_child(pid_file)
        time.sleep(seconds)
        return pid


    @af.task
    def flytekit_sandbox(x: int) -> str:
        # where flytekit's file access puts files outside an attempt's directory: a
        # directory of this worker process
        from airfoil.compat.flytekit._structured import FileAccess

        return FileAccess().local_sandbox_dir


    @af.task
    def tally(path: str, x: int) -> int:
        with open(path, "a") as fh:  # one line a run: a test counts the runs
            fh.write(f"{x}\\n")
        return x


    @af.task
    def total(x: float, y: float) -> float:
        return x + y


    @af.workflow
    def fan_in(a: float = 1.0, b: float = 1.0) -> float:
        return total(x=nap(seconds=a), y=nap(seconds=b))


    @af.task
    def chatty(go: str) -> str:
        print("started the long part", flush=True)
        deadline = time.time() + 30
        while not os.path.exists(go) and time.time() < deadline:  # the test has seen its log
            time.sleep(0.05)
        print("done")
        return go


    @af.task
    def fail_after(seconds: float) -> float:
        time.sleep(seconds)
        raise ValueError("failing while a sibling runs")


    @af.workflow
    def one_fails(a: float = 60.0, b: float = 1.0) -> float:
        return total(x=nap(seconds=a), y=fail_after(seconds=b))
    """
)


class Harness:
    """A task module on disk, imported here, plus what it takes to build and read attempts."""

    def __init__(self, tmp_path: Path, kind: str = "process") -> None:
        self.kind = kind
        self.code = tmp_path / "code"
        self.code.mkdir()
        self.module_name = f"pe_tasks_{uuid.uuid4().hex[:8]}"
        (self.code / f"{self.module_name}.py").write_text(TASKS)
        sys.path.insert(0, str(self.code))
        self.tasks: ModuleType = importlib.import_module(self.module_name)
        self.blob_dir = str(tmp_path / "blobs")
        self.blobs = LocalBlobStore(self.blob_dir)
        self.types = default_type_engine()
        self.ctx = ValueContext(blobs=self.blobs)
        self.executors: list[Any] = []

    def executor(self, max_workers: int = 2) -> Any:
        ex: Any
        if self.kind == "shared":  # one slot's view of a server's shared worker pool
            from airfoil.executors._process_shared import SharedProcessPool

            pool = SharedProcessPool(
                ProcessExecutor(self.blob_dir, max_workers, runtime=worker_runtime)
            )
            self.executors.append(pool)
            ex = pool.client()
        elif self.kind == "ray":
            from airfoil.executors.ray import RayExecutor

            ex = RayExecutor(self.blob_dir, runtime=worker_runtime, max_workers=max_workers)
        else:
            ex = ProcessExecutor(self.blob_dir, max_workers, runtime=worker_runtime)
        self.executors.append(ex)
        return ex

    def request(self, task: str, node: str = "n0", attempt: int = 1, **inputs: Any) -> Any:
        taskdef = getattr(self.tasks, task)
        types = taskdef.py_interface.input_types
        return AttemptRequest(
            execution_id="ex1",
            node_id=node,
            attempt=attempt,
            task=taskdef.spec,
            inputs={k: self.types.to_value(v, types[k], self.ctx) for k, v in inputs.items()},
            blob_url=self.blob_dir,
            code_root=str(self.code),
            log_key=f"logs/ex1/{node}/{attempt}.log",
        )

    def output(self, result: AttemptResult, task: str) -> Any:
        assert result.error is None, result.error
        assert result.outputs is not None
        out_type = getattr(self.tasks, task).py_interface.output_types["o0"]
        return self.types.to_python(result.outputs["o0"], out_type, self.ctx)

    def close(self) -> None:
        for ex in reversed(self.executors):  # a shared pool's clients before the pool
            ex.close()
        sys.path.remove(str(self.code))
        sys.modules.pop(self.module_name, None)


def started_pids(ex: Any, n: int, within: float = 30.0) -> list[int]:
    """The pids of the executor's ``n`` started workers (a Ray worker starts asynchronously:
    poll until it has), with nothing reported meanwhile."""
    end = time.monotonic() + within
    while len(ex.worker_pids()) < n:
        assert time.monotonic() < end, f"only {ex.worker_pids()} of {n} workers started"
        assert ex.poll(0.05) == []
    return list(ex.worker_pids())


def collect(ex: Any, n: int, within: float = 30.0) -> list[AttemptResult]:
    """Poll until ``n`` results arrived (failing after ``within`` seconds)."""
    out: list[AttemptResult] = []
    end = time.monotonic() + within
    while len(out) < n:
        left = end - time.monotonic()
        assert left > 0, f"only {len(out)} of {n} results after {within}s: {out}"
        out.extend(ex.poll(left))
    assert len(out) == n, out
    return out


def run_one(ex: Any, request: AttemptRequest) -> AttemptResult:
    ex.submit(request)
    (result,) = collect(ex, 1)
    assert (result.execution_id, result.node_id, result.attempt) == (
        request.execution_id,
        request.node_id,
        request.attempt,
    )
    return result


def worker_pid(result: AttemptResult) -> int:
    return int(result.worker.split(":")[1])
