"""Core benchmarks B1-B6 of issue 2 (inline executor, SQLite store, this machine).

B1 a chain of 100 trivial tasks; B2 500 independent trivial tasks in one workflow; B3 B2 with
every node a cache hit, beside one execution of a single cache hit (what a user waits for
when one cached step is asked again); B4 a 1,000,000 x 10 float DataFrame passed between two
tasks (B4A the same for a 10,000,000 float64 NumPy array, ~80 MB: the same array every warm
run, and a new one every run, its wall beside its user and system CPU, with ``np.save`` and
``np.load`` by hand and an in-memory handoff); B5 the whole process time of `airfoil run
examples/hello.py wf`; B6 launch to first task: from the launch (a call in this process, or
the start of an `airfoil run` process) up to the moment the first task's body starts. Each
prints the median of 5 runs with the spread, the first (cold) run beside it where the first
run differs, and the same work as plain Python calls in the same invocation.

    .venv/bin/python benchmarks/bench_core.py [B1 B2 ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import FIRST_TASK_FLOW, measure, report, temp_dir

os.environ["AIRFOIL_HOME"] = temp_dir(prefix="airfoil-bench-")

import numpy as np
import pandas as pd

import airfoil as af


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task(cache=True)
def cached_inc(x: int) -> int:
    return x + 1


@af.workflow
def chain100(x: int = 0) -> int:
    for _ in range(100):
        x = inc(x=x)
    return x


@af.workflow
def fan500() -> list[int]:
    return [inc(x=i) for i in range(500)]  # type: ignore[return-value]


@af.workflow
def fan500_cached() -> list[int]:
    return [cached_inc(x=i) for i in range(500)]  # type: ignore[return-value]


def cold(name: str, fn: object) -> None:
    """The first run of ``fn`` in this process, before any warm-up (handlers, connections,
    the database's pages)."""
    import time

    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    print(f"{name}: cold (first run in this process) {time.perf_counter() - t0:.4f} s", flush=True)


def b1() -> None:
    def plain() -> int:
        x = 0
        for _ in range(100):
            x = inc.fn(x)
        return x

    cold("B1 chain of 100 trivial tasks", chain100)
    assert chain100() == 100
    report(
        "B1 chain of 100 trivial tasks",
        measure(chain100),
        per=100,
        baseline=measure(plain),
        budget="< 0.5 ms/task overhead, durable",
    )


def b2() -> None:
    report(
        "B2 500 independent trivial tasks",
        measure(fan500),
        per=500,
        baseline=measure(lambda: [inc.fn(i) for i in range(500)]),
    )


@af.workflow
def one_cached(x: int = 7) -> int:
    return cached_inc(x=x)


def b3() -> None:
    fan500_cached()  # fill the cache
    report(
        "B3 500 cache hits (amortised in one execution)",
        measure(fan500_cached),
        per=500,
        baseline=measure(lambda: [cached_inc.fn(i) for i in range(500)]),
        budget="< 0.2 ms per hit",
    )
    one_cached()  # fill this one entry
    report(
        "B3 one execution of a single cache hit (launch, lookup, outputs, record)",
        measure(one_cached, runs=20),
        baseline=measure(lambda: cached_inc.fn(7), runs=20),
    )


def b4_flow() -> tuple[pd.DataFrame, Any, Any]:
    """B4's frame (1,000,000 x 10 floats, seeded), its producing task and its two-task
    workflow (the frame returned by one task and read by the next): also what
    ``bench_w4_dagster.py`` runs beside Dagster's job."""
    import numpy as np

    frame = pd.DataFrame(
        np.random.default_rng(0).random((1_000_000, 10)), columns=[f"c{i}" for i in range(10)]
    )

    @af.task
    def make() -> pd.DataFrame:
        return frame

    @af.task
    def means(df: pd.DataFrame) -> list[float]:
        return [float(v) for v in df.mean().tolist()]

    @af.workflow
    def df_wf() -> list[float]:
        return means(df=make())

    return frame, make, df_wf


def b4() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame, make, df_wf = b4_flow()
    tmp = temp_dir()

    def by_hand() -> list[float]:
        path = os.path.join(tmp, "frame.parquet")
        pq.write_table(pa.Table.from_pandas(frame), path)
        back = pq.read_table(path).to_pandas()
        return [float(v) for v in back.mean().tolist()]

    def in_memory() -> list[float]:
        # the "Dagster in-memory" stand-in: the frame handed over as the same object, no copy,
        # nothing stored
        df = make.fn()
        return [float(v) for v in df.mean().tolist()]

    samples = measure(df_wf, runs=5)
    report(
        "B4 1M x 10 DataFrame between tasks",
        samples,
        unit="s",
        baseline=measure(by_hand, runs=5),
        budget="within 1.5x of Parquet by hand",
    )
    report(
        "B4 against an in-memory handoff",
        samples,
        unit="s",
        baseline=measure(in_memory, runs=5),
        budget="at or below Dagster's in-memory figure (issue 17)",
    )


def b4a_flow() -> tuple[Any, Any, Any]:
    """B4A's array (10,000,000 float64, seeded: ~80 MB), its producing task and its two-task
    workflow (the array returned by one task and summed by the next)."""
    array = np.random.default_rng(0).random(10_000_000)

    @af.task
    def make_array() -> np.ndarray:
        return array

    @af.task
    def total(a: np.ndarray) -> float:
        return float(a.sum())

    @af.workflow
    def array_wf() -> float:
        return total(a=make_array())

    return array, make_array, array_wf


def measure_cpu(
    fn: Any, runs: int = 5, before: Any = None
) -> tuple[list[float], list[float], list[float]]:
    """Wall, user CPU and system CPU seconds of ``runs`` calls after one warm-up call;
    ``before(i)`` (outside the clocks) is called before each."""
    import resource
    import time

    walls: list[float] = []
    users: list[float] = []
    systems: list[float] = []
    for i in range(runs + 1):
        if before is not None:
            before(i)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        if i:  # the first is the warm-up
            walls.append(wall)
            users.append(r1.ru_utime - r0.ru_utime)
            systems.append(r1.ru_stime - r0.ru_stime)
    return walls, users, systems


def _cpu_line(name: str, measured: tuple[list[float], list[float], list[float]]) -> None:
    import statistics

    wall, user, system = (statistics.median(x) for x in measured)
    print(
        f"{name}: wall median {wall:.4f} s (spread {min(measured[0]):.4f}-"
        f"{max(measured[0]):.4f}, n={len(measured[0])}), user {user:.4f} s, system "
        f"{system:.4f} s",
        flush=True,
    )


def b4a() -> None:
    array, make_array, array_wf = b4a_flow()
    expected = float(array.sum())
    assert array_wf() == expected
    tmp = temp_dir()

    def by_hand() -> float:
        path = os.path.join(tmp, "array.npy")
        np.save(path, array)
        return float(np.load(path).sum())

    def in_memory() -> float:
        return float(make_array.fn().sum())  # the same object handed over, nothing stored

    def another(i: int) -> None:
        array[0] = float(i + 1)  # another array (one value) each run, before the clocks

    _cpu_line("B4A 10M float64 array between tasks, the same array", measure_cpu(array_wf))
    _cpu_line("B4A np.save/np.load by hand", measure_cpu(by_hand))
    _cpu_line("B4A in-memory handoff", measure_cpu(in_memory))
    _cpu_line(
        "B4A 10M float64 array between tasks, a new array every run",
        measure_cpu(array_wf, before=another),
    )


def b5() -> None:
    hello = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "hello.py"
    )
    env = dict(os.environ)

    def run_cli() -> None:
        subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", hello, "wf"],
            env=env,
            check=True,
            capture_output=True,
        )

    def bare_python() -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    def import_only() -> None:
        subprocess.run([sys.executable, "-c", "import airfoil"], check=True)

    report(
        "B5 `airfoil run hello.py wf` whole process",
        measure(run_cli),
        unit="s",
        baseline=measure(bare_python),
        budget="< 0.7 s",
    )
    report(
        "B5 `python -c 'import airfoil'` whole process",
        measure(import_only),
        unit="s",
        baseline=measure(bare_python),
        budget="import < 150 ms",
    )


