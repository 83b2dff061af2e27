"""The fast lane's checks of a hot route's parameters are the route's own: derived at start
from what the route declares, so a constraint changed on the route changes what the lane
takes, and a parameter the lane cannot read as FastAPI does leaves the route to FastAPI."""

# No ``from __future__ import annotations``: the routes built here read their parameters'
# annotations, which name this module's locals.
import logging
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Header, Query
from fastapi.dependencies.utils import request_params_to_args
from starlette.datastructures import QueryParams

from airfoil.server._fast_lane import HOT_PATHS, FastLane, Lane, hot_lanes
from airfoil.server._routes import ROUTE_ROLES, Deps, Viewer, _ExecId, _Project, router
from airfoil.wire import API_PREFIX

pytestmark = pytest.mark.unit

LIST = "/projects/{project}/executions"
EVENTS = "/projects/{project}/executions/{execution_id}/events"
ROLES = {("GET", p): "viewer" for p in HOT_PATHS}


def _lanes(
    limit_le: int = 500, q_max: int = 200, phase: str = "^(queued|running)$", project: Any = None
) -> dict[str, Lane]:
    """The lanes of a small router with the hot routes' shapes and the given constraints."""
    r = APIRouter()
    project_t = project or _Project

    @r.get(LIST)
    def listing(
        project: project_t,  # type: ignore[valid-type]
        d: Deps,
        _: Viewer,
        limit: Annotated[int, Query(ge=1, le=limit_le)] = 50,
        q: Annotated[str | None, Query(max_length=q_max)] = None,
        phase: Annotated[str | None, Query(pattern=phase)] = None,
        since: Annotated[float | None, Query(ge=0)] = None,
        as_format: Annotated[str | None, Query(alias="as", pattern="^parquet$")] = None,
    ) -> None:
        """A list route."""

    @r.get(EVENTS)
    def events(
        project: _Project, execution_id: _ExecId, d: Deps, _: Viewer, after: int = 0
    ) -> None:
        """An events route (its ``domain`` is its execution's dependency's)."""

    return {lane.route.path: lane for lane in hot_lanes(r.routes, "", ROLES)}


def _args(lane: Lane, query: str, **path: str) -> dict[str, Any] | None:
    return FastLane._args(lane, QueryParams(query), {"project": "p", **path})


def test_the_apps_hot_routes_have_lanes() -> None:
    lanes = hot_lanes(router.routes, API_PREFIX, ROUTE_ROLES)
    assert [lane.route.path for lane in lanes] == [API_PREFIX + p for p in HOT_PATHS]


@pytest.mark.parametrize(
    ("wide", "narrow", "query", "taken"),
    [
        ({"limit_le": 500}, {"limit_le": 100}, "limit=200", {"limit": 200}),
        ({"q_max": 200}, {"q_max": 3}, "q=four", {"q": "four"}),
        ({"phase": "^(queued|running)$"}, {"phase": "^queued$"}, "phase=running", {}),
    ],
)
def test_a_narrowed_constraint_changes_the_lanes_answer(
    wide: dict[str, Any], narrow: dict[str, Any], query: str, taken: dict[str, Any]
) -> None:
    args = _args(_lanes(**wide)[LIST], query)
    assert args is not None and args.items() >= taken.items()
    assert _args(_lanes(**narrow)[LIST], query) is None  # FastAPI answers: its 422


def test_a_parameter_is_read_by_its_alias() -> None:
    lane = _lanes()[LIST]
    assert (_args(lane, "as=parquet") or {}).get("as_format") == "parquet"
    assert (_args(lane, "as_format=parquet") or {}).get("as_format") is None  # ignored
    assert _args(lane, "as=csv") is None


def test_the_path_parameters_are_checked_as_declared() -> None:
    assert _args(_lanes()[LIST], "", project="-bad") is None
    assert _args(_lanes()[LIST], "", project="a" * 100) is not None
    narrow = Annotated[str, _Project.__metadata__[0].__class__(max_length=3)]  # type: ignore[attr-defined]
    assert _args(_lanes(project=narrow)[LIST], "", project="four") is None
    events = _lanes()[EVENTS]  # its execution's dependency declares ``execution_id`` <= 100
    assert _args(events, "", execution_id="x" * 100) == {"project": "p", "after": 0}
    assert _args(events, "", execution_id="x" * 101) is None
    assert _args(events, "domain=" + "d" * 51, execution_id="x") is None


@pytest.mark.parametrize(
    "query",
    [
        "", "limit=1", "limit=0", "limit=500", "limit=501", "limit=05", "limit=%205",
        "limit=1_0", "limit=5.0", "limit=5.5", "limit=abc", "limit=", "limit=2&limit=3",
        "offset=10000001", "phase=succeeded", "phase=succeeded%0A", "phase=", "q=", "q=x",
        "since=0", "since=1e11", "since=1e12", "since=nan", "since=-0", "until=inf",
        "domain=" + "d" * 50, "domain=" + "d" * 51, "workflow=w&unknown=1",
    ],
)  # fmt: skip
def test_the_lane_reads_a_query_as_fastapi_does(query: str) -> None:
    """The app's list route: the lane takes what FastAPI's validation accepts, as the same
    values, and nothing it refuses."""
    lane = next(
        lane
        for lane in hot_lanes(router.routes, API_PREFIX, ROUTE_ROLES)
        if lane.route.path == API_PREFIX + LIST
    )
    dependant = lane.route.dependant
    values, errors = request_params_to_args(dependant.query_params, QueryParams(query))
    args = _args(lane, query)
    if errors:
        assert args is None, errors
    else:
        assert args == {"project": "p", **values}


def test_a_parameter_the_lane_cannot_read_leaves_its_route_to_fastapi(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = APIRouter()

    @r.get(LIST)
    def listing(project: _Project, d: Deps, _: Viewer, tag: Annotated[list[str], Query()]) -> None:
        """A list route with a repeated query parameter."""

    @r.get(EVENTS)
    def events(project: _Project, d: Deps, _: Viewer, x_trace: Annotated[str, Header()]) -> None:
        """An events route with a header."""

    with caplog.at_level(logging.WARNING, "airfoil.server._fast_lane"):
        assert hot_lanes(r.routes, "", ROLES) == []
    assert "GET /projects/{project}/executions to FastAPI" in caplog.text
    assert "header x_trace" in caplog.text.replace("x-trace", "x_trace")
