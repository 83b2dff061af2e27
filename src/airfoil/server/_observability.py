"""Observability services: the metric series tasks logged, for one execution or across
runs (``airfoil metrics --remote``, the console's charts), and failed attempts grouped by
signature (``airfoil failures --remote``, the console's failures page)."""

from __future__ import annotations

from collections.abc import Iterator

from airfoil.core.blobs import BlobStore
from airfoil.core.code_versions import load_manifest
from airfoil.core.compare import ColumnStats, Comparison, FrameStats, compare_executions
from airfoil.core.errors import UnreadableRecordError
from airfoil.core.failures import FailureGroup, FailureRecord
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import ExecutionRecord
from airfoil.core.reports import NodeReport, find_report, latest_report, read_chunks
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps, get_head, get_record
from airfoil.store.base import MetaStore
from airfoil.store.naming import ExecutionNames
from airfoil.types import ValueContext
from airfoil.types._frame_stats import frame_stats
from airfoil.wire import (
    ColumnDiffOut,
    ColumnStatsOut,
    ComparisonOut,
    FailureGroupList,
    FailureGroupOut,
    FailureList,
    FailureOut,
    FrameDiffOut,
    FrameStatsOut,
    MetricSeriesOut,
    MetricsOut,
    NodeDiffOut,
    ValueDiffOut,
)

__all__ = [
    "compare",
    "compare_records",
    "comparison_out",
    "failure_groups",
    "failures",
    "metrics",
    "report",
]


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
        execution_name=record.display_name,
        execution_domain=record.domain,
    )


def report(d: Deps, project: str, execution_id: str, node_id: str) -> NodeReport:
    """The report of the newest attempt of a node of ``project`` that wrote one.

    Raises:
        NotFoundError: no such execution or node, or the node has no report.
    """
    get_head(d, project, execution_id)
    node = d.meta.get_node(execution_id, node_id)
    return latest_report(d.blobs, execution_id, node_id, node.attempts)


def report_whole(
    d: Deps, project: str, execution_id: str, node_id: str
) -> tuple[int, Iterator[bytes]]:
    """The attempt and the stored bytes, in pieces, of the report :func:`report` names,
    whatever its size (the blob is opened now: a missing one is NotFoundError here; the
    pieces close it when they end).

    Raises:
        NotFoundError: no such execution or node, or the node has no report.
    """
    get_head(d, project, execution_id)
    node = d.meta.get_node(execution_id, node_id)
    attempt, uri = find_report(d.blobs, execution_id, node_id, node.attempts)
    fh = d.blobs.open_read(uri)

    def pieces() -> Iterator[bytes]:
        with fh:
            yield from read_chunks(fh)

    return attempt, pieces()


def _failure(f: FailureRecord, names: ExecutionNames) -> FailureOut:
    return FailureOut(
        execution_id=f.execution_id,
        execution_name=names.shown(f.execution_id),
        execution_domain=names.domain(f.execution_id),
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


def _group(g: FailureGroup, names: ExecutionNames) -> FailureGroupOut:
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
        example=_failure(g.example, names),
    )


def failure_groups(
    d: Deps, project: str, since: float | None, task: str | None, limit: int
) -> FailureGroupList:
    """The project's failed attempts grouped by signature (grouped by the store, in SQL)."""
    groups = d.meta.failure_groups(project, since=since, task=task, limit=limit)
    names = ExecutionNames(d.meta, project)
    return FailureGroupList(items=[_group(g, names) for g in groups])


def failures(d: Deps, project: str, signature: str, since: float | None, limit: int) -> FailureList:
    """The failed attempts of one group, newest first."""
    found = d.meta.failures(project, signature, since=since, limit=limit)
    names = ExecutionNames(d.meta, project)
    return FailureList(signature=signature, items=[_failure(f, names) for f in found])


def _column(c: ColumnStats | None) -> ColumnStatsOut | None:
    return None if c is None else ColumnStatsOut.model_validate(c, from_attributes=True)


def _frame(f: FrameStats | None) -> FrameStatsOut | None:
    if f is None:
        return None
    return FrameStatsOut(
        rows=f.rows,
        rows_read=f.rows_read,
        columns=[ColumnStatsOut.model_validate(c, from_attributes=True) for c in f.columns],
        error=f.error,
    )


def comparison_out(c: Comparison) -> ComparisonOut:
    """The wire form of a comparison."""
    return ComparisonOut(
        a=c.a,
        b=c.b,
        name_a=c.name_a,
        name_b=c.name_b,
        domain_a=c.domain_a,
        domain_b=c.domain_b,
        workflow_a=c.workflow_a,
        workflow_b=c.workflow_b,
        phase_a=c.phase_a,
        phase_b=c.phase_b,
        duration_a=c.duration_a,
        duration_b=c.duration_b,
        inputs=[ValueDiffOut(name=v.name, a=v.a, b=v.b, same=v.same) for v in c.inputs],
        outputs=[ValueDiffOut(name=v.name, a=v.a, b=v.b, same=v.same) for v in c.outputs],
        nodes=[
            NodeDiffOut(
                node_id=n.node_id,
                task=n.task,
                phase_a=n.phase_a,
                phase_b=n.phase_b,
                cache_a=n.cache_a,
                cache_b=n.cache_b,
                duration_a=n.duration_a,
                duration_b=n.duration_b,
                version_a=n.version_a,
                version_b=n.version_b,
                version_changed=n.version_changed,
                outputs_same=n.outputs_same,
                source_diff=n.source_diff,
            )
            for n in c.nodes
        ],
        frames=[
            FrameDiffOut(
                name=f.name,
                kind=f.kind,
                a=_frame(f.a),
                b=_frame(f.b),
                columns=[
                    ColumnDiffOut(name=x.name, change=x.change, a=_column(x.a), b=_column(x.b))
                    for x in f.columns
                ],
            )
            for f in c.frames
        ],
    )


def _side(d: Deps, project: str, side: str, ref: str, domain: str | None) -> str:
    """The id of one side of a comparison (a name used in several domains is a 409 naming
    that side's parameter)."""
    how = f"?domain_{side}=, --domain-{side}"
    return d.meta.resolve_execution(project, ref, domain, how=how)


def compare(
    d: Deps,
    project: str,
    a: str,
    b: str,
    domain_a: str | None = None,
    domain_b: str | None = None,
) -> ComparisonOut:
    """Two executions of ``project`` side by side (frames with their column statistics):
    each by its name (in ``domain_a`` / ``domain_b`` if given) or its id.

    Raises:
        NotFoundError: either is not an execution of the project (in its domain if given).
        ConflictError: a name is used in several domains of the project and its side's
            domain was not given.
    """
    a, b = _side(d, project, "a", a, domain_a), _side(d, project, "b", b, domain_b)
    return compare_records(d.meta, d.blobs, get_record(d, project, a), get_record(d, project, b))


def compare_records(
    meta: MetaStore, blobs: BlobStore, ra: ExecutionRecord, rb: ExecutionRecord
) -> ComparisonOut:
    """The comparison of two executions' records (the server's and ``airfoil compare``'s): a
    node of either that no longer decodes is left out and named in ``unreadable``."""
    bad: list[UnreadableRecordError] = []
    with ValueContext(blobs) as ctx:
        c = compare_executions(
            ra,
            meta.get_nodes(ra.id, on_unreadable=bad.append),
            rb,
            meta.get_nodes(rb.id, on_unreadable=bad.append),
            lambda version: load_manifest(blobs, version),
            lambda value: frame_stats(value, ctx),
        )
    return comparison_out(c).model_copy(update={"unreadable": cv.unreadable_outs(bad)})
