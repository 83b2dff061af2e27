"""Issue 11's goals for the ``airfoil`` policy on held-out slices and variants of the trace.

For each window of the Philly week, each load and each estimate-error seed, replays
``fifo``, ``fifo-skip``, ``backfill``, ``fair``, ``las`` and ``airfoil`` and prints
``airfoil``'s figures as fractions of the goal (1.00 or less meets it):

- ``jct/las``: average JCT over LAS's (goal: at most 1);
- ``jct/other``: average JCT over the best of ``fifo-skip``, ``backfill`` and ``fair``;
- ``gang``: average wait of jobs of more than 8 GPUs over ``min(10% of FIFO's, 25% of
  backfill's)``;
- ``ftf``: worst finish-time fairness over twice LAS's;
- ``p99``: p99 JCT over backfill's.

Windows: ``d1-3`` (the first three days: where the settings were tuned), ``d4-7`` (the last
four, held out), ``week``, ``rotated`` (days 4-7 then days 1-3: the same jobs in another
order) and ``thinned`` (a seeded random 80% of the jobs: another mix at the same loads).

Run::

    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py                 # everything
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py d4-7 0,1        # window, seeds
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py week 0 0.0      # exact only

The optional third argument is the estimate error (default: ``0`` with seed 0, and ``1.0``
with each seed).
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import msgspec

from airfoil.scheduler.sim import SimConfig, Trace, load_trace, simulate

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400.0
LOADS = (0.5, 0.7, 0.9, 1.0, 1.2)
BASELINES = ("fifo", "fifo-skip", "backfill", "fair", "las")
WINDOWS = ("d1-3", "d4-7", "week", "rotated", "thinned")


def _window(trace: Trace, name: str) -> Trace:
    jobs = list(trace.jobs)
    if name == "week":
        return trace
    if name == "d1-3":
        picked = [j for j in jobs if j.submit < 3 * DAY]
    elif name == "d4-7":
        picked = [j for j in jobs if j.submit >= 3 * DAY]
    elif name == "rotated":
        late = [j for j in jobs if j.submit >= 3 * DAY]
        early = [j for j in jobs if j.submit < 3 * DAY]
        shift = late[-1].submit - 3 * DAY + 600.0
        picked = [msgspec.structs.replace(j, submit=j.submit - 3 * DAY) for j in late] + [
            msgspec.structs.replace(j, submit=j.submit + shift) for j in early
        ]
    elif name == "thinned":
        rng = random.Random(11)
        picked = [j for j in jobs if rng.random() < 0.8]
    else:
        raise SystemExit(f"unknown window {name!r}; choose from {', '.join(WINDOWS)}")
    t0 = picked[0].submit
    rebased = tuple(msgspec.structs.replace(j, submit=j.submit - t0) for j in picked)
    return Trace(f"{trace.name}[{name}]", rebased)


def _goals(trace: Trace, load: float, error: float, seed: int) -> dict[str, float]:
    config = SimConfig(load=load, estimate_error=error, seed=seed)
    m = {name: simulate(trace, name, config).metrics for name in (*BASELINES, "airfoil")}
    a = m["airfoil"]
    gang_limit = min(
        0.1 * (m["fifo"].large_gang_avg_wait_s or 0.0),
        0.25 * (m["backfill"].large_gang_avg_wait_s or 0.0),
    )
    return {
        "jct/las": a.avg_jct_s / m["las"].avg_jct_s,
        "jct/other": a.avg_jct_s / min(m[n].avg_jct_s for n in ("fifo-skip", "backfill", "fair")),
        "gang": (a.large_gang_avg_wait_s or 0.0) / gang_limit if gang_limit > 0 else 0.0,
        "ftf": a.worst_ftf / (2 * m["las"].worst_ftf),
        "p99": a.p99_jct_s / m["backfill"].p99_jct_s,
    }


def main(argv: list[str]) -> None:
    path = Path(
        os.environ.get("AIRFOIL_TRACE", "") or REPO.parent / "shared" / "data" / "philly_week45.csv"
    )
    if not path.is_file():
        print(f"trace not found at {path}; set AIRFOIL_TRACE")
        return
    trace = load_trace(path)
    windows = argv[1].split(",") if len(argv) > 1 else list(WINDOWS)
    seeds = [int(s) for s in argv[2].split(",")] if len(argv) > 2 else [0, 1, 2]
    errors = [float(argv[3])] if len(argv) > 3 else [0.0, 1.0]
    print("airfoil against issue 11's goals (each figure: 1.00 or less meets the goal)")
    failed = 0
    for window in windows:
        part = _window(trace, window)
        for error in errors:
            for seed in seeds if error else seeds[:1]:
                t0 = time.perf_counter()
                for load in LOADS:
                    goals = _goals(part, load, error, seed)
                    ok = all(v <= 1.0 for v in goals.values())
                    failed += not ok
                    cells = "  ".join(f"{k} {v:5.3f}" for k, v in goals.items())
                    print(
                        f"{'ok ' if ok else 'MISS'} {window:8s} {len(part.jobs):5d} jobs  "
                        f"error {error:g} seed {seed}  load {load:<4g} {cells}",
                        flush=True,
                    )
                print(f"     ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"{failed} cell(s) miss at least one goal")


if __name__ == "__main__":
    main(sys.argv)
