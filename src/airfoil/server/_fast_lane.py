"""The fast lane: the API's hottest GET routes answered on one hop to the thread pool, past
FastAPI's per-request machinery, with the same answers.

A running server answers mostly the waiting client's events page, executions' details and
the executions list (issue 17). Through FastAPI each costs ~0.5 ms of the API process's CPU
besides its own work: five more ASGI layers, the router's matching, the dependencies solved
again per request (each callable and parameter inspected anew: ~20 ``request_params_to_args``
calls for an events page) and two hops to the thread pool (the role's dependency, then the
route). Here a request of those routes is matched by the route's own path regex, and the
role's check (with the path's execution resolved: ``_routes.check_caller``) and the route's
own function run together on one hop. The endpoint functions are FastAPI's, called with
what FastAPI would have passed them; errors are answered by the app's own exception
handlers (Starlette's ``wrap_app_handling_exceptions``, as its ``ExceptionMiddleware``
does), and what those do not handle propagates as before (to the 500 handler).

One source of truth for the parameters: the lane has no list of its own. At start,
:func:`lane_of` walks the route's declared path and query parameters (its own and its
dependencies', FastAPI's ``route.dependant``) and keeps, for each, FastAPI's field: its
request key (the alias), its default, and its pydantic validator, built by FastAPI from the
declared type and constraints (``Ge``/``Le``, ``max_length``, ``pattern``, ...). A request's
values are read and validated as FastAPI's ``request_params_to_args`` does, by those very
validators (~0.7 us a value given): a constraint changed on the route changes the lane's
answer with it. A parameter the lane cannot read as FastAPI does (not one string: a list, a
model, ``Json``; a header, a cookie, a body; a validation alias, a default factory; another
dependency) leaves its route to FastAPI, with a warning at start.

Invariants (``tests/unit/server/test_fast_lane.py`` and ``tests/integration/server/
test_fast_lane_same.py``):

- A request the lane takes would have been routed to the same route by FastAPI (no route
  the app tries before it overlaps it), and every parameter it passes FastAPI would have
  accepted and converted to the same value.
- Anything else (another method, a body, a ``root_path``, a parameter value the route's
  validator refuses or a required one missing, FastAPI's own telemetry active for the
  request) goes through FastAPI untouched, so an invalid request gets the route's 422 as
  before.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass
from enum import Enum
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import anyio.to_thread
from fastapi import FastAPI, params
from fastapi._compat import ModelField
from fastapi.routing import APIRoute
from pydantic import Json
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.datastructures import QueryParams
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from airfoil.server._routes import check_caller

__all__ = ["HOT_PATHS", "FastLane", "Lane", "Param", "hot_lanes", "lane_of"]

_log = logging.getLogger(__name__)

#: The hot routes, by path below the API prefix.
HOT_PATHS = (
    "/projects/{project}/executions/{execution_id}/events",
    "/projects/{project}/executions/{execution_id}",
    "/projects/{project}/executions",
)
#: What the lane passes an endpoint besides its own path and query parameters.
_GIVEN = {"request", "execution_id", "d", "_"}
#: The dependencies of the hot routes the lane does itself (the role's check resolves the
#: path's execution; ``_execution`` reads it back; ``_deps`` is the app's state).
_DONE = {"_caller.<locals>.dependency", "_execution", "_deps"}
#: The annotations whose request value FastAPI reads as one string (``values.get``): a
#: parameter of another type (a list, a model, ...) is read otherwise; its route is left
#: to FastAPI.
_SCALARS = (str, int, float, bool)
#: A parameter the request lacks and the route requires: FastAPI's 422.
_REQUIRED = object()
#: The defaults ``deepcopy`` returns as they are.
_IMMUTABLE = {type(None), str, int, float, bool}


@dataclass(frozen=True)
class Param:
    """A path or query parameter a route or one of its dependencies declares: the request's
    key for it, its field (FastAPI's, with the route's pydantic validator: its type and
    constraints), its default, and the endpoint's argument it is passed as (None: one of
    the dependencies', only checked)."""

    in_path: bool
    key: str
    field: ModelField
    default: Any
    validate_default: bool
    arg: str | None
    #: Whether the default is copied for each request, as FastAPI does (not an immutable one).
    copy: bool


@dataclass(frozen=True)
class Lane:
    """One route the lane answers: the parameters it checks, the role its callers need, and
    the endpoint's parameter names."""

    route: APIRoute
    role: str
    checks: tuple[Param, ...]
    params: tuple[str, ...]


def _scalar(annotation: Any) -> bool:
    """Whether a value of ``annotation`` is read from the request as one string."""
    if get_origin(annotation) in (Union, UnionType):
        return all(a is type(None) or _scalar(a) for a in get_args(annotation))
    if get_origin(annotation) is Literal:
        return all(isinstance(a, _SCALARS) for a in get_args(annotation))
    return annotation in _SCALARS or (isinstance(annotation, type) and issubclass(annotation, Enum))


