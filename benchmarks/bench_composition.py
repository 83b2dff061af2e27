"""Workflows called by a running task (dynamic composition), on the inline executor.

W1: a task calls a two-task workflow 50 times (each call a child node whose children are
the workflow's two nodes: 150 nodes in one execution). T1, its baseline in the same
process: a task makes the same 100 task calls directly (100 child nodes). Both print the
median wall time per workflow call (W1) or per pair of task calls (T1) and their ratio.

    python benchmarks/bench_composition.py [--runs 7]

``bench_engine_cpu.py W1 --base DIR`` measures W1's CPU time beside another tree (before
this change a called workflow was an execution of its own).
"""

from __future__ import annotations

import argparse
import os
import statistics

from _util import measure, report, temp_dir

import airfoil as af

CALLS = 50


@af.task
def inc(x: int) -> int:
    return x + 1


@af.workflow
def two(x: int) -> int:
    return inc(x=inc(x=x))


@af.task
def calls_workflows(n: int) -> int:
    return sum(two(x=i) for i in range(n))


@af.task
def calls_tasks(n: int) -> int:
    return sum(inc(x=inc(x=i)) for i in range(n))


def w1() -> None:
    assert calls_workflows(n=CALLS) == sum(range(CALLS)) + 2 * CALLS


def t1() -> None:
    assert calls_tasks(n=CALLS) == sum(range(CALLS)) + 2 * CALLS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("AIRFOIL_HOME", temp_dir(prefix="airfoil-bench-"))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    base = measure(t1, runs=args.runs)
    wf = measure(w1, runs=args.runs)
    report("T1 100 task calls in a task (baseline)", base, per=CALLS)
    report("W1 50 calls of a two-task workflow in a task", wf, per=CALLS)
    ratio = statistics.median(wf) / statistics.median(base)
    print(f"W1 / T1 per call (the same tasks run): {ratio:.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
