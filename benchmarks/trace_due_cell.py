"""Trace one cell of ``bench_scheduler_goals.py``: who is worst served, and behind what.

Replays ``airfoil`` (with ``--set`` settings, as the goals bench takes them) and ``las`` on
one window, estimate error 1.0 (2x), one seed and one load, recording at every decision the
GPUs held by work started as due (gangs and single workers apart), by other work, and the
GPUs waiting. Prints the worst tenant by finish-time fairness under each, its worst jobs
(sizes, run times, waits, and what held the cluster while they waited), the large gangs
around that time, and who got the work started as due single workers then
(docs/scheduling.md, twenty-first session)::

    PYTHONPATH=src python benchmarks/trace_due_cell.py boot20 2 0.7
    PYTHONPATH=src python benchmarks/trace_due_cell.py boot20 1 1.0 --set due_gang_hours=none
"""

from __future__ import annotations

import argparse
import bisect
import collections
import sys
from pathlib import Path

import numpy as np
from bench_scheduler_goals import add_setting_option, policy_of, trace_path, window_of

from airfoil.scheduler import Policy, SchedulerState, get_policy
from airfoil.scheduler.sim import (
    SimConfig,
    Trace,
    ftf_ratios,
    load_trace,
    parse_nodes,
    scaled_submits,
    simulate,
)

H = 3600.0


class _Traced:
    """One replay of ``trace``, recording what runs after each decision (the simulator's
    ``observe`` hook) and how each start was made."""

    def __init__(self, trace: Trace, policy: Policy, config: SimConfig) -> None:
        self.trace = trace
        self.cluster_gpus = sum(node.capacity.gpu for node in parse_nodes(config.nodes))
        self.index = {job.id: j for j, job in enumerate(trace.jobs)}
        # (time, due gang GPUs, due single GPUs, other GPUs, free GPUs, waiting GPUs)
        self.snaps: list[tuple[float, int, int, int, int, int]] = []
        self.starts: dict[int, list[tuple[float, bool]]] = {}  # job -> (time, as due)
        result = simulate(trace, policy, config, observe=self._observe)
        self.metrics = result.metrics
        self.submits = scaled_submits(trace, self.cluster_gpus, config.load)
        self.finish = [s + jct for s, jct in zip(self.submits, result.jct_s, strict=True)]

    def _observe(self, now: float, state: SchedulerState) -> None:
        due_gang = due_single = other = 0
        for rid, run in state.running.items():
            gpus = run.entry.workers * run.entry.demand[2]
            if run.preemptible:
                other += gpus
            elif run.entry.workers > 1:
                due_gang += gpus
            else:
                due_single += gpus
            if run.start == now:
                self.starts.setdefault(self.index[rid], []).append((now, not run.preemptible))
        waiting = sum(e.workers * e.demand[2] for e in state.waiting.values())
        free = self.cluster_gpus - due_gang - due_single - other
        self.snaps.append((now, due_gang, due_single, other, free, waiting))


def _rho(replay: _Traced) -> np.ndarray:
    """Each job's JCT over its fair time (as ``compute_metrics`` counts it)."""
    jobs = replay.trace.jobs
    return ftf_ratios(
        submit=replay.submits,
        finish=replay.finish,
        duration=[j.duration for j in jobs],
        gpus=[j.gpus for j in jobs],
        tenant=[j.tenant for j in jobs],
        cluster_gpus=replay.cluster_gpus,
    )


