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
#: Local engine, CPU ms per task: (label, d9778068 quiet on 7 December at load 1.5-1.8 (the
#: 100,000-task chain and fan-out: load 4.6-7.1), d050897 on 6 December at load 2-10).
LOCAL = {
    "map item": ([0.206, 0.065, 0.051, 0.053, 0.055], [0.253, 0.075, 0.063, 0.071, 0.071]),
    "chained task": ([0.203, 0.096, 0.090, 0.092, 0.103], [0.247, 0.110, 0.108, 0.128, 0.169]),
    "fanned task": ([0.219, 0.100, 0.092, 0.097, 0.112], [0.243, 0.123, 0.118, 0.121, 0.153]),
}
#: Server on PostgreSQL: tasks a round -> CPU ms per task by process (API, engine process,
#: workers, PostgreSQL): one single-round run each on d9778068 at load 1.3-3.1 (7 December),
#: and the first of two on d050897 at load 8-15 (6 December).
SERVER_TASKS = [44, 4_040, 10_010, 100_100]
SERVER = {
    "API process": ([0.45, 0.06, 0.04, 0.03], [1.14, 0.13, 0.12, 0.08]),
    "engine process": ([0.68, 0.12, 0.11, 0.10], [0.91, 0.21, 0.22, 0.19]),
    "workers": ([1.82, 0.09, 0.07, 0.06], [2.95, 0.16, 0.16, 0.12]),
    "PostgreSQL": ([0.45, 0.11, 0.08, 0.12], [1.36, 0.20, 0.17, 0.19]),
}
#: tasks/s of those rounds (d9778068, d050897)
RATES = ([283, 3_889, 4_815, 5_142], [124, 1_530, 1_196, 1_776])


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, (today, before)), colour in zip(LOCAL.items(), ("C0", "C1", "C2"), strict=True):
        xs = [s for s, v in zip(SIZES, today, strict=True) if v is not None]
        left.plot(xs, [v for v in today if v is not None], "o-", color=colour, label=name)
        xb = [s for s, v in zip(SIZES, before, strict=True) if v is not None]
        left.plot(xb, [v for v in before if v is not None], "x--", color=colour, alpha=0.6)
    left.set(xscale="log", xlabel="tasks in the run", ylabel="CPU ms per task")
    left.set_title(
        "Local engine (solid: d9778068, quiet; dashed: d050897 at load 2-10)", fontsize=9
    )
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
        y = 0.013 if i % 2 == 0 else 0.019  # neighbours' labels one above the other
        right.annotate(f"{a:,}/{b:,} tasks/s", (x, y), fontsize=7, ha="center")
    right.set(xscale="log", yscale="log", xlabel="tasks in the round", ylabel="CPU ms per task")
    right.set_title(
        "Server on PostgreSQL (solid: d9778068, load 1-3; dashed: d050897, load 8-15)", fontsize=9
    )
    right.set_ylim(0.01, 5)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("scaling.png"), dpi=110)


if __name__ == "__main__":
    main()
