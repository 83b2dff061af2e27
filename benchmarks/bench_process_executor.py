"""Process executor overhead: worker start, warm round trip, throughput (issue budget: < 25 ms
of overhead per task in already-started workers).

Prints:

- cold start: a new executor's first trivial attempt, submit -> result (starts the forkserver,
  which imports the runtime once, forks a worker, imports the task module), and the same for
  a second executor while the forkserver is running (a worker start plus the module import);
  each for ``forkserver`` and ``spawn``;
- warm round trip: one trivial attempt at a time through an already-started worker, submit ->
  poll, median and p90 over many, next to the same attempt run by the inline executor (the
  runtime's own cost: decode inputs, call, encode outputs) -- the difference is the process
  executor's overhead;
- throughput: trivial attempts per second with N workers kept busy, and the CPU per attempt
  of the driver (submit, poll: this process) and of the workers (``--only throughput`` runs
  only this part);
- engine: a chain of 100 trivial tasks driven by the engine (in-memory store), process vs
  inline executor, per task.

    .venv/bin/python benchmarks/bench_process_executor.py [--rounds 2000] [--tasks 4000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import textwrap
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _util import temp_dir

from airfoil.executors.base import AttemptRequest, AttemptResult, Executor
from airfoil.executors.inline import InlineExecutor
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import WorkerRuntime, worker_runtime
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

TASKS = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def inc(x: int) -> int:
        return x + 1


    @af.workflow
    def chain(x: int = 0) -> int:
        for _ in range(100):
            x = inc(x=x)
        return x
    """
)


def _setup() -> tuple[str, str, Any, Any, Any]:
    root = temp_dir(prefix="airfoil-bench-process-")
    code = os.path.join(root, "code")
    os.makedirs(code)
    with open(os.path.join(code, "bench_pe_tasks.py"), "w") as fh:
        fh.write(TASKS)
    sys.path.insert(0, code)
    import bench_pe_tasks  # type: ignore[import-not-found]

    blob_dir = os.path.join(root, "blobs")
    engine = default_type_engine()
    ctx = ValueContext(blobs=LocalBlobStore(blob_dir))
    return code, blob_dir, bench_pe_tasks.inc, (engine, ctx), bench_pe_tasks.chain


def _request(task: Any, code: str, blob_dir: str, conv: Any, i: int) -> AttemptRequest:
    engine, ctx = conv
    return AttemptRequest(
        execution_id="bench",
        node_id=f"n{i}",
        attempt=1,
        task=task.spec,
        inputs={"x": engine.to_value(i, int, ctx)},
        blob_url=blob_dir,
        code_root=code,
    )


def _one(ex: Executor, req: AttemptRequest) -> AttemptResult:
    ex.submit(req)
    while True:
        done = ex.poll(None)
        if done:
            assert done[0].error is None, done[0].error
            return done[0]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cold(task: Any, code: str, blob_dir: str, conv: Any) -> None:
    for method in ("forkserver", "spawn"):
        first = ProcessExecutor(blob_dir, 2, runtime=worker_runtime, start_method=method)
        t0 = time.perf_counter()
        _one(first, _request(task, code, blob_dir, conv, 0))
        t_first = time.perf_counter() - t0
        second = ProcessExecutor(blob_dir, 2, runtime=worker_runtime, start_method=method)
        t0 = time.perf_counter()
        _one(second, _request(task, code, blob_dir, conv, 0))
        t_second = time.perf_counter() - t0
        second.close()
        first.close()
        print(
            f"cold start [{method}]: first attempt of a new executor {t_first * 1000:.0f} ms; "
            f"a fresh worker with the {'forkserver' if method == 'forkserver' else 'runtime'} "
            f"already warm {t_second * 1000:.0f} ms",
            flush=True,
        )


