"""Data locality on Ray: a second task reading the same 500 MB input on the same node fetches
nothing (issue 13). Bytes fetched and time of the attempt, first vs second.

One invocation, on a local Ray (one node, 2 CPUs), of a task ``size(data: bytes) -> int``
whose input is a 500 MB ``bytes`` value in the blob store (a local folder standing for a
network mount, so ``local_stores=True``; on an object store the fetch is a download):

- ``first``: a new worker, an empty node cache: the blob is fetched into the cache;
- ``second``: the same warm worker, the same input: read from the cache;
- ``other worker``: a new worker process on the node (another executor), the same input:
  read from the cache, its SHA-256 checked once in that process;
- ``no cache``: the same read with the cache off (``max_bytes=0``), the baseline.

Each round starts with an empty cache; medians over ``--rounds`` rounds (wall time of the
attempt, submit -> result; bytes fetched as each attempt's log notes them).

    .venv/bin/python benchmarks/bench_locality.py [--mb 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from bench_ray import start_local_ray

from airfoil.executors._blob_cache import BlobCacheConfig
from airfoil.executors.base import AttemptRequest, AttemptResult, Executor
from airfoil.executors.ray import RayExecutor
from airfoil.runtime.worker import worker_runtime
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

TASKS = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def size(data: bytes) -> int:
        return len(data)
    """
)


def one(ex: Executor, req: AttemptRequest) -> tuple[float, AttemptResult]:
    t0 = time.perf_counter()
    ex.submit(req)
    while True:
        done = ex.poll(None)
        if done:
            assert done[0].error is None, done[0].error
            return time.perf_counter() - t0, done[0]


def fetched_mb(blobs: LocalBlobStore, log_key: str) -> float:
    """The MB the attempt's log says it fetched (0 when it read its input from the cache)."""
    uri = blobs.uri(log_key)
    text = blobs.get_bytes(uri).decode() if blobs.exists(uri) else ""  # empty: not written
    notes = re.findall(r"input blob \S+ \(([\d.]+) MB\) fetched", text)
    if not notes and "read from this node's cache" not in text:
        return float("nan")  # no cache in the way: read straight from the store
    return sum(float(n) for n in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    root = tempfile.mkdtemp(prefix="airfoil-bench-locality-")
    code = os.path.join(root, "code")
    os.makedirs(code)
    with open(os.path.join(code, "bench_locality_tasks.py"), "w") as fh:
        fh.write(TASKS)
    sys.path.insert(0, code)
    import bench_locality_tasks  # type: ignore[import-not-found]

    blob_dir = os.path.join(root, "blobs")
    blobs = LocalBlobStore(blob_dir)
    value = default_type_engine().to_value(
        os.urandom(args.mb * 10**6), bytes, ValueContext(blobs=blobs)
    )
    cache_dir = os.path.join(root, "cache")
    cached = BlobCacheConfig(directory=cache_dir, max_bytes=4 * 2**30, local_stores=True)

    def request(i: int) -> AttemptRequest:
        return AttemptRequest(
            execution_id="bench",
            node_id=f"n{i}",
            attempt=1,
            task=bench_locality_tasks.size.spec,
            inputs={"data": value},
            blob_url=blob_dir,
            code_root=code,
            log_key=f"logs/bench/n{i}/1.log",
        )

    import ray

    start_local_ray()
    rows: dict[str, list[tuple[float, float]]] = {}
    try:
        n = 0
        for _ in range(args.rounds):
            shutil.rmtree(cache_dir, ignore_errors=True)
            runs: list[tuple[str, RayExecutor]] = []
            first = RayExecutor(blob_dir, runtime=worker_runtime, max_workers=1, blob_cache=cached)
            other = RayExecutor(blob_dir, runtime=worker_runtime, max_workers=1, blob_cache=cached)
            off = RayExecutor(
                blob_dir,
                runtime=worker_runtime,
                max_workers=1,
                blob_cache=BlobCacheConfig(max_bytes=0),
            )
            runs = [("first", first), ("second", first), ("other worker", other), ("no cache", off)]
            for name, ex in runs:
                n += 1
                req = request(n)
                took, _ = one(ex, req)
                rows.setdefault(name, []).append((took, fetched_mb(blobs, req.log_key)))
            for ex in (first, other, off):
                ex.close()
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.mb} MB input, {args.rounds} rounds, medians (each round from an empty cache):")
    for name, got in rows.items():
        took = statistics.median(t for t, _ in got)
        mb = statistics.median(m for _, m in got)
        fetched = "n/a (read from the store)" if mb != mb else f"{mb:.0f} MB fetched"
        each = ", ".join(f"{t:.2f}" for t, _ in got)
        print(f"  {name:<13} {took:6.2f} s  {fetched}   (runs: {each})")
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
