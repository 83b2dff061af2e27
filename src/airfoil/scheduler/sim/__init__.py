"""Trace-driven simulator: replays a job trace through any policy (see docs/scheduling.md).

The replay uses the very :class:`~airfoil.scheduler.SchedulerState` and policies the engine
uses; only the clock and the executor are simulated. numpy is needed for the metrics and
matplotlib (imported only when plotting) for :func:`plot_jct_cdf` and :func:`plot_sweep`.
"""

from __future__ import annotations

from airfoil.scheduler.sim._compare import (
    SUMMARY_KEYS,
    compare,
    plot_jct_cdf,
    summary,
    table_rows,
)
from airfoil.scheduler.sim._engine import (
    DecisionObserver,
    Progress,
    SimConfig,
    SimResult,
    build_items,
    scaled_submits,
    simulate,
)
from airfoil.scheduler.sim._metrics import Metrics, compute_metrics, ftf_ratios
from airfoil.scheduler.sim._sweep import (
    BASELINES,
    KEEPS_UP,
    RATIO_KEYS,
    Sweep,
    plot_sweep,
    sweep,
    sweep_report,
)
from airfoil.scheduler.sim._trace import Trace, TraceJob, job_to_item, load_trace, parse_nodes

__all__ = [
    "BASELINES",
    "KEEPS_UP",
    "RATIO_KEYS",
    "SUMMARY_KEYS",
    "DecisionObserver",
    "Metrics",
    "Progress",
    "SimConfig",
    "SimResult",
    "Sweep",
    "Trace",
    "TraceJob",
    "build_items",
    "compare",
    "compute_metrics",
    "ftf_ratios",
    "job_to_item",
    "load_trace",
    "parse_nodes",
    "plot_jct_cdf",
    "plot_sweep",
    "scaled_submits",
    "simulate",
    "summary",
    "sweep",
    "sweep_report",
    "table_rows",
]