def warm(task: Any, code: str, blob_dir: str, conv: Any, rounds: int) -> None:
    reqs = [_request(task, code, blob_dir, conv, i) for i in range(rounds)]
    inline = InlineExecutor(LocalBlobStore(blob_dir), WorkerRuntime())
    for r in reqs[:50]:
        _one(inline, r)
    base = []
    for r in reqs:
        t0 = time.perf_counter()
        _one(inline, r)
        base.append(time.perf_counter() - t0)
    ex = ProcessExecutor(blob_dir, 1, runtime=worker_runtime)
    for r in reqs[:50]:
        _one(ex, r)
    samples = []
    for r in reqs:
        t0 = time.perf_counter()
        _one(ex, r)
        samples.append(time.perf_counter() - t0)
    ex.close()
    med, p90 = statistics.median(samples), _pct(samples, 0.9)
    bmed = statistics.median(base)
    print(
        f"warm round trip (submit -> poll, 1 worker, n={rounds}): median {med * 1000:.3f} ms, "
        f"p90 {p90 * 1000:.3f} ms; inline (runtime only) median {bmed * 1000:.3f} ms; "
        f"process overhead {(med - bmed) * 1000:.3f} ms/task  [budget < 25 ms]",
        flush=True,
    )


def throughput(task: Any, code: str, blob_dir: str, conv: Any, n_tasks: int) -> None:
    reqs = [_request(task, code, blob_dir, conv, i) for i in range(n_tasks)]
    for workers in sorted({1, 2, 4, os.cpu_count() or 1}):
        ex = ProcessExecutor(blob_dir, workers, runtime=worker_runtime)
        # warm every worker up first
        for r in reqs[:workers]:
            ex.submit(r)
        got = 0
        while got < workers:
            got += len(ex.poll(None))
        pids = ex.worker_pids()
        w0 = _cpu_of(pids)
        t0, c0 = time.perf_counter(), time.process_time()
        it = iter(reqs)
        outstanding = 0
        for r in it:
            ex.submit(r)
            outstanding += 1
            if outstanding >= workers:
                break
        done = 0
        while done < n_tasks:
            finished = ex.poll(None)
            done += len(finished)
            outstanding -= len(finished)
            for r in it:
                ex.submit(r)
                outstanding += 1
                if outstanding >= workers:
                    break
        dt, parent = time.perf_counter() - t0, time.process_time() - c0
        spent = _cpu_of(pids) - w0
        ex.close()
        print(
            f"throughput, {workers} worker(s), {n_tasks} trivial attempts: "
            f"{n_tasks / dt:,.0f} attempts/s ({dt * 1000 / n_tasks:.3f} ms each); CPU per "
            f"attempt: driver {parent * 1000 / n_tasks:.3f} ms, workers "
            f"{spent * 1000 / n_tasks:.3f} ms",
            flush=True,
        )


def _cpu_of(pids: list[int]) -> float:
    """User and system CPU seconds the processes ``pids`` have used so far."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def engine_chain(chain: Any, code: str, blob_dir: str, conv: Any) -> None:
    try:
        from airfoil.engine.runner import Engine
        from airfoil.store.memory import MemoryMetaStore
    except ImportError as exc:
        print(f"engine chain: skipped ({exc})")
        return
    engine_types, ctx = conv
    inputs = {"x": engine_types.to_value(0, int, ctx)}
    blobs = LocalBlobStore(blob_dir)
    results = {}
    for name in ("inline", "process"):
        ex: Executor = (
            InlineExecutor(blobs, WorkerRuntime())
            if name == "inline"
            else ProcessExecutor(blob_dir, 2, runtime=worker_runtime)
        )
        samples = []
        for _ in range(6):  # the first run warms up (and starts the process workers)
            engine = Engine(MemoryMetaStore(), blobs, ex, blob_url=blob_dir)
            t0 = time.perf_counter()
            record = engine.drive(engine.launch(chain.spec, inputs, code_root=code).id)
            samples.append(time.perf_counter() - t0)
            assert record.phase == "succeeded", record.error
        ex.close()
        results[name] = statistics.median(samples[1:])
    per = {k: v * 1000 / 100 for k, v in results.items()}
    print(
        f"engine, chain of 100 trivial tasks (memory store): process {per['process']:.3f} "
        f"ms/task, inline {per['inline']:.3f} ms/task; the process executor adds "
        f"{per['process'] - per['inline']:.3f} ms/task",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument(
        "--only", choices=["throughput"], help="run only this part (e.g. to A/B two trees)"
    )
    args = parser.parse_args()
    code, blob_dir, task, conv, chain = _setup()
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}", flush=True)
    if args.only is None:
        cold(task, code, blob_dir, conv)
        warm(task, code, blob_dir, conv, args.rounds)
    throughput(task, code, blob_dir, conv, args.tasks)
    if args.only is None:
        engine_chain(chain, code, blob_dir, conv)


if __name__ == "__main__":
    main()
