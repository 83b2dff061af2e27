"""Could a clairvoyant ``airfoil`` meet "mean <= LAS's" and "p99 <= backfill's" at once?

Issue 11 asks ``airfoil`` for an average JCT at most ``las``'s and a p99 JCT at most
``backfill``'s in every cell; ten held-out cells miss the second (docs/scheduling.md,
twenty-sixth to twenty-eighth sessions). This replays the default ``airfoil`` with an
*oracle*: a set ``P`` of job ids, found from replays (so with knowledge no scheduler has),
whose jobs are protected in one of two ways:

- ``O1`` (never stopped): the jobs of ``P`` are submitted as not interruptible, so neither
  the least-attained-service pass, nor ``defragment``, nor a due gang ever preempts them;
- ``O2`` (served first): the jobs of ``P`` are due at their submit, as gangs are (served
  ahead of the LAS pass, holding the reservation, never preempted once started; within
  ``due_share`` as all due work).

Three kinds of ``P``, each with either protection:

- ``crossing``: start from the jobs whose JCT under the default is above backfill's p99
  (the *line*) while their own run time plus one restart penalty is below it; replay with
  ``P``, add the jobs that cross the line in that replay, and repeat up to ``ROUNDS`` times
  or until no new job crosses (a fixed point). Every round is printed;
- ``band M``: the jobs whose run-time *estimate* (the cell's, errors included) is within
  ``M`` hours under the line (``MARGINS_H``): what a rule that knew the line could pick
  from estimates alone; with estimate errors also ``run band M`` (by the run time itself);
- ``greedy`` (where the default misses a goal of the two): a small ``P`` picked from every
  job that crossed the line in any replay above, one job at a time, the one that most
  lowers the larger of the two ratios, until both are at most 1 (or none lowers it);
  its jobs are printed with their JCTs under the default, ``backfill`` and the oracle.

Each line gives the average JCT over LAS's, the p99 over backfill's, ``|P|``, preemptions
per job, and the other goals as ``bench_scheduler_goals.py`` prints them (``gang``:
the >8-GPU wait over its goal, ``ftf``: worst finish-time fairness over twice LAS's). The
cells: by default the ten held-out miss cells (``p99_miss_cells.MISSES``) and, as a sanity
check, the week at loads 0.5 and 1.0 with exact estimates; or ``WINDOW:ERROR:SEED:LOAD``
arguments::

    PYTHONPATH=src python benchmarks/p99_oracle.py
    PYTHONPATH=src python benchmarks/p99_oracle.py d1-3:0:0:0.5 d4-7:1:2:0.5
    PYTHONPATH=src python benchmarks/p99_oracle.py --protect 1419,1871 d1-3:1:0:0.5

``--protect`` replays only ``O1`` and ``O2`` with the ``P`` given (to try one cell's set in
another).

``O1`` replaces the simulator's ``build_items`` for the length of a replay (the engine has
no per-job setting for it); the baselines come from ``bench_scheduler_goals``' cache.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
from bench_scheduler_goals import Baselines, goal_ratios, policy_of, trace_path, window_of
from p99_miss_cells import MISSES

from airfoil.scheduler import AirfoilPolicy, WorkItem
from airfoil.scheduler.sim import (
    Metrics,
    SimConfig,
    SimResult,
    Trace,
    _engine,
    build_items,
    load_trace,
    parse_nodes,
    simulate,
)

H = 3600.0
ROUNDS = 6
MARGINS_H = (12.0, 24.0)
GREEDY_MAX = 8
SANITY = (("week", 0.0, 0, 0.5), ("week", 0.0, 0, 1.0))
"""The tuning week's cells run as a sanity check (the default meets every goal there)."""


@dataclass(frozen=True, slots=True)
class ServedFirst(AirfoilPolicy):
    """``airfoil`` with the jobs of ``first`` due from their submit, as gangs are (``O2``)."""

    first: frozenset[str] = frozenset()

    def reserve_from(self, item: WorkItem, estimate: float, node_share: float) -> float | None:
        """Due at submit for the jobs of ``first``; as ``airfoil`` otherwise."""
        if item.id in self.first:
            return item.submit_time
        return AirfoilPolicy.reserve_from(self, item, estimate, node_share)


@contextlib.contextmanager
def never_stopped(ids: frozenset[str]) -> Iterator[None]:
    """Replays in this block submit the jobs of ``ids`` as not interruptible (``O1``)."""
    original = _engine.build_items

    def build(trace: Trace, config: SimConfig, nodes: list) -> list[WorkItem]:
        items = original(trace, config, nodes)
        return [
            msgspec.structs.replace(i, interruptible=False) if i.id in ids else i for i in items
        ]

    _engine.build_items = build
    try:
        yield
    finally:
        _engine.build_items = original


def replay(trace: Trace, config: SimConfig, oracle: str, protected: frozenset[str]) -> SimResult:
    """The default ``airfoil`` with ``protected`` under oracle ``O1`` or ``O2``."""
    if oracle == "O2":
        return simulate(trace, ServedFirst(first=protected), config)
    with never_stopped(protected):
        return simulate(trace, policy_of([]), config)


