"""The routes a running server answers most are tried first, and moving them there changes
no answer: no other route of the API could take one of their requests."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Match

from airfoil.server._route_order import hot_first, overlaps

pytestmark = pytest.mark.unit


def _router(*routes: tuple[str, str]) -> APIRouter:
    r = APIRouter()
    for method, path in routes:
        r.add_api_route(path, lambda: None, methods=[method])
    return r


def _route(r: APIRouter, method: str, path: str) -> APIRoute:
    return next(x for x in r.routes if isinstance(x, APIRoute) and x.path == path)


def test_two_routes_overlap_where_one_request_could_match_both() -> None:
    r = _router(
        ("GET", "/p/{project}/executions/{eid}"),
        ("GET", "/p/{project}/executions/search"),
        ("POST", "/p/{project}/executions/search"),
        ("GET", "/p/{project}/executions"),
        ("GET", "/p/{project}/files/{rest:path}"),
        ("GET", "/p/{project}/runs/v{version}"),
        ("GET", "/p/{project}/runs/latest"),
    )
    one = _route(r, "GET", "/p/{project}/executions/{eid}")
    assert overlaps(one, _route(r, "GET", "/p/{project}/executions/search"))
    assert not overlaps(one, _route(r, "GET", "/p/{project}/executions"))  # segments
    assert not overlaps(  # methods
        _route(r, "GET", "/p/{project}/executions/search"), r.routes[2]
    )
    # a path parameter may span segments: taken as overlapping anything
    assert overlaps(_route(r, "GET", "/p/{project}/files/{rest:path}"), one)
    # a parameter inside a segment matches any other segment
    assert overlaps(
        _route(r, "GET", "/p/{project}/runs/v{version}"),
        _route(r, "GET", "/p/{project}/runs/latest"),
    )


def test_hot_first_moves_a_route_only_past_routes_that_cannot_take_its_requests() -> None:
    r = _router(
        ("GET", "/p/{project}"),
        ("GET", "/p/{project}/executions/search"),
        ("GET", "/p/{project}/executions/{eid}"),
        ("GET", "/p/{project}/executions/{eid}/events"),
    )
    left = hot_first(
        r,
        [
            ("GET", "/p/{project}/executions/{eid}/events"),
            ("GET", "/p/{project}/executions/{eid}"),  # "search" before it: stays
            ("GET", "/nowhere"),
        ],
    )
    assert left == [("GET", "/p/{project}/executions/{eid}"), ("GET", "/nowhere")]
    assert [x.path for x in r.routes if isinstance(x, APIRoute)] == [
        "/p/{project}/executions/{eid}/events",
        "/p/{project}",
        "/p/{project}/executions/search",
        "/p/{project}/executions/{eid}",
    ]
    # each request still goes where it went: "search" is not taken as an execution id
    scope = {"type": "http", "method": "GET", "path": "/p/a/executions/search"}
    first = next(x for x in r.routes if x.matches(dict(scope))[0] == Match.FULL)
    assert isinstance(first, APIRoute) and first.path == "/p/{project}/executions/search"


def test_the_apis_hot_routes_come_first_and_no_other_route_could_take_their_requests() -> None:
    from airfoil.server._routes import HOT_ROUTES, NOT_FIRST, router

    assert NOT_FIRST == []
    ahead = [(m, r.path) for r in router.routes[: len(HOT_ROUTES)] for m in r.methods]
    assert ahead == HOT_ROUTES
    hot = router.routes[: len(HOT_ROUTES)]
    for other in router.routes[len(HOT_ROUTES) :]:
        for h in hot:
            assert not overlaps(h, other), (h.path, getattr(other, "path", other))
