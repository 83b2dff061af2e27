"""The experiment-tracking service: N runs of one workflow as a table of their inputs and
chosen metrics (``airfoil runs``, ``GET /projects/P/workflows/W/runs``, the console's Runs
page). Shared by the server and the local CLI (which passes no project).

Cost: one listing query for the runs (the newest ``last``), one query per 500 runs for the
metric summaries (columns of ``metric_series``: no series is decoded), then the pure
:func:`~airfoil.core.experiments.runs_table`.

Paging: ``offset`` is a position in the workflow's runs, newest first; a page is the
``last`` runs from there (then sorted), and ``next_offset`` is where the next page starts
(None: no older run). With filters (``where``), runs are read from ``offset`` in chunks of
:data:`CHUNK` and kept when they pass, until ``last`` passed or :data:`MAX_SCAN` runs were
read; ``next_offset`` then continues the scan, so a filter reaches every run page by page.
An offset counts from the newest run *now*: runs started between two pages shift the next
page by as many (a run may show twice, none is skipped).
"""

from __future__ import annotations

from collections.abc import Sequence

from airfoil.core.errors import InvalidInputError
from airfoil.core.experiments import (
    Condition,
    MetricSummary,
    RunsTable,
    SeriesStat,
    filter_runs,
    parse_where,
    runs_table,
)
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import ExecutionRunHead
from airfoil.server._deps import check_domain
from airfoil.store.base import MetaStore
from airfoil.wire import MetricSummaryOut, RunRowOut, RunsTableOut

__all__ = ["CHUNK", "MAX_RUNS", "MAX_SCAN", "runs", "runs_out"]

#: The most runs one table lists.
MAX_RUNS = 5_000
#: Runs read per listing query (and per metric-summary query) when filtering.
CHUNK = 500
#: The most runs one filtered page reads (``next_offset`` continues from there).
MAX_SCAN = 50_000


def _summary(m: MetricSummary) -> MetricSummaryOut:
    return MetricSummaryOut(
        name=m.name, last=m.last, min=m.min, max=m.max, points=m.points, series=m.series
    )


def runs_out(
    t: RunsTable,
    *,
    offset: int = 0,
    next_offset: int | None = None,
    total: int | None = None,
    scanned: int | None = None,
    where: Sequence[str] = (),
) -> RunsTableOut:
    """The wire form of a runs table (with where its page lies)."""
    return RunsTableOut(
        offset=offset,
        next_offset=next_offset,
        total=total,
        scanned=len(t.rows) if scanned is None else scanned,
        where=list(where),
        workflow=t.workflow,
        inputs=t.inputs,
        metrics=t.metrics,
        available_metrics=t.available_metrics,
        sort=t.sort,
        rows=[
            RunRowOut(
                id=r.id,
                domain=r.domain,
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
    offset: int = 0,
    where: Sequence[str] | None = None,
    domain: str | None = None,
) -> RunsTableOut:
    """A page of the runs of ``workflow`` (of ``project`` if given; in ``phase`` and
    ``domain`` if given), each row with its domain:
    the ``last`` newest from ``offset`` (that pass every ``where`` filter), with their
    inputs and metric summaries (every metric they logged, or those named).

    Raises:
        InvalidInputError: ``last`` outside 1..MAX_RUNS, a negative offset, an unknown
            phase or domain, a filter that cannot be read or names nothing these runs have, or an
            input, metric or sort key none of the runs has (the message lists the choices).
    """
    if isinstance(last, bool) or not 1 <= last <= MAX_RUNS:
        raise InvalidInputError(f"--last must be between 1 and {MAX_RUNS}, not {last!r}")
    if isinstance(offset, bool) or offset < 0:
        raise InvalidInputError(f"--offset must be 0 or more, not {offset!r}")
    phases = [p.value for p in ExecutionPhase]
    if phase is not None and phase not in phases:
        raise InvalidInputError(f"unknown phase {phase!r}: use one of {', '.join(phases)}")
    if domain is not None:
        check_domain(domain)
    conditions = [parse_where(w) for w in where or ()]
    total = meta.count_executions(project=project, domain=domain, workflow=workflow, phase=phase)
    if not conditions:
        records = meta.list_run_heads(
            project=project,
            workflow=workflow,
            phase=phase,
            limit=last,
            offset=offset,
            domain=domain,
        )
        stats = meta.metric_stats([r.id for r in records], None)
        end = offset + len(records)
        table = runs_table(workflow, records, stats, metrics=metrics, inputs=inputs, sort=sort)
        return runs_out(
            table,
            offset=offset,
            next_offset=end if end < total else None,
            total=total,
            scanned=len(records),
        )
    kept: list[ExecutionRunHead] = []
    kept_stats: list[SeriesStat] = []
    known: set[str] = set()
    pos = offset
    exhausted = False
    while len(kept) < last and pos - offset < MAX_SCAN:
        size = min(CHUNK, MAX_SCAN - (pos - offset))
        chunk = meta.list_run_heads(
            project=project,
            workflow=workflow,
            phase=phase,
            limit=size,
            offset=pos,
            domain=domain,
        )
        stats = meta.metric_stats([r.id for r in chunk], None)
        passing, names = filter_runs(chunk, stats, conditions)
        known |= names
        ids = set()
        for i in passing:
            kept.append(chunk[i])
            ids.add(chunk[i].id)
            if len(kept) == last:  # the page is full: the next one starts after this run
                pos += i + 1
                break
        else:
            pos += len(chunk)
        kept_stats += [st for st in stats if st.execution_id in ids]
        if len(chunk) < size:
            exhausted = True
            break
    _check_keys(conditions, known, pos > offset)
    table = runs_table(workflow, kept, kept_stats, metrics=metrics, inputs=inputs, sort=sort)
    return runs_out(
        table,
        offset=offset,
        next_offset=None if exhausted or pos >= total else pos,
        total=total,
        scanned=pos - offset,
        where=[c.text for c in conditions],
    )


def _check_keys(conditions: Sequence[Condition], known: set[str], scanned: bool) -> None:
    """A filter on a name no scanned run has (an input, a metric logged) is a typo."""
    own = {"started", "duration", "phase", "id"}
    for c in conditions:
        name, _ = c.names()
        if scanned and c.key not in own and c.key not in known and name not in known:
            raise InvalidInputError(
                f"the filter {c.text!r} names {name!r}, which none of the runs read has: "
                f"use one of {', '.join(sorted(own | known))}"
            )
