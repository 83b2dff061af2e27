"""Observability services: the metric series tasks logged, for one execution or across
runs (``airfoil metrics --remote``, the console's charts), and failed attempts grouped by
signature (``airfoil failures --remote``, the console's failures page)."""

from __future__ import annotations

from airfoil.core.failures import FailureGroup, FailureRecord
from airfoil.core.metrics import MetricSeries
from airfoil.server._deps import Deps, get_record
from airfoil.wire import (
    FailureGroupList,
    FailureGroupOut,
    FailureList,
    FailureOut,
    MetricSeriesOut,
    MetricsOut,
)

__all__ = ["failure_groups", "failures", "metrics"]


def _out(s: MetricSeries) -> MetricSeriesOut:
    return MetricSeriesOut(
        node_id=s.node_id,
        attempt=s.attempt,
        task=s.task,
        name=s.name,
        kind=s.kind,
        steps=s.steps,
        values=s.values,
        times=s.times,
    )


def metrics(
    d: Deps, project: str, execution_id: str, node_id: str | None, name: str | None
) -> MetricsOut:
    """The metric series of an execution of ``project`` (of one node / name if given).

    Raises:
        NotFoundError: no such execution in the project, or no such node.
    """
    record = get_record(d, project, execution_id)
    series = d.meta.metric_series(execution_id, node_id, name)
    if node_id is not None and not series:
        d.meta.get_node(execution_id, node_id)  # NotFoundError for an id that is no node
    return MetricsOut(
        execution_id=execution_id,
        workflow=record.workflow,
        items=[_out(s) for s in series],
    )


def _failure(f: FailureRecord) -> FailureOut:
    return FailureOut(
        execution_id=f.execution_id,
        node_id=f.node_id,
        attempt=f.attempt,
        task=f.task,
        version=f.version,
        at=f.at,
        kind=f.kind,
        type=f.type,
        message=f.message,
        traceback=f.traceback,
    )


def _group(g: FailureGroup) -> FailureGroupOut:
    return FailureGroupOut(
        signature=g.signature,
        type=g.type,
        pattern=g.pattern,
        frame=g.frame,
        count=g.count,
        executions=g.executions,
        first_seen=g.first_seen,
        last_seen=g.last_seen,
        tasks=g.tasks,
        example=_failure(g.example),
    )


def failure_groups(
    d: Deps, project: str, since: float | None, task: str | None, limit: int
) -> FailureGroupList:
    """The project's failed attempts grouped by signature (grouped by the store, in SQL)."""
    groups = d.meta.failure_groups(project, since=since, task=task, limit=limit)
    return FailureGroupList(items=[_group(g) for g in groups])


def failures(d: Deps, project: str, signature: str, since: float | None, limit: int) -> FailureList:
    """The failed attempts of one group, newest first."""
    found = d.meta.failures(project, signature, since=since, limit=limit)
    return FailureList(signature=signature, items=[_failure(f) for f in found])