def _param(field: ModelField, own: bool) -> Param | str:
    """The lane's check of a declared parameter, or why the lane cannot read it as FastAPI
    does (then its route is FastAPI's)."""
    info = field.field_info
    if not isinstance(info, (params.Query, params.Path)):
        return f"{field.name} is a {type(info).__name__} parameter"
    if not _scalar(info.annotation) or any(type(m) is Json for m in info.metadata):
        return f"{field.name}: {info.annotation} is not read as one string"
    if info.validation_alias not in (None, field.alias) or field.config or info.default_factory:
        return f"{field.name} has a validation alias of its own, a config or a default factory"
    default = _REQUIRED if info.is_required() else info.default
    in_path = isinstance(info, params.Path)
    return Param(
        in_path,
        field.alias,
        field,
        default,
        bool(info.validate_default),
        field.name if own else None,
        type(default) not in _IMMUTABLE,
    )


def _declared(route: APIRoute) -> tuple[list[Param], list[str]]:
    """The parameters a route and its dependencies declare, and what the lane cannot give or
    read as FastAPI does (other dependencies, headers, cookies, a body, other parameters)."""
    checks: list[Param] = []
    other: list[str] = []
    stack = [(route.dependant, True)]
    while stack:
        dependant, own = stack.pop()
        for field in [*dependant.path_params, *dependant.query_params]:
            param = _param(field, own)
            if isinstance(param, Param):
                checks.append(param)
            else:
                other.append(param)
        for kind in ("header_params", "cookie_params", "body_params"):
            other.extend(f"{kind[:-7]} {p.alias}" for p in getattr(dependant, kind))
        for sub in dependant.dependencies:
            name = getattr(sub.call, "__qualname__", repr(sub.call))
            if name not in _DONE:
                other.append(f"the dependency {name}")
            stack.append((sub, False))
    return checks, other


def lane_of(route: APIRoute, role: str) -> Lane | str:
    """The lane of a hot route, its checks derived from the route's declared parameters; or
    why the lane leaves the route to FastAPI."""
    checks, other = _declared(route)
    params = tuple(inspect.signature(route.endpoint).parameters)
    passed = _GIVEN | {c.arg for c in checks if c.arg is not None}
    if other or not set(params) <= passed:
        return (
            f"the fast lane leaves GET {route.path} to FastAPI: it needs {other} and "
            f"takes {list(params)} (the lane gives {sorted(passed)})"
        )
    return Lane(route, role, tuple(checks), params)


def hot_lanes(routes: Iterable[Any], prefix: str, roles: dict[tuple[str, str], str]) -> list[Lane]:
    """The lanes of the hot GET routes (``HOT_PATHS`` below ``prefix``) among ``routes``; a
    route the lane cannot answer as FastAPI does (see :func:`lane_of`) is left to FastAPI,
    with a warning."""
    lanes = []
    by_path = {(r.path, m): r for r in routes if isinstance(r, APIRoute) for m in r.methods or ()}
    for path in HOT_PATHS:
        route = by_path.get((prefix + path, "GET"))
        lane = lane_of(route, roles[("GET", route.path)]) if route else f"no GET {prefix + path}"
        if isinstance(lane, str):
            _log.warning("%s", lane)
        else:
            lanes.append(lane)
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
                return lane, found.groupdict()
        return None

    async def answer(
        self, lane: Lane, path_params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Answer the request on ``lane``; False (nothing sent) where FastAPI must."""
        scope["path_params"] = path_params
        request = Request(scope, receive)
        args = self._args(lane, request.query_params, path_params)
        if args is None:
            del scope["path_params"]
            return False
        scope["route"] = lane.route  # as FastAPI's router sets it (the API latency's label)
        scope["endpoint"] = lane.route.endpoint
        scope["starlette.exception_handlers"] = self._exception_handlers(scope["app"])

        def call() -> Response:
            who = check_caller(request, lane.role)
            given = {"request": request, "d": request.app.state.deps, "_": who, **args}
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
    def _args(lane: Lane, query: QueryParams, path_params: dict[str, str]) -> dict[str, Any] | None:
        """The endpoint's arguments from the request's parameters, read and validated as
        FastAPI's ``request_params_to_args`` does (by the route's own field validators);
        None where one is missing or invalid: FastAPI answers (its 422)."""
        args = {}
        for check in lane.checks:
            value = (path_params if check.in_path else query).get(check.key)
            if value is None:  # FastAPI's ``_validate_value_with_model_field``
                if check.default is _REQUIRED:
                    return None
                value = deepcopy(check.default) if check.copy else check.default
                if not check.validate_default:
                    if check.arg is not None:
                        args[check.arg] = value
                    continue
            value, errors = check.field.validate(value)
            if errors:
                return None
            if check.arg is not None:
                args[check.arg] = value
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