STARTED: list[float] = []


@af.task
def first_body(x: int) -> int:
    import time

    STARTED.append(time.perf_counter())
    return x


@af.workflow
def first_task(x: int = 0) -> int:
    return first_body(x=x)


def b6() -> None:
    import statistics
    import time

    def in_process() -> float:
        STARTED.clear()
        t0 = time.perf_counter()
        first_task()
        return STARTED[0] - t0

    first = in_process()
    warm = [in_process() for _ in range(20)]
    print(
        f"B6 launch to first task body, in process: cold {first * 1000:.2f} ms, warm median "
        f"{statistics.median(warm) * 1000:.2f} ms (spread {min(warm) * 1000:.2f}-"
        f"{max(warm) * 1000:.2f}, n={len(warm)})",
        flush=True,
    )
    tmp = temp_dir()
    flow = os.path.join(tmp, "first.py")
    with open(flow, "w") as fh:
        fh.write(FIRST_TASK_FLOW)
    mark = os.path.join(tmp, "at")
    env = dict(os.environ, FIRST_TASK_AT=mark, AIRFOIL_HOME=os.path.join(tmp, "home"))

    def whole_process() -> float:
        t0 = time.time()
        subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", flow, "wf"],
            env=env,
            check=True,
            capture_output=True,
        )
        with open(mark) as fh:
            return float(fh.read()) - t0

    first = whole_process()  # a fresh AIRFOIL_HOME: the database is created and migrated
    warm = [whole_process() for _ in range(5)]
    print(
        f"B6 launch to first task body, `airfoil run` process start: cold (fresh home) "
        f"{first:.3f} s, warm median {statistics.median(warm):.3f} s (spread "
        f"{min(warm):.3f}-{max(warm):.3f}, n={len(warm)})",
        flush=True,
    )


ALL = {"B1": b1, "B2": b2, "B3": b3, "B4": b4, "B4A": b4a, "B5": b5, "B6": b6}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(ALL):
        ALL[name.upper()]()
