"""Draws docs/img/scaling.png from the scaling tables of docs/performance.md.

The figures are copied from the page's tables (each measured by the command the page names:
``benchmarks/bench_scaling.py`` and ``benchmarks/bench_server.py --only throughput``); change
both together. Run: ``python docs/img/scaling.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SIZES = [10, 100, 1_000, 10_000, 100_000]
#: Local engine, CPU ms per task: (label, today on d050897 at load 2-10, quiet on 05870e2).
LOCAL = {
    "map item": ([0.253, 0.075, 0.063, 0.071, 0.071], [0.219, 0.096, 0.045, 0.046, 0.047]),
    "chained task": ([0.247, 0.110, 0.108, 0.128, 0.169], [0.263, 0.190, 0.168, 0.184, None]),
    "fanned task": ([0.243, 0.123, 0.118, 0.121, 0.153], [0.278, 0.187, 0.169, 0.192, None]),
}
#: Server on PostgreSQL, d050897, load 8-15: tasks a round -> CPU ms per task by process
#: (two single-round runs each: API, engine process, workers, PostgreSQL) and tasks/s.
SERVER_TASKS = [44, 4_040, 10_010, 100_100]
SERVER = {
    "API process": ([1.14, 0.13, 0.12, 0.08], [1.59, 0.12, 0.09, 0.12]),
    "engine process": ([0.91, 0.21, 0.22, 0.19], [1.14, 0.22, 0.20, 0.24]),
    "workers": ([2.95, 0.16, 0.16, 0.12], [2.50, 0.16, 0.14, 0.15]),
    "PostgreSQL": ([1.36, 0.20, 0.17, 0.19], [1.36, 0.18, 0.15, 0.24]),
}
RATES = ([124, 1_530, 1_196, 1_776], [78, 1_590, 1_815, 1_331])


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, (today, quiet)), colour in zip(LOCAL.items(), ("C0", "C1", "C2"), strict=True):
        xs = [s for s, v in zip(SIZES, today, strict=True) if v is not None]
        left.plot(xs, [v for v in today if v is not None], "o-", color=colour, label=name)
        xq = [s for s, v in zip(SIZES, quiet, strict=True) if v is not None]
        left.plot(xq, [v for v in quiet if v is not None], "x--", color=colour, alpha=0.6)
    left.set(xscale="log", xlabel="tasks in the run", ylabel="CPU ms per task")
    left.set_title("Local engine (solid: d050897 at load 2-10; dashed: 05870e2 quiet)", fontsize=9)
    left.set_ylim(0, 0.3)
    left.legend(fontsize=8)
    for (name, runs), colour in zip(SERVER.items(), ("C3", "C4", "C5", "C6"), strict=True):
        for i, run in enumerate(runs):
            right.plot(
                SERVER_TASKS,
                run,
                "o-" if i == 0 else "x--",
                color=colour,
                label=name if i == 0 else None,
            )
    for i, (x, a, b) in enumerate(zip(SERVER_TASKS, *RATES, strict=True)):
        y = 0.03 if i % 2 == 0 else 0.045  # neighbours' labels one above the other
        right.annotate(f"{a:,}/{b:,} tasks/s", (x, y), fontsize=7, ha="center")
    right.set(xscale="log", yscale="log", xlabel="tasks in the round", ylabel="CPU ms per task")
    right.set_title("Server on PostgreSQL, d050897, load 8-15 (two runs)", fontsize=9)
    right.set_ylim(0.02, 5)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("scaling.png"), dpi=110)


if __name__ == "__main__":
    main()
