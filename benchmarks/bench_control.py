"""Control-flow benchmarks of issue 3 (inline executor, SQLite store, this machine).

M1: a map of 1,000 trivial items plus a reduce, durable (every item's result recorded),
median of 5 runs against the same work as plain Python calls.
M2: a map of 100,000 trivial items: wall time and peak memory (one run, in a subprocess so
the peak is this run's).
C1: a task calling 500 trivial tasks (Python-native composition), per child call.
C2: the same on the process executor (each child an attempt on another worker), 200 calls.
C3: af.gather of 4 tasks sleeping 0.5 s on the process executor (4 workers): wall time.

    .venv/bin/python benchmarks/bench_control.py [M1 M2 C1 C2 C3]
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import measure, report, temp_dir

os.environ.setdefault("AIRFOIL_HOME", temp_dir(prefix="airfoil-bench-"))


import airfoil as af


@af.task
def square(x: int) -> int:
    return x * x


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.workflow
def map_reduce(xs: list[int]) -> int:
    return total(xs=af.map_task(square)(x=xs))


def m1() -> None:
    xs = list(range(1000))
    assert map_reduce(xs=xs) == sum(x * x for x in xs)
    report(
        "M1 map of 1,000 items + reduce",
        measure(lambda: map_reduce(xs=xs)),
        unit="s",
        baseline=measure(lambda: total.fn([square.fn(x) for x in xs])),
        budget="< 0.2 s, durable",
    )


M2_CHILD = """
import os, resource, sys, time
sys.path.insert(0, {here!r})
import bench_control as b
xs = list(range(100_000))
t0 = time.perf_counter()
assert b.map_reduce(xs=xs) == sum(x * x for x in xs)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"M2 map of 100,000 items + reduce: {{wall:.1f}} s, peak RSS {{peak:.0f}} MiB "
      "[budget < 60 s, < 1 GiB]")
"""


def m2() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, AIRFOIL_HOME=temp_dir(prefix="airfoil-bench-"))
    subprocess.run([sys.executable, "-c", M2_CHILD.format(here=here)], env=env, check=True)


@af.task
def calls_children(n: int) -> int:
    return sum(square(x=i) for i in range(n))


def c1() -> None:
    """C1: Python-native composition: a task calling 500 trivial child tasks."""
    n = 500
    assert calls_children(n=n) == sum(i * i for i in range(n))
    report(
        "C1 500 child calls from a running task",
        measure(lambda: calls_children(n=n)),
        per=n,
        baseline=measure(lambda: sum(square.fn(i) for i in range(n))),
        budget="< 1 ms per child call, durable",
    )


@af.task
def nap(i: int) -> int:
    import time

    time.sleep(0.5)
    return i


@af.task
def gathers_naps(n: int) -> list[int]:
    return af.gather(*(nap(i=i) for i in range(n)))


def _on_processes(entity: af.TaskDef[..., object], workers: int, **inputs: object) -> object:
    """Run ``entity`` through the engine on a process executor; its outputs."""
    from airfoil.engine.runner import Engine, EngineSettings
    from airfoil.executors.process import ProcessExecutor
    from airfoil.local import get_runtime, spec_of
    from airfoil.runtime.worker import worker_runtime
    from airfoil.sdk._values import convert_values, decode_values

    rt = get_runtime()
    ex = ProcessExecutor(rt.blob_url, max_workers=workers, runtime=worker_runtime)
    try:
        engine = Engine(
            rt.meta,
            rt.blobs,
            ex,
            blob_url=rt.blob_url,
            settings=EngineSettings(max_parallel=workers),
        )
        values = convert_values(entity, inputs, rt.types, rt.blobs)
        here = os.path.dirname(os.path.abspath(__file__))
        record = engine.launch(spec_of(entity), values, code_root=here)
        record = engine.drive(record.id)
        assert record.phase == "succeeded", record.error
        return decode_values(entity, record.outputs or {}, rt.types, rt.blobs)
    finally:
        ex.close()


def c2() -> None:
    """C2: composition on the process executor: per child call (a pipe round trip to the
    driver, a durable child node, an attempt on another worker, the answer back)."""
    n = 200
    assert _on_processes(calls_children, 2, n=n) == sum(i * i for i in range(n))
    report(
        "C2 200 child calls from a task in a worker process",
        measure(lambda: _on_processes(calls_children, 2, n=n), runs=3),
        per=n,
        budget="< 10 ms per child call, durable",
    )


def c3() -> None:
    """C3: gathered children run side by side on the process executor."""
    assert _on_processes(gathers_naps, 4, n=4) == [0, 1, 2, 3]
    report(
        "C3 af.gather of 4 tasks sleeping 0.5 s (process executor, 4 workers)",
        measure(lambda: _on_processes(gathers_naps, 4, n=4), runs=3),
        unit="s",
        budget="well under 4 x 0.5 s = 2 s (the naps overlap)",
    )


ALL = {"M1": m1, "M2": m2, "C1": c1, "C2": c2, "C3": c3}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(ALL):
        ALL[name.upper()]()
