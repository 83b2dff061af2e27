"""Comparing policies on one trace: :func:`compare`, a summary table and a CDF plot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from airfoil.scheduler._errors import SimulationError
from airfoil.scheduler._registry import get_policy
from airfoil.scheduler.sim._engine import Progress, SimConfig, SimResult, simulate
from airfoil.scheduler.sim._trace import Trace

__all__ = ["SUMMARY_KEYS", "compare", "plot_jct_cdf", "summary", "table_rows"]

SUMMARY_KEYS = (
    "avg_jct_s",
    "median_jct_s",
    "p99_jct_s",
    "avg_wait_s",
    "bounded_slowdown",
    "makespan_s",
    "utilization",
    "large_gang_avg_wait_s",
    "worst_ftf",
    "preemptions_per_job",
)
"""The figures every policy reports, in this order."""


def compare(
    trace: Trace,
    policies: Sequence[str],
    config: SimConfig | None = None,
    progress: Callable[[str], Progress | None] | None = None,
) -> dict[str, SimResult]:
    """Replay ``trace`` through each policy with the same options.

    Args:
        trace: the jobs.
        policies: policy names; each must be registered.
        config: replay options shared by every policy.
        progress: given a policy name, returns the progress callback for its replay.

    Raises:
        UnknownPolicyError: a name is not a policy (checked before anything runs).
        SimulationError: a bad option, or no policy given.
    """
    if not policies:
        raise SimulationError("give at least one policy to compare")
    for name in policies:
        get_policy(name)
    return {
        name: simulate(trace, name, config, progress(name) if progress else None)
        for name in policies
    }


def summary(result: SimResult) -> dict[str, object]:
    """The report of one replay as plain data: the summary keys first, then the rest."""
    metrics = result.metrics
    out: dict[str, object] = {key: getattr(metrics, key) for key in SUMMARY_KEYS}
    out.update(
        jobs=metrics.jobs,
        span_utilization=metrics.span_utilization,
        large_gang_jobs=metrics.large_gang_jobs,
        worst_ftf_tenant=metrics.worst_ftf_tenant,
        per_tenant_slowdown=metrics.per_tenant_slowdown,
        per_tenant_ftf=metrics.per_tenant_ftf,
    )
    return out


def _number(value: float) -> str:
    """Three significant digits or more: ``1,213``, ``85.3``, ``0.2``."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{_number(seconds / 3600)} h"


def table_rows(results: dict[str, SimResult]) -> tuple[list[str], list[list[str]]]:
    """Column headers and one formatted row per policy, for a text table."""
    headers = [
        "policy",
        "avg JCT",
        "median JCT",
        "p99 JCT",
        "avg wait",
        "bounded slowdown",
        "makespan",
        "utilisation",
        ">8-GPU wait",
        "worst FTF",
        "preemptions/job",
    ]
    rows = []
    for name, result in results.items():
        m = result.metrics
        rows.append(
            [
                name,
                _hours(m.avg_jct_s),
                _hours(m.median_jct_s),
                _hours(m.p99_jct_s),
                _hours(m.avg_wait_s),
                _number(m.bounded_slowdown),
                _hours(m.makespan_s),
                f"{m.utilization:.1%}",
                _hours(m.large_gang_avg_wait_s),
                _number(m.worst_ftf),
                f"{m.preemptions_per_job:.3f}",
            ]
        )
    return headers, rows


def plot_jct_cdf(results: dict[str, SimResult], path: str | Path, title: str = "") -> Path:
    """Write a PNG with the CDF of job completion time per policy (log time axis).

    matplotlib is imported here, not at module import, and drawn off-screen.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    try:
        for name, result in results.items():
            jct = np.sort(np.asarray(result.jct_s, dtype=np.float64)) / 3600.0
            frac = np.arange(1, len(jct) + 1) / len(jct)
            ax.step(jct, frac, where="post", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("job completion time (hours, log scale)")
        ax.set_ylabel("fraction of jobs")
        ax.set_ylim(0, 1)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        try:
            fig.savefig(out, format="png")
        except OSError as exc:
            raise SimulationError(f"cannot write plot {out}: {exc}") from None
    finally:
        plt.close(fig)
    return out
