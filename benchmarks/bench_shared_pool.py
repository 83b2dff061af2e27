"""A server's driver slots on their own process executors vs one shared worker pool, without
the engine or the database: what the pool's thread hops cost, and what fewer, busier workers
save.

``--slots`` threads each keep ``--inflight`` trivial attempts out (like a slot driving an
execution with that many ready tasks), submitting the next as each comes back, ``--tasks``
per thread. ``own``: each thread has a ``ProcessExecutor`` of ``--inflight`` workers (the
server's default, slots x max_parallel workers); ``shared``: the threads share one
``SharedProcessPool`` of ``--workers`` workers. Prints attempts/s, and CPU per attempt of
this process (the slots and the dispatcher) and of the workers, for each, alternating
``--pairs`` times.

    .venv/bin/python benchmarks/bench_shared_pool.py [--slots 4] [--inflight 4] [--workers 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from bench_process_executor import _cpu_of, _request, _setup

from airfoil.executors._process_shared import SharedProcessPool
from airfoil.executors.base import Executor
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import worker_runtime


def _drive(ex: Executor, slot: int, n: int, inflight: int, make: Any) -> None:
    sent = 0
    out = 0
    while sent < min(inflight, n):
        ex.submit(make(slot, sent))
        sent += 1
        out += 1
    while out:
        for r in ex.poll(0.25):
            assert r.error is None, r.error
            out -= 1
            if sent < n:
                ex.submit(make(slot, sent))
                sent += 1
                out += 1


def _run(kind: str, args: argparse.Namespace, make: Any, blob_dir: str) -> tuple[float, ...]:
    pool = None
    if kind == "own":
        executors: list[Any] = [
            ProcessExecutor(blob_dir, args.inflight, runtime=worker_runtime)
            for _ in range(args.slots)
        ]
        for ex in executors:
            ex.warm()
        pids = [p for ex in executors for p in ex.worker_pids()]
    else:
        pool = SharedProcessPool(ProcessExecutor(blob_dir, args.workers, runtime=worker_runtime))
        executors = [pool.client() for _ in range(args.slots)]
        pool.warm()
        pids = pool.worker_pids()
    for i, ex in enumerate(executors):  # every worker imports the task first
        _drive(ex, i, args.inflight * 2, args.inflight, make)
    workers_before = _cpu_of(pids)
    me_before = time.process_time()
    start = time.perf_counter()
    threads = [
        threading.Thread(target=_drive, args=(ex, i, args.tasks, args.inflight, make))
        for i, ex in enumerate(executors)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    me = time.process_time() - me_before
    workers = _cpu_of(pids) - workers_before
    for ex in executors:
        ex.close()
    if pool is not None:
        pool.close()
    total = args.slots * args.tasks
    return total / wall, me / total * 1e6, workers / total * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--inflight", type=int, default=4)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--tasks", type=int, default=1500)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    code, blob_dir, inc, conv, _chain = _setup()

    def make(slot: int, i: int) -> Any:
        r = _request(inc, code, blob_dir, conv, i)
        import msgspec

        return msgspec.structs.replace(r, execution_id=f"bench{slot}")

    got: dict[str, list[tuple[float, ...]]] = {"own": [], "shared": []}
    for _ in range(args.pairs):
        for kind in ("own", "shared"):
            rate, me, workers = _run(kind, args, make, blob_dir)
            got[kind].append((rate, me, workers))
            print(
                f"{kind:6} slots={args.slots} inflight={args.inflight} "
                f"workers={args.slots * args.inflight if kind == 'own' else args.workers}: "
                f"{rate:,.0f} attempts/s, CPU/attempt: this process {me:.0f} us, "
                f"workers {workers:.0f} us  (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    for kind, rows in got.items():
        print(
            f"{kind}: median {statistics.median(r[0] for r in rows):,.0f} attempts/s, "
            f"this process {statistics.median(r[1] for r in rows):.0f} us, "
            f"workers {statistics.median(r[2] for r in rows):.0f} us per attempt"
        )


if __name__ == "__main__":
    main()
