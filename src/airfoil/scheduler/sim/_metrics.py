"""What a replay reports, computed from per-job times.

Definitions (``JCT`` = finish - submit; ``run`` = the job's duration when run alone):

- ``avg_jct_s``, ``median_jct_s``, ``p99_jct_s``: job completion time statistics.
- ``avg_wait_s``: mean time a job spent queued, over all its attempts.
- ``bounded_slowdown``: mean of ``max(1, JCT / max(run, 10 s))``.
- ``makespan_s``: from the first submit to the last finish.
- ``utilization``: GPU-seconds allocated (restart penalties included) over
  GPUs x makespan.
- ``span_utilization``: the same, counting only the GPU-seconds allocated between the first
  and the last submit, over GPUs x that span: what the policy kept up with while work kept
  arriving (a policy that cannot serve the offered load stays below it, whatever the tail).
- ``large_gang_avg_wait_s``: ``avg_wait_s`` over jobs of more than 8 GPUs (``None`` if none).
- ``worst_ftf``: finish-time fairness in the spirit of Themis (NSDI'20): a job's
  ``rho = JCT / T_fair``, where ``T_fair = run x max(1, gpus x N / cluster GPUs)`` is its run
  time on a 1/N share of the cluster and ``N`` is the time-averaged number of tenants with
  work in the system during the job's life. A tenant's FTF is the mean ``rho`` of its jobs;
  ``worst_ftf`` is the largest over tenants (1 is ideal; a tenant flooding the cluster sees
  its own queue in it too).
- ``preemptions_per_job``: preemptions over jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = ["Metrics", "compute_metrics", "ftf_ratios"]

LARGE_GANG_GPUS = 8
SLOWDOWN_FLOOR_S = 10.0

FloatArray = npt.NDArray[np.float64]


class Metrics(msgspec.Struct, frozen=True):
    """One policy's figures on one replay (see the module docstring for definitions)."""

    avg_jct_s: float
    median_jct_s: float
    p99_jct_s: float
    avg_wait_s: float
    bounded_slowdown: float
    makespan_s: float
    utilization: float
    large_gang_avg_wait_s: float | None
    worst_ftf: float
    preemptions_per_job: float
    jobs: int
    large_gang_jobs: int
    worst_ftf_tenant: str
    per_tenant_slowdown: dict[str, float]
    per_tenant_ftf: dict[str, float]
    span_utilization: float = 0.0


def compute_metrics(
    *,
    submit: Sequence[float],
    duration: Sequence[float],
    gpus: Sequence[int],
    tenant: Sequence[str],
    finish: Sequence[float],
    wait: Sequence[float],
    preemptions: Sequence[int],
    busy_gpu_seconds: float,
    cluster_gpus: int,
    busy_in_span_gpu_seconds: float | None = None,
) -> Metrics:
    """Summarise a finished replay; every sequence has one entry per job."""
    sub = np.asarray(submit, dtype=np.float64)
    run = np.asarray(duration, dtype=np.float64)
    fin = np.asarray(finish, dtype=np.float64)
    waits = np.asarray(wait, dtype=np.float64)
    size = np.asarray(gpus, dtype=np.int64)
    jct = fin - sub
    slowdown = np.maximum(1.0, jct / np.maximum(run, SLOWDOWN_FLOOR_S))
    makespan = float(fin.max() - sub.min()) if len(fin) else 0.0
    large = size > LARGE_GANG_GPUS
    tenants = np.asarray(tenant)
    rho = _rho(sub, fin, run, size, tenants, cluster_gpus)
    per_slowdown: dict[str, float] = {}
    per_ftf: dict[str, float] = {}
    for name in sorted(set(tenant)):
        mask = tenants == name
        per_slowdown[name] = float(slowdown[mask].mean())
        per_ftf[name] = float(rho[mask].mean())
    worst = max(per_ftf, key=per_ftf.__getitem__) if per_ftf else ""
    capacity = cluster_gpus * makespan
    span_capacity = cluster_gpus * (float(sub.max() - sub.min()) if len(sub) else 0.0)
    in_span = busy_gpu_seconds if busy_in_span_gpu_seconds is None else busy_in_span_gpu_seconds
    return Metrics(
        avg_jct_s=float(jct.mean()),
        median_jct_s=float(np.median(jct)),
        p99_jct_s=float(np.percentile(jct, 99)),
        avg_wait_s=float(waits.mean()),
        bounded_slowdown=float(slowdown.mean()),
        makespan_s=makespan,
        utilization=float(busy_gpu_seconds / capacity) if capacity else 0.0,
        large_gang_avg_wait_s=float(waits[large].mean()) if large.any() else None,
        worst_ftf=per_ftf.get(worst, 0.0),
        preemptions_per_job=float(np.sum(preemptions) / len(jct)),
        jobs=len(jct),
        large_gang_jobs=int(large.sum()),
        worst_ftf_tenant=worst,
        per_tenant_slowdown=per_slowdown,
        per_tenant_ftf=per_ftf,
        span_utilization=float(in_span / span_capacity) if span_capacity else 0.0,
    )


def ftf_ratios(
    *,
    submit: Sequence[float],
    finish: Sequence[float],
    duration: Sequence[float],
    gpus: Sequence[int],
    tenant: Sequence[str],
    cluster_gpus: int,
) -> FloatArray:
    """Each job's ``rho = JCT / T_fair``, the finish-time fairness that a tenant's FTF (and
    ``worst_ftf``) averages (see the module docstring); one entry per job, in order."""
    return _rho(
        np.asarray(submit, dtype=np.float64),
        np.asarray(finish, dtype=np.float64),
        np.asarray(duration, dtype=np.float64),
        np.asarray(gpus, dtype=np.int64),
        np.asarray(tenant),
        cluster_gpus,
    )


def _rho(
    sub: FloatArray,
    fin: FloatArray,
    run: FloatArray,
    size: npt.NDArray[np.int64],
    tenants: npt.NDArray[np.str_],
    cluster_gpus: int,
) -> FloatArray:
    contention = _mean_active_tenants(sub, fin, tenants)
    fair_time = run * np.maximum(1.0, size * contention / max(cluster_gpus, 1))
    rho: FloatArray = (fin - sub) / fair_time
    return rho


def _mean_active_tenants(
    submit: FloatArray, finish: FloatArray, tenants: npt.NDArray[np.str_]
) -> FloatArray:
    """Time-average number of tenants with work in the system over each job's life."""
    times: list[float] = []
    steps: list[int] = []
    for name in np.unique(tenants):
        mask = tenants == name
        starts = submit[mask]
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], finish[mask][order]
        begin, end = starts[0], ends[0]
        for s, e in zip(starts[1:], ends[1:], strict=True):
            if s > end:
                times += [begin, end]
                steps += [1, -1]
                begin, end = s, e
            else:
                end = max(end, e)
        times += [begin, end]
        steps += [1, -1]
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    t = t[order]
    count = np.cumsum(np.asarray(steps)[order])
    # integral of the active-tenant count from t[0] up to each event time
    area = np.concatenate(([0.0], np.cumsum(count[:-1] * np.diff(t))))

    def integral(x: FloatArray) -> FloatArray:
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 1)
        value: FloatArray = area[i] + count[i] * (x - t[i])
        return value

    life = np.maximum(finish - submit, 1e-9)
    mean: FloatArray = np.maximum((integral(finish) - integral(submit)) / life, 1.0)
    return mean
