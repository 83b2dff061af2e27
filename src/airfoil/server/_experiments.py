"""The experiment-tracking service: N runs of one workflow as a table of their inputs and
chosen metrics (``airfoil runs``, ``GET /projects/P/workflows/W/runs``, the console's Runs
page). Shared by the server and the local CLI (which passes no project).

Cost: one listing query for the runs (the newest ``last``), one query per 500 runs for the
metric summaries (columns of ``metric_series``: no series is decoded), then the pure
:func:`~airfoil.core.experiments.runs_table`.
"""

from __future__ import annotations

from collections.abc import Sequence

from airfoil.core.errors import InvalidInputError
from airfoil.core.experiments import MetricSummary, RunsTable, runs_table
from airfoil.core.phases import ExecutionPhase
from airfoil.store.base import MetaStore
from airfoil.wire import MetricSummaryOut, RunRowOut, RunsTableOut

__all__ = ["MAX_RUNS", "runs", "runs_out"]

#: The most runs one table lists.
MAX_RUNS = 5_000


def _summary(m: MetricSummary) -> MetricSummaryOut:
    return MetricSummaryOut(
        name=m.name, last=m.last, min=m.min, max=m.max, points=m.points, series=m.series
    )


def runs_out(t: RunsTable) -> RunsTableOut:
    """The wire form of a runs table."""
    return RunsTableOut(
        workflow=t.workflow,
        inputs=t.inputs,
        metrics=t.metrics,
        available_metrics=t.available_metrics,
        sort=t.sort,
        rows=[
            RunRowOut(
                id=r.id,
                phase=r.phase,
                created_at=r.created_at,
                started_at=r.started_at,
                ended_at=r.ended_at,
                duration=r.duration,
                inputs={k: v for k, v in r.inputs.items() if k in t.inputs},
                input_values={k: v for k, v in r.input_values.items() if k in t.inputs},
                metrics={k: _summary(v) for k, v in r.metrics.items()},
            )
            for r in t.rows
        ],
    )


def runs(
    meta: MetaStore,
    project: str | None,
    workflow: str,
    *,
    last: int = 50,
    metrics: Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
    sort: str = "-started",
    phase: str | None = None,
) -> RunsTableOut:
    """The newest ``last`` runs of ``workflow`` (of ``project`` if given; in ``phase`` if
    given) with their inputs and metric summaries (every metric they logged, or those named).

    Raises:
        InvalidInputError: ``last`` outside 1..MAX_RUNS, an unknown phase, or an input,
            metric or sort key none of the runs has (the message lists the choices).
    """
    if isinstance(last, bool) or not 1 <= last <= MAX_RUNS:
        raise InvalidInputError(f"--last must be between 1 and {MAX_RUNS}, not {last!r}")
    phases = [p.value for p in ExecutionPhase]
    if phase is not None and phase not in phases:
        raise InvalidInputError(f"unknown phase {phase!r}: use one of {', '.join(phases)}")
    records = meta.list_run_heads(project=project, workflow=workflow, phase=phase, limit=last)
    stats = meta.metric_stats([r.id for r in records], None)
    return runs_out(runs_table(workflow, records, stats, metrics=metrics, inputs=inputs, sort=sort))
