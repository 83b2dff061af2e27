"""Whole-process cost of `airfoil run examples/hello.py wf` (issue 17's W5), two trees A/B.

Each run is a fresh process (`python -m airfoil.cli run ...`) with the tree's `src` first on
PYTHONPATH (before any PYTHONPATH given) and an AIRFOIL_HOME of its own per tree (the schema
may differ between trees; the home is created by one unmeasured warm-up run). The trees
alternate run by run, so a change in the machine's load hits both. Printed per tree: the
median of wall seconds and of the process's CPU seconds (user + sys, which other sessions'
load moves far less), their spreads, and the load average before and after. B6 (launch to
the first task's body) is measured the same way: from just before the process starts to the
moment the first task's body runs (it writes `time.time()` to a file).

Compile both trees first (`python -m compileall -q src/airfoil` in each): with
PYTHONDONTWRITEBYTECODE=1 nothing is cached otherwise and every run compiles the package.

    python benchmarks/bench_startup.py [--runs 9] [--floor] TREE [BASE_TREE]

Each process's minor page faults are printed too (a fault that backs a new page costs ~11 us
of CPU on a host whose guest memory is backed on first touch). ``--floor`` alternates
``python -c pass`` and the imports of the libraries a run needs with the trees' runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _util import FIRST_TASK_FLOW, temp_dir

#: what any Python process of this interpreter costs, and the libraries `airfoil run` needs
#: (Typer, Rich's console and table, msgspec, sqlite3) imported alone: the floor (--floor)
FLOORS = {
    "python -c pass": "pass",
    "python -c 'import sqlite3, typer, rich.console, rich.table, msgspec'": (
        "import sqlite3, typer, rich.console, rich.table, msgspec"
    ),
}


def _measure(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, float]:
    """(wall seconds, user + sys CPU seconds, minor page faults) of one process ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, float(after.ru_minflt - before.ru_minflt)


def _run(tree: str, home: str, args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, user + sys CPU seconds, minor page faults) of one `airfoil` process of
    ``tree``."""
    path = os.pathsep.join(p for p in (os.path.join(tree, "src"), env.get("PYTHONPATH")) if p)
    env = dict(env, PYTHONPATH=path, AIRFOIL_HOME=home)
    return _measure([sys.executable, "-m", "airfoil.cli", *args], env, tree)


def _line(label: str, xs: list[float]) -> str:
    return f"{label} median {statistics.median(xs):.3f} s (spread {min(xs):.3f}-{max(xs):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="checkouts to compare (1 or 2)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run `python -c pass` and the libraries' imports alone, alternated with the "
        "trees: what of a run is this host's and the interpreter's",
    )
    opts = parser.parse_args()
    trees = [os.path.abspath(t) for t in opts.trees]
    tmp = temp_dir(prefix="airfoil-startup-")
    flow = os.path.join(tmp, "first.py")
    with open(flow, "w") as fh:
        fh.write(FIRST_TASK_FLOW)
    mark = os.path.join(tmp, "at")
    env = dict(os.environ, FIRST_TASK_AT=mark)
    homes = {t: os.path.join(tmp, f"home{i}") for i, t in enumerate(trees)}
    hello = ["run", "examples/hello.py", "wf"]
    for tree in trees:  # warm-up: creates and migrates each home
        _run(tree, homes[tree], hello, env)
    floors = list(FLOORS) if opts.floor else []
    wall: dict[str, list[float]] = {t: [] for t in (*trees, *floors)}
    cpu: dict[str, list[float]] = {t: [] for t in (*trees, *floors)}
    faults: dict[str, list[float]] = {t: [] for t in (*trees, *floors)}
    first: dict[str, list[float]] = {t: [] for t in trees}
    print(f"load average before: {os.getloadavg()}", flush=True)
    for _ in range(opts.runs):
        for tree in trees:
            w, c, f = _run(tree, homes[tree], hello, env)
            wall[tree].append(w)
            cpu[tree].append(c)
            faults[tree].append(f)
        for label in floors:
            w, c, f = _measure([sys.executable, "-c", FLOORS[label]], env, trees[0])
            wall[label].append(w)
            cpu[label].append(c)
            faults[label].append(f)
        for tree in trees:
            t0 = time.time()
            _run(tree, homes[tree], ["run", flow, "wf"], env)
            with open(mark) as fh:
                first[tree].append(float(fh.read()) - t0)
    print(f"load average after: {os.getloadavg()}", flush=True)
    for tree in trees:
        print(f"{tree}:")
        print(
            f"  W5/B5 hello whole process: {_line('wall', wall[tree])}; "
            f"{_line('cpu', cpu[tree])}  [goal wall <= 0.3 s on a quiet machine]"
        )
        print(f"  minor page faults median {statistics.median(faults[tree]):.0f}")
        print(f"  B6 process start to first task body: {_line('wall', first[tree])}")
    for label in floors:
        print(
            f"{label}: {_line('wall', wall[label])}; {_line('cpu', cpu[label])}; "
            f"minor page faults median {statistics.median(faults[label]):.0f}"
        )
    if len(trees) == 2:
        a, b = trees
        for name, xs in (("wall", wall), ("cpu", cpu), ("B6", first)):
            ratio = statistics.median(xs[a]) / statistics.median(xs[b])
            print(f"  {name}: {ratio:.2f}x of the base tree")


if __name__ == "__main__":
    main()
