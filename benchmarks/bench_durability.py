"""The cost of ``durability=power`` against ``process`` (the default), in one invocation.

B1 is bench_core's chain of 100 trivial tasks (inline executor, embedded SQLite): its writes
are all database commits, so ``power`` costs SQLite's ``synchronous=FULL`` (a WAL fsync per
commit). B1-blobs is the same chain with each task returning a 256 KiB list (offloaded to the
blob store), so ``power`` also pays an fsync of each blob and of its directory. Runs of the
two levels alternate (5 each, after a warm-up), so drift of the machine hits both alike; each
level has its own home (database and blobs) on the same filesystem.

    .venv/bin/python benchmarks/bench_durability.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _util import temp_dir

import airfoil as af
from airfoil.local import get_runtime
from airfoil.settings import AirfoilSettings


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def grow(xs: list[int]) -> list[int]:
    return [*xs[1:], xs[-1] + 1]


@af.workflow
def chain100(x: int = 0) -> int:
    for _ in range(100):
        x = inc(x=x)
    return x


@af.workflow
def blob_chain100(xs: list[int]) -> list[int]:
    for _ in range(100):
        xs = grow(xs=xs)
    return xs


def _set(level: str, homes: dict[str, str]) -> None:
    os.environ["AIRFOIL_HOME"] = homes[level]
    os.environ["AIRFOIL_DURABILITY"] = level


def compare(name: str, work: Callable[[], object], runs: int = 5) -> None:
    homes = {level: temp_dir(prefix=f"airfoil-bench-{level}-") for level in ("process", "power")}
    samples: dict[str, list[float]] = {"process": [], "power": []}
    for level in samples:  # warm-up: open each store, compile, fill caches
        _set(level, homes)
        assert get_runtime(AirfoilSettings()).settings.durability == level
        work()
    for _ in range(runs):
        for level in samples:
            _set(level, homes)
            t0 = time.perf_counter()
            work()
            samples[level].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in samples.items()}
    for level, values in samples.items():
        print(
            f"{name} durability={level}: median {med[level] * 1000 / 100:.3f} ms/task "
            f"(spread {min(values) * 10:.3f}-{max(values) * 10:.3f}, n={len(values)})",
            flush=True,
        )
    print(
        f"{name}: power / process = {med['power'] / med['process']:.2f}x "
        f"(+{(med['power'] - med['process']) * 10:.3f} ms/task)",
        flush=True,
    )


if __name__ == "__main__":
    compare("B1 chain of 100 trivial tasks", lambda: chain100())
    big = list(range(32_768))  # ~256 KiB of JSON: offloaded to the blob store
    compare("B1-blobs chain of 100 tasks passing 256 KiB", lambda: blob_chain100(xs=big))
