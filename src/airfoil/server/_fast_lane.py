"""The fast lane: the API's hottest GET routes answered on one hop to the thread pool, past
FastAPI's per-request machinery, with the same answers.

A running server answers mostly the waiting client's events page, executions' details and
the executions list (issue 17). Through FastAPI each costs ~0.5 ms of the API process's CPU
besides its own work: five more ASGI layers, the router's matching, the dependencies solved
again per request (each callable and parameter inspected anew: ~20 ``request_params_to_args``
calls for an events page) and two hops to the thread pool (the role's dependency, then the
route). Here a request of those routes is matched by the route's own path regex, its
parameters are checked against the route's declared constraints, and the role's check (with
the path's execution resolved: ``_routes.check_caller``) and the route's own function run
together on one hop. The endpoint functions are FastAPI's, called with what FastAPI would
have passed them; errors are answered by the app's own exception handlers (Starlette's
``wrap_app_handling_exceptions``, as its ``ExceptionMiddleware`` does), and what those do not
handle propagates as before (to the 500 handler).

Invariants (``tests/unit/server/test_fast_lane.py`` and ``tests/integration/server/
test_fast_lane_same.py``):

- A request the lane takes would have been routed to the same route by FastAPI (no route
  the app tries before it overlaps it), and every parameter it passes FastAPI would have
  accepted and converted to the same value.
- Anything else (another method, a body, a ``root_path``, a parameter the lane does not
  check as strictly as the route would, FastAPI's own telemetry active for the request) goes
  through FastAPI untouched, so an invalid request gets the route's 422 as before.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.datastructures import QueryParams
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from airfoil.server._routes import check_caller

__all__ = ["FastLane", "Lane", "hot_lanes"]

#: ``_routes._Project``'s pattern (anchored as pydantic's regex is: ``$`` is the very end).
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
#: The integers every parser takes the same way (no sign, blank, underscore or leading 0).
_DIGITS = re.compile(r"0|[1-9][0-9]{0,18}")
_PHASE = re.compile(r"queued|running|succeeded|failed|aborted")
#: A query value the lane will not judge: FastAPI's path (and its 422) decides.
_UNSURE = object()

Check = Callable[[str | None], Any]


def _text(limit: int) -> Check:
    def check(value: str | None) -> Any:
        return value if value is None or len(value) <= limit else _UNSURE

    return check


def _count(default: int, low: int, high: int) -> Check:
    def check(value: str | None) -> Any:
        if value is None:
            return default
        if _DIGITS.fullmatch(value) is None or not low <= int(value) <= high:
            return _UNSURE
        return int(value)

    return check


def _phase(value: str | None) -> Any:
    return value if value is None or _PHASE.fullmatch(value) else _UNSURE


def _absent(value: str | None) -> Any:
    return None if value is None else _UNSURE


@dataclass(frozen=True)
class Lane:
    """One route the lane answers: its query parameters' checks (name -> the value to pass,
    or ``_UNSURE``), the role its callers need, and the endpoint's parameter names."""

    route: APIRoute
    role: str
    query: dict[str, Check]
    params: tuple[str, ...]


#: The query checks of the hot routes, by path below the API prefix: every query parameter
#: the route (or its dependencies) declares, with the route's constraints.
_HOT: dict[str, dict[str, Check]] = {
    "/projects/{project}/executions/{execution_id}/events": {
        "domain": _text(50),
        "after": _count(0, 0, 2**63 - 1),
    },
    "/projects/{project}/executions/{execution_id}": {"domain": _text(50)},
    "/projects/{project}/executions": {
        "domain": _text(50),
        "workflow": _text(300),
        "phase": _phase,
        "limit": _count(50, 1, 500),
        "offset": _count(0, 0, 10_000_000),
        "q": _text(200),
        "since": _absent,  # floats: left to FastAPI
        "until": _absent,
    },
}
#: What the lane can pass an endpoint besides its query parameters.
_GIVEN = {"request", "project", "execution_id", "d", "_"}
_PATH = {"project", "execution_id"}


#: The dependencies of the hot routes the lane does itself (the role's check resolves the
#: path's execution; ``_execution`` reads it back; ``_deps`` is the app's state).
_DONE = {"_caller.<locals>.dependency", "_execution", "_deps"}


