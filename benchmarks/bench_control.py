"""Control-flow benchmarks of issue 3 (inline executor, SQLite store, this machine).

M1: a map of 1,000 trivial items plus a reduce, durable (every item's result recorded),
median of 5 runs against the same work as plain Python calls.
M2: a map of 100,000 trivial items: wall time and peak memory (one run, in a subprocess so
the peak is this run's).
C1: a task calling 500 trivial tasks (Python-native composition), per child call.

    .venv/bin/python benchmarks/bench_control.py [M1 M2]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AIRFOIL_HOME", tempfile.mkdtemp(prefix="airfoil-bench-"))

from _util import measure, report

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
    env = dict(os.environ, AIRFOIL_HOME=tempfile.mkdtemp(prefix="airfoil-bench-"))
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


ALL = {"M1": m1, "M2": m2, "C1": c1}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(ALL):
        ALL[name.upper()]()
