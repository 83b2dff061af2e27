"""Thin routes of ``/api/v1`` for observability (issue 15): metric series of executions,
failure groups of a project, two executions compared, task history and anomalies.

Kept apart from :mod:`airfoil.server._routes` (its own router, included by the app), with
the same roles table and dependencies.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from airfoil.core.reports import REPORT_DAMAGE_HEADER
from airfoil.server import _experiments as exps
from airfoil.server import _history as hist
from airfoil.server import _observability as obs
from airfoil.server._routes import (
    _ERRORS,
    Deps,
    Viewer,
    _ExecId,
    _NodeId,
    _Project,
    route_on,
)
from airfoil.store._log_search import MAX_RUNS as MAX_SEARCHED
from airfoil.store._task_history import MAX_RUNS
from airfoil.wire import (
    API_PREFIX,
    ComparisonOut,
    FailureGroupList,
    FailureList,
    MetricsOut,
    RunsTableOut,
)
from airfoil.wire._history import AnomalyList, LogSearchOut, TaskNameList, TaskStatsOut

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)
_route = route_on(router)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/metrics",
    "viewer",
    response_model=MetricsOut,
)
def metrics(
    project: _Project,
    execution_id: _ExecId,
    d: Deps,
    _: Viewer,
    node: Annotated[str | None, Query(max_length=1000)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> MetricsOut:
    """The metric time series the execution's tasks logged (``log_metric``, ``count``), per
    attempt: of one node and one metric name if given."""
    return obs.metrics(d, project, execution_id, node, name)


#: A report is the task's own HTML: served sandboxed (no same-origin access to the API even
#: when opened directly), as the console's iframe shows it.
#: What a damage text keeps as it is in its header (printable ASCII but ``%``).
_HEADER_SAFE = " !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"
_REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; img-src data:; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/nodes/{node_id}/report",
    "viewer",
    response_class=HTMLResponse,
    responses={
        200: {
            "content": {"text/html": {}},
            "description": "the report's HTML page",
            "headers": {
                "X-Airfoil-Attempt": {
                    "description": "the attempt that wrote the report",
                    "schema": {"type": "integer"},
                },
                REPORT_DAMAGE_HEADER: {
                    "description": "only when part of the stored report could not be read "
                    "(its blob is damaged or was changed by hand): what, percent-encoded; "
                    "the readable part is the page, the rest shown as U+FFFD",
                    "schema": {"type": "string"},
                },
            },
        }
    },
)
def node_report(
    project: _Project,
    execution_id: _ExecId,
    node_id: _NodeId,
    d: Deps,
    _: Viewer,
    whole: Annotated[
        bool,
        Query(
            description="the stored bytes as they are, streamed, whatever the size (no "
            "damage header: the reader names what is not UTF-8; `airfoil report --remote`)"
        ),
    ] = False,
) -> Response:
    """The report the node's task attached (``af.current_context().report``), of its newest
    attempt that wrote one, as one HTML page; its attempt in ``X-Airfoil-Attempt`` and, where
    part of it could not be read, the damage in ``X-Airfoil-Damage`` (as ``airfoil report``
    names it locally). A page holds at most 32 MiB: a bigger report is a 422 ``too_large``
    naming its size; ``?whole=true`` streams it whole."""
    if whole:
        attempt, pieces = obs.report_whole(d, project, execution_id, node_id)
        headers = {"X-Airfoil-Attempt": str(attempt), "Content-Security-Policy": _REPORT_CSP}
        return StreamingResponse(pieces, media_type="text/html; charset=utf-8", headers=headers)
    rep = obs.report(d, project, execution_id, node_id)
    headers = {"X-Airfoil-Attempt": str(rep.attempt), "Content-Security-Policy": _REPORT_CSP}
    if rep.damage is not None:
        headers[REPORT_DAMAGE_HEADER] = quote(rep.damage, safe=_HEADER_SAFE)
    return HTMLResponse(rep.html, headers=headers)


_Since = Annotated[
    float | None, Query(ge=0, description="only attempts ended at or after (epoch s)")
]


@_route("GET", "/projects/{project}/failures", "viewer", response_model=FailureGroupList)
def failure_groups(
    project: _Project,
    d: Deps,
    _: Viewer,
    since: _Since = None,
    task: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FailureGroupList:
    """Failed attempts across the project's runs grouped by signature (exception type,
    normalised message, top user frame), most frequent first, each with its counts, first
    and last seen, tasks and versions, and the latest attempt as an example."""
    return obs.failure_groups(d, project, since, task, limit)


@_route("GET", "/projects/{project}/failures/{signature}", "viewer", response_model=FailureList)
def failures(
    project: _Project,
    signature: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    d: Deps,
    _: Viewer,
    since: _Since = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FailureList:
    """The failed attempts of one group, newest first (drill-down into the runs)."""
    return obs.failures(d, project, signature, since, limit)


@_route("GET", "/projects/{project}/compare", "viewer", response_model=ComparisonOut)
def compare(
    project: _Project,
    d: Deps,
    _: Viewer,
    a: Annotated[str, Query(max_length=100)],
    b: Annotated[str, Query(max_length=100)],
    domain_a: Annotated[str | None, Query(max_length=50)] = None,
    domain_b: Annotated[str | None, Query(max_length=50)] = None,
) -> ComparisonOut:
    """Executions ``a`` and ``b`` side by side: inputs, outputs, each node's phase, cache
    status and duration, and which tasks' code versions changed, with the source diff.

    Each is its name in the project or its id; ``domain_a`` / ``domain_b`` pick the domain of
    a name the project uses in several (without it such a name is a 409 naming them)."""
    return obs.compare(d, project, a, b, domain_a, domain_b)


@_route("GET", "/projects/{project}/workflows/{name}/runs", "viewer", response_model=RunsTableOut)
def workflow_runs(
    project: _Project,
    name: Annotated[str, Path(max_length=300)],
    d: Deps,
    _: Viewer,
    last: Annotated[int, Query(ge=1, le=exps.MAX_RUNS)] = 50,
    metric: Annotated[list[str] | None, Query(max_length=50)] = None,
    input: Annotated[list[str] | None, Query(max_length=50)] = None,
    sort: Annotated[str, Query(max_length=300)] = "-started",
    phase: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    where: Annotated[list[str] | None, Query(max_length=20)] = None,
    domain: Annotated[str | None, Query(max_length=50)] = None,
) -> RunsTableOut:
    """The experiment table: the newest ``last`` runs of workflow ``name`` (in ``phase`` if
    given) with their inputs (``input``: only these) and the summary of each metric they
    logged (``metric``: only these) over each run's nodes and attempts -- last, min, max
    -- sorted by ``sort`` (``started``, ``duration``, ``phase``, ``id``, an input, or
    ``METRIC:last|min|max``; ``-`` first for descending; runs without the value last).

    Paging: the page starts ``offset`` runs from the newest; ``next_offset`` is the next
    page's. ``where`` keeps the runs passing every filter ``KEY OP VALUE`` (``loss:min<0.3``,
    ``lr=0.1``, ``phase!=failed``), reading older runs until ``last`` pass (at most 50,000
    runs per page: ``next_offset`` continues).

    Every domain's runs are listed, each row with its ``domain`` (a name is unique within
    its project and domain only: ``id`` with ``?domain=`` opens the row's run); ``domain``
    lists that domain's only."""
    return exps.runs(
        d.meta,
        project,
        name,
        last=last,
        metrics=metric,
        inputs=input,
        sort=sort,
        phase=phase,
        offset=offset,
        where=where,
        domain=domain,
    )