def _declared(route: APIRoute) -> tuple[set[str], set[str]]:
    """The query parameters a route and its dependencies declare, and what else they need
    that the lane does not give (other dependencies, headers, cookies, a body)."""
    query: set[str] = set()
    other: set[str] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        query.update(p.alias for p in dependant.query_params)
        for kind in ("header_params", "cookie_params", "body_params"):
            other.update(f"{kind[:-7]} {p.alias}" for p in getattr(dependant, kind))
        other.update(p.alias for p in dependant.path_params if p.alias not in _PATH)
        for sub in dependant.dependencies:
            name = getattr(sub.call, "__qualname__", repr(sub.call))
            if name not in _DONE:
                other.add(name)
            stack.append(sub)
    return query, other


def hot_lanes(routes: Iterable[Any], prefix: str, roles: dict[tuple[str, str], str]) -> list[Lane]:
    """The lanes of the hot GET routes among ``routes``.

    Raises:
        RuntimeError: a hot route needs other parameters or dependencies than the lane
            checks and passes (the route changed: change ``_HOT`` too, or drop the lane).
    """
    lanes = []
    by_path = {(r.path, m): r for r in routes if isinstance(r, APIRoute) for m in r.methods or ()}
    for path, query in _HOT.items():
        route = by_path[(prefix + path, "GET")]
        declared, other = _declared(route)
        params = tuple(inspect.signature(route.endpoint).parameters)
        if declared != set(query) or other or not set(params) <= _GIVEN | set(query):
            raise RuntimeError(
                f"the fast lane's checks of GET {route.path} are not the route's: it declares "
                f"the query {sorted(declared)}, needs {sorted(other)} besides, and takes "
                f"{list(params)}; update _fast_lane._HOT"
            )
        lanes.append(Lane(route, roles[("GET", route.path)], query, params))
    return lanes


class FastLane:
    """Answers the requests of ``lanes`` (see the module's docstring)."""

    def __init__(self, lanes: list[Lane]) -> None:
        self.lanes = lanes
        self._handlers: tuple[dict[Any, Any], dict[int, Any]] | None = None

    def take(self, scope: Scope) -> tuple[Lane, dict[str, str]] | None:
        """The lane of an HTTP request, with its path parameters; None: FastAPI answers."""
        if scope["method"] != "GET" or scope.get("root_path") or "fastapi.telemetry" in scope:
            return None
        for name, value in scope["headers"]:  # a body: BodyLimit's (a 413 past MAX_BODY)
            if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                return None
        path = scope["path"]
        for lane in self.lanes:
            found = lane.route.path_regex.match(path)
            if found is not None:
                params = found.groupdict()
                ref = params.get("execution_id")
                if _PROJECT.fullmatch(params["project"]) is None or len(ref or "") > 100:
                    return None
                return lane, params
        return None

    async def answer(
        self, lane: Lane, path_params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Answer the request on ``lane``; False (nothing sent) where FastAPI must."""
        scope["path_params"] = path_params
        request = Request(scope, receive)
        query = request.query_params
        args = self._args(lane, query)
        if args is None:
            del scope["path_params"]
            return False
        scope["route"] = lane.route  # as FastAPI's router sets it (the API latency's label)
        scope["endpoint"] = lane.route.endpoint
        scope["starlette.exception_handlers"] = self._exception_handlers(scope["app"])

        def call() -> Response:
            who = check_caller(request, lane.role)
            given = {"request": request, "d": request.app.state.deps, "_": who, **args}
            given.update(path_params)
            if "execution_id" in path_params:
                given["execution_id"] = request.state.execution_id
            response: Response = lane.route.endpoint(**{n: given[n] for n in lane.params})
            return response

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await anyio.to_thread.run_sync(call)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(app, request)(scope, receive, send)
        return True

    @staticmethod
    def _args(lane: Lane, query: QueryParams) -> dict[str, Any] | None:
        args = {}
        for name, check in lane.query.items():
            value = check(query.get(name))
            if value is _UNSURE:
                return None
            args[name] = value
        return args

    def _exception_handlers(self, app: FastAPI) -> tuple[dict[Any, Any], dict[int, Any]]:
        """The handlers FastAPI's ``ExceptionMiddleware`` has: the app's, but those of
        ``Exception`` and 500 (``ServerErrorMiddleware``'s, outside this lane)."""
        if self._handlers is None:
            handlers = {
                k: v for k, v in app.exception_handlers.items() if k not in (500, Exception)
            }
            inner = ExceptionMiddleware(app, handlers=handlers)
            self._handlers = (inner._exception_handlers, inner._status_handlers)
        return self._handlers
