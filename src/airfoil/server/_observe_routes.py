"""Thin routes of ``/api/v1`` for observability (issue 15): metric series of executions.

Kept apart from :mod:`airfoil.server._routes` (its own router, included by the app), with
the same roles table and dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from airfoil.server import _observability as obs
from airfoil.server._routes import _ERRORS, ROUTE_ROLES, Deps, Viewer, _ExecId, _Project
from airfoil.wire import API_PREFIX, MetricsOut

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)


def _route(method: str, path: str, role: str, **kwargs: Any) -> Callable[[Any], Any]:
    ROUTE_ROLES[(method, API_PREFIX + path)] = role
    return router.api_route(path, methods=[method], **kwargs)


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
