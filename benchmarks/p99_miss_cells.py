"""Are the held-out p99 misses backfill's good luck, the window's end, or ``airfoil``'s own?

For each cell of ``bench_scheduler_goals.py`` given (window, estimate error, seed, load;
by default the ten held-out cells the default misses on the p99), prints every policy's p99
JCT over ``backfill``'s, and the same for ``backfill``, ``las`` and ``airfoil`` when the
window is *continued*: replayed with the jobs that follow it in the trace (``d1-3`` inside
the week, ``d4-7`` at the head of ``rotated``), at the load that keeps the window's own
submit times, the p99 taken over the window's jobs only. If a miss is made by the window's
end (nothing arriving after its last burst), it goes away when the window is continued
(docs/scheduling.md, twenty-sixth session)::

    PYTHONPATH=src python benchmarks/p99_miss_cells.py
    PYTHONPATH=src python benchmarks/p99_miss_cells.py d1-3:0:0:0.5 d4-7:1:2:0.5
"""

from __future__ import annotations

import sys

import numpy as np
from bench_scheduler_goals import trace_path, window_of

from airfoil.scheduler.sim import SimConfig, load_trace, simulate

H = 3600.0
POLICIES = ("fifo", "fifo-skip", "backfill", "fair", "las", "stretch", "airfoil")
CONTINUED = {"d1-3": "week", "d4-7": "rotated"}
"""The trace whose first jobs are the window's, followed by the jobs after it."""
MISSES = (
    ("d1-3", 0.0, 0, 0.5),
    ("d1-3", 0.0, 0, 0.7),
    ("d1-3", 1.0, 0, 0.5),
    ("d1-3", 1.0, 0, 0.7),
    ("d1-3", 1.0, 1, 0.5),
    ("d1-3", 1.0, 2, 0.5),
    ("d4-7", 0.0, 0, 0.5),
    ("d4-7", 1.0, 0, 0.5),
    ("d4-7", 1.0, 1, 0.5),
    ("d4-7", 1.0, 2, 0.5),
)
"""The held-out cells the default misses (twenty-second to twenty-fifth sessions)."""


def main(argv: list[str]) -> None:
    path = trace_path()
    if path is None:
        return
    trace = load_trace(path)
    cells = MISSES
    if argv[1:]:
        parsed = [cell.split(":") for cell in argv[1:]]
        cells = tuple((w, float(e), int(s), float(load)) for w, e, s, load in parsed)
    for window, error, seed, load in cells:
        part = window_of(trace, window)
        config = SimConfig(load=load, estimate_error=error, seed=seed)
        p99 = {p: simulate(part, p, config).metrics.p99_jct_s for p in POLICIES}
        line = p99["backfill"]
        figures = " ".join(f"{p} {p99[p] / line:.3f}" for p in POLICIES)
        cell = f"{window} error {error:g} seed {seed} load {load:g}"
        print(f"{cell}: p99 over backfill's ({line / H:.1f} h):")
        print(f"  {figures}")
        after = CONTINUED.get(window)
        if after is None:
            continue
        whole = window_of(trace, after)
        n = len(part.jobs)
        # the load at which the continued trace keeps the window's own submit times
        density = (whole.gpu_seconds / whole.span) / (part.gpu_seconds / part.span)
        kept = SimConfig(load=load * density, estimate_error=error, seed=seed)
        tail = {
            p: float(np.percentile(simulate(whole, p, kept).jct_s[:n], 99))
            for p in ("backfill", "las", "airfoil")
        }
        cont = " ".join(f"{p} {tail[p] / tail['backfill']:.3f}" for p in tail)
        print(f"  continued by {after!r} (load {load * density:.3f}): {cont}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