def crossing(trace: Trace, result: SimResult, line: float, penalty: float) -> set[str]:
    """Jobs above ``line`` whose run time (and one restart) is below it."""
    pairs = zip(trace.jobs, result.jct_s, strict=True)
    return {job.id for job, jct in pairs if jct > line and job.duration + penalty < line}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="a clairvoyant airfoil against two goals")
    parser.add_argument("cells", nargs="*", metavar="WINDOW:ERROR:SEED:LOAD")
    parser.add_argument("--protect", metavar="ID,...", help="only replay O1 and O2 with this P")
    args = parser.parse_args(argv[1:])
    path = trace_path()
    if path is None:
        return
    trace = load_trace(path)
    cells = MISSES + SANITY
    if args.cells:
        parsed = [cell.split(":") for cell in args.cells]
        cells = tuple((w, float(e), int(s), float(load)) for w, e, s, load in parsed)
    baselines = Baselines(path, enabled=True)
    print("variant: mean/las p99/backfill |P| preemptions/job gang ftf (goals: <= 1)")
    for window, error, seed, load in cells:
        part = window_of(trace, window)
        if args.protect is None:
            run_cell(part, window, baselines, error, seed, load)
            continue
        config = SimConfig(load=load, estimate_error=error, seed=seed)
        base = baselines.get(part, window, config)
        print(f"{window} error {error:g} seed {seed} load {load:g}")
        protected = frozenset(args.protect.split(","))
        show(base, "default", simulate(part, policy_of([]), config), 0)
        for oracle in ("O1", "O2"):
            show(base, oracle, replay(part, config, oracle, protected), len(protected))


def show(base: dict[str, Metrics], name: str, result: SimResult, size: int) -> None:
    """One line: the two goals, ``|P|``, preemptions per job, the gang and ``ftf`` goals."""
    m = result.metrics
    goals = goal_ratios(m, base)
    print(
        f"  {name:<20} {goals['jct/las']:.3f} {goals['p99']:.3f} {size:4d} "
        f"{m.preemptions_per_job:.3f} {goals['gang']:.3f} {goals['ftf']:.3f}",
        flush=True,
    )


def run_cell(
    part: Trace, window: str, baselines: Baselines, error: float, seed: int, load: float
) -> None:
    """Print the default and every oracle variant in one cell."""
    config = SimConfig(load=load, estimate_error=error, seed=seed)
    base = baselines.get(part, window, config)
    line = base["backfill"].p99_jct_s
    print(f"{window} error {error:g} seed {seed} load {load:g} (line {line / H:.1f} h)")

    def shown(name: str, result: SimResult, size: int) -> set[str]:
        show(base, name, result, size)
        return crossing(part, result, line, config.restart_penalty)

    default = simulate(part, policy_of([]), config)
    start = shown("default", default, 0)
    seen: set[str] = set(start)
    for oracle in ("O1", "O2"):
        protected = frozenset(start)
        for rnd in range(1, ROUNDS + 1):
            result = replay(part, config, oracle, protected)
            new = shown(f"{oracle} crossing r{rnd}", result, len(protected)) - protected
            seen |= new
            if not new:
                break
            protected |= new
    items = build_items(part, config, parse_nodes(config.nodes))
    for margin in MARGINS_H:
        low = line - margin * H
        bands = {
            "band": frozenset(
                i.id for i in items if i.estimate is not None and low <= i.estimate <= line
            ),
            "run band": frozenset(j.id for j in part.jobs if low <= j.duration <= line),
        }
        for kind, band in bands.items():
            if kind == "run band" and not error:
                continue  # the estimates are the run times
            for oracle in ("O1", "O2"):
                name = f"{oracle} {kind} {margin:g} h"
                shown(name, replay(part, config, oracle, band), len(band))
    if max(goal_ratios(default.metrics, base)[g] for g in ("jct/las", "p99")) <= 1:
        return  # both goals met without an oracle
    fcfs = simulate(part, "backfill", config)
    for oracle in ("O1", "O2"):
        chosen = greedy(part, config, oracle, base, sorted(seen))
        result = replay(part, config, oracle, chosen)
        shown(f"{oracle} greedy", result, len(chosen))
        for j, (job, item) in enumerate(zip(part.jobs, items, strict=True)):
            if job.id in chosen:
                print(
                    f"    {job.id}: {job.gpus} GPUs, run {job.duration / H:.1f} h, estimate "
                    f"{(item.estimate or 0.0) / H:.1f} h, submit {item.submit_time / H:.1f} h; "
                    f"JCT default {default.jct_s[j] / H:.1f} h, backfill {fcfs.jct_s[j] / H:.1f}"
                    f" h, oracle {result.jct_s[j] / H:.1f} h"
                )


def greedy(
    trace: Trace, config: SimConfig, oracle: str, base: dict[str, Metrics], candidates: list[str]
) -> frozenset[str]:
    """A small ``P`` from ``candidates``: add, one at a time, the job that most lowers the
    larger of mean/LAS's and p99/backfill's, until both are at most 1 or none lowers it."""

    def score(protected: frozenset[str]) -> float:
        goals = goal_ratios(replay(trace, config, oracle, protected).metrics, base)
        return max(goals["jct/las"], goals["p99"])

    chosen: frozenset[str] = frozenset()
    best = score(chosen)
    while best > 1.0 and len(chosen) < GREEDY_MAX:
        tried = [(score(chosen | {c}), c) for c in candidates if c not in chosen]
        if not tried or min(tried)[0] >= best:
            break
        best, pick = min(tried)
        chosen |= {pick}
    return chosen


if __name__ == "__main__":
    main(sys.argv)
