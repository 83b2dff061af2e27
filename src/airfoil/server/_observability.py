"""Observability services: the metric series tasks logged, for one execution or across
runs (``airfoil metrics --remote``, the console's charts)."""

from __future__ import annotations

from airfoil.core.metrics import MetricSeries
from airfoil.server._deps import Deps, get_record
from airfoil.wire import MetricSeriesOut, MetricsOut

__all__ = ["metrics"]


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
