"""Ray executor overhead per trivial task on a warm local Ray, beside the process executor
(issue 13 budget: <= 3 ms of overhead per trivial task on Ray).

Prints, all in one invocation so the figures share the machine's load:

- cold: starting a local Ray (``ray.init``, 2 CPUs, no dashboard), then the first attempt of
  a new executor (a worker actor starts and imports the task's module), beside the process
  executor's first attempt (forkserver + worker);
- warm round trip: one trivial attempt at a time through a warm worker, submit -> poll;
  5 batches of ``--rounds`` attempts per executor, the executors taking turns batch by batch
  (inline, process, ray); the median over the 5 batch medians. The inline executor runs the
  same attempt in this process (the runtime's own cost: decode inputs, call, encode outputs),
  so ``executor - inline`` is each executor's overhead;
- engine: a chain of 100 trivial tasks driven by the engine (in-memory store), per task, on
  each executor (median of 5 chains).

    .venv/bin/python benchmarks/bench_ray.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _util import temp_dir
from bench_process_executor import TASKS  # the same trivial task and chain

from airfoil.executors.base import AttemptRequest, AttemptResult, Executor
from airfoil.executors.inline import InlineExecutor
from airfoil.executors.process import ProcessExecutor
from airfoil.executors.ray import RayExecutor
from airfoil.runtime.worker import WorkerRuntime, worker_runtime
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

BATCHES = 5


class Bench:
    def __init__(self) -> None:
        root = temp_dir(prefix="airfoil-bench-ray-")
        self.code = os.path.join(root, "code")
        os.makedirs(self.code)
        with open(os.path.join(self.code, "bench_ray_tasks.py"), "w") as fh:
            fh.write(TASKS)
        sys.path.insert(0, self.code)
        import bench_ray_tasks  # type: ignore[import-not-found]

        self.tasks = bench_ray_tasks
        self.blob_dir = os.path.join(root, "blobs")
        self.blobs = LocalBlobStore(self.blob_dir)
        self.types = default_type_engine()
        self.ctx = ValueContext(blobs=self.blobs)

    def request(self, i: int) -> AttemptRequest:
        return AttemptRequest(
            execution_id="bench",
            node_id=f"n{i}",
            attempt=1,
            task=self.tasks.inc.spec,
            inputs={"x": self.types.to_value(i, int, self.ctx)},
            blob_url=self.blob_dir,
            code_root=self.code,
        )


def one(ex: Executor, req: AttemptRequest) -> AttemptResult:
    ex.submit(req)
    while True:
        done = ex.poll(None)
        if done:
            assert done[0].error is None, done[0].error
            return done[0]


def timed(ex: Executor, req: AttemptRequest) -> float:
    t0 = time.perf_counter()
    one(ex, req)
    return time.perf_counter() - t0


def start_local_ray() -> None:
    """A local Ray as the benchmarks use it: 2 CPUs, no dashboard, a small object store."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        namespace="airfoil",
        object_store_memory=128 * 2**20,
    )


def cold(b: Bench) -> dict[str, Executor]:
    t0 = time.perf_counter()
    start_local_ray()
    t_init = time.perf_counter() - t0
    ray_ex = RayExecutor(b.blob_dir, runtime=worker_runtime, max_workers=1)
    t_ray = timed(ray_ex, b.request(0))
    proc = ProcessExecutor(b.blob_dir, 1, runtime=worker_runtime)
    t_proc = timed(proc, b.request(0))
    print(
        f"cold: local Ray started in {t_init:.2f} s; first attempt of a new executor: ray "
        f"{t_ray * 1000:.0f} ms (a worker actor starts), process {t_proc * 1000:.0f} ms "
        "(forkserver + worker)",
        flush=True,
    )
    inline = InlineExecutor(b.blobs, WorkerRuntime())
    return {"inline": inline, "process": proc, "ray": ray_ex}


def warm(b: Bench, executors: dict[str, Executor], rounds: int) -> None:
    reqs = [b.request(i) for i in range(rounds)]
    for ex in executors.values():
        for r in reqs[:20]:
            one(ex, r)
    batch_medians: dict[str, list[float]] = {name: [] for name in executors}
    for _ in range(BATCHES):  # taking turns, so load changes hit every executor alike
        for name, ex in executors.items():
            batch_medians[name].append(statistics.median(timed(ex, r) for r in reqs))
    med = {name: statistics.median(v) for name, v in batch_medians.items()}
    spread = {name: (min(v), max(v)) for name, v in batch_medians.items()}
    for name in executors:
        lo, hi = spread[name]
        print(
            f"warm round trip [{name}] (submit -> poll, 1 worker, {BATCHES}x{rounds}): "
            f"median {med[name] * 1000:.3f} ms (batch medians {lo * 1000:.3f}-{hi * 1000:.3f})",
            flush=True,
        )
    over_ray = (med["ray"] - med["inline"]) * 1000
    over_proc = (med["process"] - med["inline"]) * 1000
    print(
        f"overhead per trivial task: ray {over_ray:.3f} ms [budget <= 3 ms], process "
        f"{over_proc:.3f} ms; ray / process round trip = {med['ray'] / med['process']:.2f}x",
        flush=True,
    )


def engine_chain(b: Bench, executors: dict[str, Executor]) -> None:
    from airfoil.engine.runner import Engine
    from airfoil.store.memory import MemoryMetaStore

    inputs = {"x": b.types.to_value(0, int, b.ctx)}
    runs: dict[str, list[float]] = {name: [] for name in executors}
    for _ in range(BATCHES):
        for name, ex in executors.items():
            engine = Engine(MemoryMetaStore(), b.blobs, ex, blob_url=b.blob_dir)
            t0 = time.perf_counter()
            record = engine.launch(b.tasks.chain.spec, inputs, code_root=b.code)
            record = engine.drive(record.id)
            runs[name].append((time.perf_counter() - t0) / 100)
            assert record.phase == "succeeded", record.error
    line = ", ".join(f"{n} {statistics.median(v) * 1000:.2f} ms" for n, v in runs.items())
    print(f"engine, chain of 100 trivial tasks, per task (median of {BATCHES}): {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    b = Bench()
    executors = cold(b)
    try:
        warm(b, executors, args.rounds)
        engine_chain(b, executors)
    finally:
        for ex in executors.values():
            ex.close()
        import ray

        ray.shutdown()
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