def _held_while_waiting(replay: _Traced, j: int) -> np.ndarray:
    """Time-weighted mean of the snapshot figures over job ``j``'s first wait."""
    first = replay.starts.get(j)
    if not first:
        return np.zeros(5)
    lo, hi = replay.submits[j], first[0][0]
    times = [s[0] for s in replay.snaps]
    acc, total = np.zeros(5), 0.0
    i = max(bisect.bisect_right(times, lo) - 1, 0)
    while i < len(times) and times[i] < hi:
        end = min(hi, times[i + 1] if i + 1 < len(times) else hi)
        span = end - max(lo, times[i])
        if span > 0:
            acc += span * np.array(replay.snaps[i][1:])
            total += span
        i += 1
    return acc / total if total else acc


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="trace one goals cell")
    parser.add_argument("window")
    parser.add_argument("seed", type=int)
    parser.add_argument("load", type=float)
    add_setting_option(parser)
    args = parser.parse_args(argv[1:])
    path = trace_path()
    if path is None:
        return
    trace = window_of(load_trace(path), args.window)
    config = SimConfig(load=args.load, estimate_error=1.0, seed=args.seed)
    policy = policy_of(args.settings)
    air = _Traced(trace, policy, config)
    las = _Traced(trace, get_policy("las"), config)
    ma, ml = air.metrics, las.metrics
    print(f"policy: {policy}")
    print(
        f"worst ftf: airfoil {ma.worst_ftf_tenant} {ma.worst_ftf:.2f}, "
        f"las {ml.worst_ftf_tenant} {ml.worst_ftf:.2f}; "
        f"of the goal {ma.worst_ftf / (2 * ml.worst_ftf):.3f}; "
        f"mean jct over las's {ma.avg_jct_s / ml.avg_jct_s:.3f}"
    )
    tenant = ma.worst_ftf_tenant
    mine = [j for j, job in enumerate(trace.jobs) if job.tenant == tenant]
    sizes = collections.Counter(trace.jobs[j].gpus for j in mine)
    print(f"tenant {tenant}: {len(mine)} jobs, by GPUs {dict(sizes)}; ftf under las ", end="")
    print(f"{ml.per_tenant_ftf[tenant]:.2f}")
    ra, rl = _rho(air), _rho(las)
    worst = sorted(mine, key=lambda j: ra[j], reverse=True)[:8]
    for j in worst:
        job, held = trace.jobs[j], _held_while_waiting(air, j)
        print(
            f"  job {job.id}: {job.gpus} GPUs, runs {job.duration / H:.2f} h, "
            f"JCT {(air.finish[j] - air.submits[j]) / H:.2f} h (las "
            f"{(las.finish[j] - las.submits[j]) / H:.2f} h), rho {ra[j]:.0f} / {rl[j]:.1f}; "
            f"while it waited: due gangs {held[0]:.0f}, due singles {held[1]:.0f}, "
            f"other {held[2]:.0f}, free {held[3]:.0f}, waiting {held[4]:.0f} GPUs"
        )
    lo = min(air.submits[j] for j in worst)
    hi = max(air.finish[j] for j in worst)
    print(f"their wait: {lo / H:.1f} h to {hi / H:.1f} h; gangs around it:")
    for j, job in enumerate(trace.jobs):
        if job.gpus > 8 and air.finish[j] > lo - 48 * H and air.submits[j] < hi:
            started = [round(t / H, 1) for t, _ in air.starts.get(j, [])]
            print(
                f"  gang {job.id} ({job.gpus} GPUs, tenant {job.tenant}): submitted "
                f"{air.submits[j] / H:.1f} h, started {started}, ended {air.finish[j] / H:.1f} h, "
                f"ran {job.duration / H:.1f} h; las ended it at {las.finish[j] / H:.1f} h"
            )
    gpu_h: collections.Counter[str] = collections.Counter()
    for j, starts in air.starts.items():
        job = trace.jobs[j]
        for t, due in starts:
            if due and job.gpus <= 8 and lo <= t <= hi:
                gpu_h[job.tenant] += job.gpus * job.duration / H
    print(
        f"work started as due singles then: {sum(gpu_h.values()):.0f} GPU-h; by tenant "
        + ", ".join(f"{t} {v:.0f}" for t, v in gpu_h.most_common(5))
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main(sys.argv)
