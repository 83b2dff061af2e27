"""Helpers for benchmark scripts: repeat, median and spread, printing, temporary folders."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

#: A one-task workflow whose task writes `time.time()` to $FIRST_TASK_AT when its body starts
#: (B6: launch to first task, of a whole `airfoil run` process).
FIRST_TASK_FLOW = """
import os, time
import airfoil as af

@af.task
def first_body(x: int) -> int:
    with open(os.environ["FIRST_TASK_AT"], "w") as fh:
        fh.write(repr(time.time()))
    return x

@af.workflow
def wf(x: int = 0) -> int:
    return first_body(x=x)
"""


def temp_dir(prefix: str = "airfoil-bench-") -> str:
    """A new temporary folder (a bench's home: tens of MB), removed when this process exits,
    also by an exception or Ctrl-C (KeyboardInterrupt unwinds to the exit hooks). Only the
    process that made it removes it (a forked child running the exit hooks leaves it)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(_remove, path, os.getpid())
    return path


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def measure(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> list[float]:
    """Wall seconds of ``runs`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(samples: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(samples), min(samples), max(samples)


def report(
    name: str,
    samples: list[float],
    per: int = 1,
    unit: str = "ms",
    baseline: list[float] | None = None,
    budget: str = "",
) -> None:
    scale = 1000.0 if unit == "ms" else 1.0
    med, lo, hi = summary(samples)
    line = (
        f"{name}: median {med * scale / per:.3f} {unit}{'/item' if per > 1 else ''} "
        f"(spread {lo * scale / per:.3f}-{hi * scale / per:.3f}, n={len(samples)})"
    )
    if baseline is not None:
        bmed = statistics.median(baseline)
        line += f"; plain Python {bmed * scale / per:.4f} {unit}; ratio {med / bmed:.1f}x"
        line += f"; overhead {(med - bmed) * scale / per:.3f} {unit}{'/item' if per > 1 else ''}"
    if budget:
        line += f"  [budget {budget}]"
    print(line, flush=True)


def _attempts(n: int) -> Callable[[], object]:
    """``n`` in-process attempts of B1's task under one inline executor session (A1)."""
    import bench_core

    from airfoil.executors.base import AttemptRequest
    from airfoil.executors.inline import InlineExecutor
    from airfoil.runtime.worker import WorkerRuntime
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext, default_type_engine

    blobs = LocalBlobStore(os.path.join(os.environ["AIRFOIL_HOME"], "blobs"))
    one = default_type_engine().to_value(1, int, ValueContext(blobs=blobs))
    request = AttemptRequest(
        execution_id="ex",
        node_id="n1",
        attempt=1,
        task=bench_core.inc.spec,
        inputs={"x": one},
        blob_url=blobs.root,
        log_key="logs/ex/n1/1.log",
    )
    executor = InlineExecutor(blobs, WorkerRuntime())

    def run() -> None:
        with executor.session():
            for _ in range(n):
                executor.run_now(request)

    return run


def workload(which: str) -> Callable[[], object]:
    """One warm run of ``M1`` (a map of 1,000 trivial items + reduce), ``B1`` (a chain of
    100 trivial tasks), ``W1`` (a task calling a two-task workflow 50 times), or
    ``D0``/``D1`` (one ``airfoil`` policy decision over 10,000 queued items, without/with
    the due-work cap; ``D2``/``D3``: the next decision and the one after, each earlier
    decision applied and the clock moved a second; ``F1``/``F2``/``F3``: the same on
    ``bench_scheduler.fragmented_state``, the default's worst case, where every decision
    moves work and asks for the next one at once, 1 ms later): what
    ``count_instructions.py`` and ``bench_engine_cpu.py`` measure. Imports the benchmark
    module, so call it after ``AIRFOIL_HOME`` is set."""
    if which in ("F1", "F2", "F3"):
        import bench_scheduler

        from airfoil.scheduler import AirfoilPolicy

        state, now = bench_scheduler.fragmented_state(AirfoilPolicy())
        for _ in range(int(which[1]) - 1):
            state.apply(state.decide(now), now)
            now += 1e-3
        return lambda: state.decide(now)
    if which in ("D0", "D1", "D2", "D3"):
        import bench_scheduler

        from airfoil.scheduler import AirfoilPolicy

        policy = AirfoilPolicy(due_share=None) if which == "D0" else AirfoilPolicy()
        state, now = bench_scheduler.steady_state(policy)
        for _ in range(int(which[1]) - 1 if which != "D0" else 0):  # D2, D3: after 1, 2
            state.apply(state.decide(now), now)
            now += 1.0
        return lambda: state.decide(now)
    if which == "W1":
        import bench_composition

        return bench_composition.w1
    if which == "A1":
        return _attempts(100)
    if which == "M1":
        import bench_control

        xs = list(range(1000))
        return lambda: bench_control.map_reduce(xs=xs)
    import bench_core

    return bench_core.chain100


def remote_array_trees(doc: str | None, prefix: str) -> tuple[Any, str, str, str]:
    """A remote-read benchmark's set-up: its arguments (``SRC ...``: the trees' ``src``
    folders, ``--pairs``), a new home folder, the URL of an fsspec store in it (read as a
    remote one: no local path) and the JSON record of a seeded 10,000,000 float64 array
    (~80 MB) stored there, for the readers' processes."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("src", nargs="+", help="a tree's src folder (imported by the reader)")
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    home = temp_dir(prefix=prefix)
    url = "file://" + os.path.join(home, "store")
    return args, home, url, _write_remote_array(url)


def _write_remote_array(url: str) -> str:
    import msgspec
    import numpy as np

    from airfoil.store.blob import FsspecBlobStore
    from airfoil.types import TypeEngine, ValueContext

    array = np.random.default_rng(0).random(10_000_000)
    ctx = ValueContext(FsspecBlobStore(url, auto_mkdir=True), offload_threshold=0)
    value = TypeEngine().to_value(array, np.ndarray, ctx)
    return msgspec.json.encode(value).decode()