@_route("GET", "/projects/{project}/tasks", "viewer", response_model=TaskNameList)
def task_names(
    project: _Project,
    d: Deps,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> TaskNameList:
    """The tasks of the project with recorded runs (every version; how many failed), the
    one that ran last first: the console's list of task histories."""
    return hist.task_names(d, project, limit)


@_route("GET", "/projects/{project}/tasks/{task}/stats", "viewer", response_model=TaskStatsOut)
def task_stats(
    project: _Project,
    task: Annotated[str, Path(max_length=300)],
    d: Deps,
    _: Viewer,
    version: Annotated[str | None, Query(max_length=300)] = None,
    last: Annotated[int | None, Query(ge=1, le=MAX_RUNS)] = None,
) -> TaskStatsOut:
    """The history of a task version (its newest by default): its latest ``last``
    successful runs (default: the server's ``AIRFOIL_HISTORY_RUNS``, 100) with each one's
    duration and metrics' final values, their summaries (count, mean, std, p50, p95), and
    every version of the task with runs."""
    return hist.task_stats(d, project, task, version, last)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/anomalies",
    "viewer",
    response_model=AnomalyList,
)
def anomalies(
    project: _Project,
    execution_id: _ExecId,
    d: Deps,
    _: Viewer,
    k: Annotated[float | None, Query(gt=0, le=1e6)] = None,
    min_history: Annotated[int | None, Query(ge=2, le=MAX_RUNS)] = None,
    last: Annotated[int | None, Query(ge=1, le=MAX_RUNS)] = None,
) -> AnomalyList:
    """The execution's successful attempts whose duration or a metric's final value is
    beyond ``k`` standard deviations from their task version's history of the latest
    ``last`` runs, given at least ``min_history`` of them (defaults: the server's
    ``AIRFOIL_ANOMALY_K`` 3, ``AIRFOIL_ANOMALY_MIN_HISTORY`` 10, ``AIRFOIL_HISTORY_RUNS`` 100)."""
    return hist.anomalies(d, project, execution_id, k=k, min_history=min_history, last=last)


@_route("GET", "/projects/{project}/logs/search", "viewer", response_model=LogSearchOut)
def search_logs(
    project: _Project,
    d: Deps,
    _: Viewer,
    text: Annotated[str, Query(min_length=1, max_length=500)],
    since: _Since = None,
    runs: Annotated[int, Query(ge=1, le=MAX_SEARCHED)] = 200,
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCHED)] = 100,
    level: Annotated[str | None, Query(max_length=20)] = None,
) -> LogSearchOut:
    """Lines of the project's task logs containing ``text`` (case-insensitive), of entries
    at ``level`` or above if given (``OUT`` ranks as INFO, ``ERR`` as WARNING): the logs of
    at most ``runs`` newest executions created at or after ``since`` are read, newest first,
    until ``limit`` lines match; ``complete`` is false when a bound stopped the search."""
    return hist.search_logs(d, project, text, since, runs, limit, level)
