"""Trace-driven simulator: replays a job trace through any policy (see docs/scheduling.md).

The replay uses the very :class:`~airfoil.scheduler.SchedulerState` and policies the engine
uses; only the clock and the executor are simulated. numpy is needed for the metrics and
matplotlib (imported only when plotting) for :func:`plot_jct_cdf`.
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
    Progress,
    SimConfig,
    SimResult,
    build_items,
    scaled_submits,
    simulate,
)
from airfoil.scheduler.sim._metrics import Metrics, compute_metrics
from airfoil.scheduler.sim._trace import Trace, TraceJob, job_to_item, load_trace, parse_nodes

__all__ = [
    "SUMMARY_KEYS",
    "Metrics",
    "Progress",
    "SimConfig",
    "SimResult",
    "Trace",
    "TraceJob",
    "build_items",
    "compare",
    "compute_metrics",
    "job_to_item",
    "load_trace",
    "parse_nodes",
    "plot_jct_cdf",
    "scaled_submits",
    "simulate",
    "summary",
    "table_rows",
]
