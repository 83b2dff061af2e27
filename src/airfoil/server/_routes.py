"""Thin routes of ``/api/v1``: authenticate, authorise, call a service, answer.

Every route declares its role (viewer / runner / admin) through :func:`_caller`, and its
response model, so the OpenAPI spec describes the whole API (a console can be generated from
it). Routes are plain ``def`` functions: FastAPI runs them in its thread pool, since services
block on the store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from airfoil.server import _plans as plans
from airfoil.server import _services as svc
from airfoil.server._auth import ApiError, Principal, authenticate, may_read, require
from airfoil.server._cache_explain import cache_explanation
from airfoil.server._graph import graph_json
from airfoil.server._idempotency import IDEMPOTENCY_KEY_PATTERN
from airfoil.server._reading import EVENTS_PAGE, EVENTS_PAGE_MAX
from airfoil.server._route_order import hot_first
from airfoil.server._uploads import MAX_UPLOAD
from airfoil.wire import (
    API_PREFIX,
    CacheExplanation,
    CacheList,
    EntityList,
    EntityVersionOut,
    ErrorBody,
    EventList,
    ExecutionDetail,
    ExecutionPage,
    ExecutionSummary,
    GraphOut,
    Identity,
    LaunchRequest,
    LogOut,
    MapItemsOut,
    NodeDetailOut,
    PackageOut,
    ProjectIn,
    ProjectList,
    ProjectOut,
    RawValues,
    RegisterRequest,
    RegisterResponse,
    SignalIn,
    SignalOut,
    UploadOut,
    VersionList,
)

__all__ = ["HOT_ROUTES", "NOT_FIRST", "ROUTE_ROLES", "route_on", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody} for s in (400, 401, 403, 404, 409, 413, 422, 503)
}
router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)

#: (method, path) -> role, for the auth tests and the docs.
ROUTE_ROLES: dict[tuple[str, str], str] = {}

_Project = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
#: The longest execution reference (a name or an id) and domain a path or query may give: the
#: routes declare them, and ``check_caller`` resolves only what its route would take.
_REF_MAX = 100
_DOMAIN_MAX = 50
_Domain = Annotated[str, Path(max_length=_DOMAIN_MAX)]
#: A launch's ``Idempotency-Key`` (:mod:`~airfoil.server._idempotency`), and its retry's answer.
_IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN)]
_REPLAYED = {200: {"model": ExecutionSummary, "description": "its Idempotency-Key's run"}}
_Name = Annotated[str, Path(max_length=300)]
_Version = Annotated[str, Path(max_length=200)]
_NodeId = Annotated[str, Path(max_length=1000)]
#: Largest event sequence number (the store keeps them as signed 64-bit integers).
_SEQ_MAX = 2**63 - 1


def _state(request: Request) -> svc.Deps:
    deps: svc.Deps = request.app.state.deps
    return deps


async def _deps(request: Request) -> svc.Deps:
    # async: it only reads the app's state (a sync dependency is a hop to the thread pool
    # and back for every request, each a wait for a thread and then for the event loop)
    return _state(request)


def check_caller(request: Request, role: str, per_project: bool = True) -> Principal:
    """The caller, checked for ``role`` (in the path's project if ``per_project``), with the
    path's execution resolved into ``request.state.execution_id``: what the role's
    dependency does (and the fast lane, ``_fast_lane``, on its one hop for a hot route)."""
    deps = _state(request)
    who = authenticate(request, deps.registry, deps.clock.now())
    project = request.path_params.get("project") if per_project else None
    require(who, project, role)
    ref = request.path_params.get("execution_id")
    domain = request.query_params.get("domain")
    if (
        project is not None
        and ref is not None
        and len(ref) <= _REF_MAX
        and len(domain or "") <= _DOMAIN_MAX
    ):
        # A path's execution, by name or id, within the path's project only, and only
        # once the key's role there is checked: a 404 then says nothing of another
        # project's executions. Resolved on this hop to the thread pool (``_ExecId``
        # reads it back without one of its own). Longer values are a 422 of the route's.
        request.state.execution_id = deps.meta.resolve_execution(project, ref, domain)
    return who


def _caller(role: str, *, per_project: bool = True) -> Callable[..., Principal]:
    def dependency(request: Request) -> Principal:
        return check_caller(request, role, per_project)

    return dependency


async def _body(request: Request, limit: int, what: str) -> bytes:
    """The request's body, refused with a 413 as soon as it is known to pass ``limit`` bytes
    (by its Content-Length, or while it streams in), so an oversized upload is never held."""
    too_big = ApiError(413, "too_large", f"{what} is larger than the limit of {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def route_on(api: APIRouter) -> Callable[..., Callable[[Any], Any]]:
    """The decorator of ``api``'s routes (a router of ``/api/v1``: this module's, and those
    kept in modules of their own): ``@route(METHOD, PATH, ROLE, **api_route kwargs)``, the
    role recorded in :data:`ROUTE_ROLES`."""

    def route(method: str, path: str, role: str, **kwargs: Any) -> Callable[[Any], Any]:
        ROUTE_ROLES[(method, API_PREFIX + path)] = role
        return api.api_route(path, methods=[method], **kwargs)

    return route


_route = route_on(router)


Viewer = Annotated[Principal, Depends(_caller("viewer"))]
Runner = Annotated[Principal, Depends(_caller("runner"))]
GlobalAdmin = Annotated[Principal, Depends(_caller("admin", per_project=False))]
AnyKey = Annotated[Principal, Depends(_caller("viewer", per_project=False))]
Deps = Annotated[svc.Deps, Depends(_deps)]


_InPath = Annotated[str, Path(max_length=_REF_MAX)]
_InDomain = Annotated[
    str | None,
    Query(
        max_length=_DOMAIN_MAX,
        description="The domain of a name used in several domains of the project",
    ),
]


async def _execution(
    request: Request, execution_id: _InPath, _: Viewer, domain: _InDomain = None
) -> str:
    """The id of the execution a path names (its name in the path's project, or its id), as
    the role's dependency resolved it (see :func:`_caller`)."""
    resolved: str = request.state.execution_id
    return resolved


async def _runner_execution(
    request: Request, execution_id: _InPath, _: Runner, domain: _InDomain = None
) -> str:
    """:func:`_execution` of a route that needs the runner role."""
    resolved: str = request.state.execution_id
    return resolved


#: A path's ``{execution_id}``: the execution's name in the project (or its id), resolved.
_ExecId = Annotated[str, Depends(_execution)]
#: :data:`_ExecId` of a runner's route (terminate, relaunch, recover, signal).
_RunExecId = Annotated[str, Depends(_runner_execution)]


# --- identity and projects ------------------------------------------------------------------


@router.get("/auth/whoami", response_model=Identity)
def whoami(request: Request, d: Deps) -> Identity:
    """Who the key is."""
    who = authenticate(request, d.registry, d.clock.now())
    role: Any = who.role
    return Identity(key_id=who.key_id, project=who.project, role=role, open_mode=who.open_mode)


ROUTE_ROLES[("GET", API_PREFIX + "/auth/whoami")] = "any"


@router.get("/projects", response_model=ProjectList)
def list_projects(request: Request, d: Deps) -> ProjectList:
    """Projects the key may see: the registered ones and those that only have executions (a
    local run's project is never registered); a project's key sees its own only."""
    who = authenticate(request, d.registry, d.clock.now())
    found = {
        n: ProjectOut(name=n, description=desc, created_at=at)
        for n, desc, at in d.registry.list_projects()
    }
    for name in d.meta.execution_projects():
        found.setdefault(name, ProjectOut(name=name))
    return ProjectList(items=[found[n] for n in sorted(found) if who.project in ("*", n)])


ROUTE_ROLES[("GET", API_PREFIX + "/projects")] = "any"


@_route("POST", "/projects", "admin*", response_model=ProjectOut, status_code=201)
def create_project(body: ProjectIn, d: Deps, _: GlobalAdmin) -> ProjectOut:
    """Create a project (admins of every project)."""
    d.registry.ensure_project(body.name, body.description, d.clock.now())
    name, desc, at = d.registry.get_project(body.name)
    return ProjectOut(name=name, description=desc, created_at=at)


@_route("GET", "/projects/{project}", "viewer", response_model=ProjectOut)
def get_project(project: _Project, d: Deps, _: Viewer) -> ProjectOut:
    name, desc, at = d.registry.get_project(project)
    return ProjectOut(name=name, description=desc, created_at=at)


# --- code and entities ----------------------------------------------------------------------


@_route(
    "PUT",
    "/projects/{project}/packages/{sha256}",
    "runner",
    response_model=PackageOut,
    openapi_extra={
        "requestBody": {"content": {"application/gzip": {"schema": {"type": "string"}}}}
    },
)
async def upload_package(
    project: _Project,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    d: Deps,
    _: Runner,
) -> PackageOut:
    """Upload a code package (a gzip tar of the source), named by its SHA-256."""
    data = await _body(request, svc.MAX_PACKAGE, "a code package")
    return await run_in_threadpool(svc.upload_package, d, project, sha256, data)


@_route(
    "PUT",
    "/projects/{project}/uploads/{sha256}",
    "runner",
    response_model=UploadOut,
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    },
)
async def upload(
    project: _Project,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    d: Deps,
    _: Runner,
) -> UploadOut:
    """Upload the serialised bytes of a launch input (a file, dataframe or array), named by
    their SHA-256; a launch then names them in a ``{"$airfoil": ...}`` reference."""
    data = await _body(request, MAX_UPLOAD, "an upload")
    return await run_in_threadpool(svc.upload, d, project, sha256, data)


@_route("POST", "/projects/{project}/entities", "runner", response_model=RegisterResponse)
def register(project: _Project, body: RegisterRequest, d: Deps, who: Runner) -> RegisterResponse:
    """Register tasks, workflows and launch plans of a package uploaded to this project."""
    plan_rows = plans.check_launch_plans(d, project, body)
    res = svc.register(d, project, body, may_read(who))
    res.launch_plans = plans.register_launch_plans(d, plan_rows)
    return res


@_route("GET", "/projects/{project}/entities", "viewer", response_model=EntityList)
def list_entities(
    project: _Project,
    d: Deps,
    _: Viewer,
    kind: Annotated[str | None, Query(pattern="^(task|workflow)$")] = None,
) -> EntityList:
    """Registered tasks and workflows, with their newest version."""
    return svc.list_entities(d, project, kind)


@_route("GET", "/projects/{project}/entities/{name}/versions", "viewer", response_model=VersionList)
def list_versions(project: _Project, name: _Name, d: Deps, _: Viewer) -> VersionList:
    """Every registered version of one task or workflow, newest first."""
    return svc.list_versions(d, project, name)


@_route(
    "GET",
    "/projects/{project}/entities/{name}/versions/{version}",
    "viewer",
    response_model=EntityVersionOut,
)
def get_version(
    project: _Project, name: _Name, version: _Version, d: Deps, _: Viewer
) -> EntityVersionOut:
    """One version with its typed interface."""
    return svc.get_version(d, project, name, version)


# --- executions -----------------------------------------------------------------------------


@_route(
    "POST",
    "/projects/{project}/domains/{domain}/executions",
    "runner",
    response_model=ExecutionSummary,
    status_code=201,
    responses=_REPLAYED,
)
def launch(
    project: _Project,
    domain: _Domain,
    body: LaunchRequest,
    d: Deps,
    who: Runner,
    idempotency_key: _IdemKey = None,
) -> ExecutionSummary:
    """Launch a registered task or workflow with JSON inputs (checked against its interface).
    With an ``Idempotency-Key`` (per project), the same request again within 24 hours gets
    its execution (200, ``Idempotent-Replayed: true``); another request is a 422."""
    return _launched(*svc.launch(d, project, domain, body, may_read(who), idempotency_key))


def _launched(summary: ExecutionSummary, created: bool) -> ExecutionSummary:
    """201, or 200 to a retry under its key (encoded here: not validated on another hop)."""
    status, headers = (201, None) if created else (200, {"Idempotent-Replayed": "true"})
    data = summary.model_dump_json()
    return Response(data, status, headers, media_type="application/json")  # type: ignore[return-value]


@_route("GET", "/projects/{project}/executions", "viewer", response_model=ExecutionPage)
def list_executions(
    project: _Project,
    d: Deps,
    _: Viewer,
    domain: Annotated[str | None, Query(max_length=50)] = None,
    workflow: Annotated[str | None, Query(max_length=300)] = None,
    phase: Annotated[
        str | None, Query(pattern="^(queued|running|succeeded|failed|aborted)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    q: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    until: Annotated[float | None, Query(ge=0, le=1e11)] = None,
) -> ExecutionPage:
    """Executions, newest first, filtered and paginated.

    ``q`` searches the id, workflow, version and labels; ``since`` / ``until`` bound the
    creation time (seconds since the epoch). Those two look through the newest 5,000
    executions matching the other filters.
    """
    page = svc.list_executions(
        d,
        project,
        domain=domain,
        workflow=workflow,
        phase=phase,
        limit=limit,
        offset=offset,
        q=q or None,
        since=since,
        until=until,
    )
    # Encoded here: a model returned is validated again on another hop to the thread pool.
    return Response(page.model_dump_json(), media_type="application/json")  # type: ignore[return-value]


@_route(
    "GET", "/projects/{project}/executions/{execution_id}", "viewer", response_model=ExecutionDetail
)
def execution_detail(
    request: Request, project: _Project, execution_id: _ExecId, d: Deps, _: Viewer
) -> ExecutionDetail:
    """An execution with its nodes, attempts, cache status, inputs and outputs."""
    # Built from stored records: encoded directly instead of validating 1,000s of nodes.
    # Tagged (ETag: the answer's version; ``Cache-Control: no-cache``): a poller that sends
    # the tag back (If-None-Match: the console's browser does so itself) is answered 304,
    # no body, while the execution is unchanged.
    data, etag = svc.execution_detail_tagged(d, project, execution_id)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)  # type: ignore[return-value]
    return Response(data, media_type="application/json", headers=headers)  # type: ignore[return-value]


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weakly, as RFC 9110 compares it)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or "*" in tags


@_route(
    "GET", "/projects/{project}/executions/{execution_id}/graph", "viewer", response_model=GraphOut
)
def execution_graph(project: _Project, execution_id: _ExecId, d: Deps, _: Viewer) -> GraphOut:
    """The node graph: nodes with their upstream nodes, parents, gates and mapped inputs
    (with the graphs dynamic nodes built so far, and nodes called by tasks)."""
    data = graph_json(d, project, execution_id)
    return Response(data, media_type="application/json")  # type: ignore[return-value]


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/nodes/{node_id}/items",
    "viewer",
    response_model=MapItemsOut,
)
def map_items(
    project: _Project,
    execution_id: _ExecId,
    node_id: _NodeId,
    d: Deps,
    _: Viewer,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> MapItemsOut:
    """The items of a map node that have been tried: phase, attempts, times, error."""
    return svc.map_items(d, project, execution_id, node_id, offset, limit)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/nodes/{node_id}",
    "viewer",
    response_model=NodeDetailOut,
)
def node_detail(
    project: _Project, execution_id: _ExecId, node_id: _NodeId, d: Deps, _: Viewer
) -> NodeDetailOut:
    """One node, with previews of every input and output (blobs included)."""
    return svc.node_detail(d, project, execution_id, node_id)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/nodes/{node_id}/cache",
    "viewer",
    response_model=CacheExplanation,
)
def node_cache(
    project: _Project, execution_id: _ExecId, node_id: _NodeId, d: Deps, _: Viewer
) -> CacheExplanation:
    """Why the node did or did not hit the cache: its key part by part, whether an entry
    exists now, and for a changed code version which functions and constants changed (with
    a short diff) and what the version cannot see (``airfoil cache explain --remote``)."""
    return cache_explanation(d, project, execution_id, node_id)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/nodes/{node_id}/logs",
    "viewer",
    response_model=LogOut,
)
def logs(
    project: _Project,
    execution_id: _ExecId,
    node_id: _NodeId,
    d: Deps,
    _: Viewer,
    attempt: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    rank: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    level: Annotated[str | None, Query(max_length=20)] = None,
) -> LogOut:
    """The log of a node's attempt (the last one by default): only the lines of entries
    at ``level`` or above if given (``OUT`` ranks as INFO, ``ERR`` as WARNING); ``rank``: the
    log of that rank of a training attempt's gang (its output, every gang start), as far as
    it got."""
    return svc.logs(d, project, execution_id, node_id, attempt, level, rank)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/outputs",
    "viewer",
    response_model=RawValues,
)
def raw_outputs(project: _Project, execution_id: _ExecId, d: Deps, _: Viewer) -> RawValues:
    """The execution's outputs exactly as stored (for clients decoding typed values)."""
    return svc.raw_outputs(d, project, execution_id)


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/values/{value_hash}",
    "viewer",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_value(
    project: _Project,
    execution_id: _ExecId,
    value_hash: Annotated[str, Path(pattern=r"^[0-9a-f]{8,128}$")],
    d: Deps,
    _: Viewer,
    as_format: Annotated[str | None, Query(alias="as", pattern="^parquet$")] = None,
) -> Response:
    """The serialised bytes of one of the execution's values (``?as=parquet``: a frame stored
    as Arrow IPC, exported as Parquet)."""
    value = svc.find_value(d, project, execution_id, value_hash)
    data, fmt = svc.value_export(d, value, as_format)
    etag = value.hash if fmt == value.format else f"{value.hash}-{fmt}"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"X-Airfoil-Format": fmt, "ETag": f'"{etag}"'},
    )


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/events",
    "viewer",
    response_model=EventList,
)
def events(
    project: _Project,
    execution_id: _ExecId,
    d: Deps,
    _: Viewer,
    after: Annotated[int, Query(ge=0, le=_SEQ_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE_MAX)] = EVENTS_PAGE,
) -> EventList:
    """A page of the event log (phase changes with causes): the first ``limit`` events after
    sequence number ``after``; a full page names the next page's ``after`` in ``next_after``."""
    page = svc.events(d, project, execution_id, after, limit)
    # Encoded here: a model returned is validated again on another hop to the thread pool
    # (a client waiting for an execution asks for this page every few tens of ms).
    return Response(page.model_dump_json(), media_type="application/json")  # type: ignore[return-value]


@_route(
    "GET",
    "/projects/{project}/executions/{execution_id}/watch",
    "viewer",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def watch(
    project: _Project, execution_id: _ExecId, request: Request, d: Deps, _: Viewer
) -> StreamingResponse:
    """Server-sent events: one ``event`` per event-log entry until the execution ends.

    The key is checked again before each read of the log: a key revoked meanwhile ends the
    stream with an ``error`` event (``{"error": {"status", "code", "message"}}``)."""
    svc.get_head(d, project, execution_id)
    last = request.headers.get("last-event-id", "0")
    after = int(last) if last.isdigit() and len(last) < 19 else 0
    return StreamingResponse(
        _stream(d, project, execution_id, after, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    d: svc.Deps, project: str, execution_id: str, after: int, request: Request
) -> AsyncIterator[bytes]:
    idle = 0
    yield b"retry: 1000\n\n"
    while True:
        try:
            page = await run_in_threadpool(_events_for, d, project, execution_id, after, request)
        except ApiError as exc:  # the key was revoked since the stream opened
            error = {"status": exc.status, "code": exc.code, "message": exc.message}
            yield f"event: error\ndata: {json.dumps({'error': error})}\n\n".encode()
            return
        for ev in page.items:
            after = ev.seq
            data = json.dumps(ev.model_dump())
            yield f"id: {ev.seq}\nevent: {ev.kind}\ndata: {data}\n\n".encode()
        if page.phase in ("succeeded", "failed", "aborted") and not page.items:
            yield f"event: end\ndata: {json.dumps({'phase': page.phase})}\n\n".encode()
            return
        if await request.is_disconnected():
            return
        idle = 0 if page.items else idle + 1
        if idle and idle % 40 == 0:
            yield b": keep-alive\n\n"
        await asyncio.sleep(0.05 if page.items else 0.2)


def _events_for(
    d: svc.Deps, project: str, execution_id: str, after: int, request: Request
) -> EventList:
    """:func:`svc.events` for the caller of ``request`` if its key may still read them."""
    require(authenticate(request, d.registry, d.clock.now()), project, "viewer")
    return svc.events(d, project, execution_id, after, EVENTS_PAGE_MAX)


@_route(
    "POST",
    "/projects/{project}/executions/{execution_id}/terminate",
    "runner",
    response_model=ExecutionSummary,
    status_code=202,
)
def terminate(
    project: _Project,
    execution_id: _RunExecId,
    d: Deps,
    who: Runner,
    reason: Annotated[str, Body(embed=True, max_length=1000)] = "terminated from the API",
) -> ExecutionSummary:
    """Abort an execution (its running attempts are stopped)."""
    return svc.terminate(d, project, execution_id, f"{reason} (key {who.key_id})")


@_route(
    "POST",
    "/projects/{project}/executions/{execution_id}/relaunch",
    "runner",
    response_model=ExecutionSummary,
    status_code=201,
)
def relaunch(project: _Project, execution_id: _RunExecId, d: Deps, _: Runner) -> ExecutionSummary:
    """Launch the same version again with the same inputs."""
    return svc.relaunch(d, project, execution_id)


@_route(
    "POST",
    "/projects/{project}/executions/{execution_id}/recover",
    "runner",
    response_model=ExecutionSummary,
    status_code=201,
)
def recover(project: _Project, execution_id: _RunExecId, d: Deps, _: Runner) -> ExecutionSummary:
    """Recover a failed or aborted execution: a new one that reuses the outputs of every node
    that succeeded and runs only from the failure on."""
    return svc.recover(d, project, execution_id)


@_route(
    "POST",
    "/projects/{project}/executions/{execution_id}/signals/{name}",
    "runner",
    response_model=SignalOut,
)
def signal(
    project: _Project,
    execution_id: _RunExecId,
    name: Annotated[str, Path(max_length=200)],
    body: SignalIn,
    d: Deps,
    _: Runner,
) -> SignalOut:
    """Answer a gate: approve / reject (``true`` / ``false``) or give the value it waits for."""
    return svc.signal(d, project, execution_id, name, body.value)


@_route("GET", "/projects/{project}/cache", "viewer", response_model=CacheList)
def cache(
    project: _Project,
    d: Deps,
    _: Viewer,
    task: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CacheList:
    """Cache entries written by this project's executions, newest first."""
    return svc.cache_entries(d, project, task, limit)


# The artifact registry's routes (issue 14) live in their own module.
from airfoil.server._artifacts import ROLES as _ARTIFACT_ROLES  # noqa: E402
from airfoil.server._artifacts import artifact_router as _artifact_router  # noqa: E402

ROUTE_ROLES.update(_ARTIFACT_ROLES)
router.include_router(_artifact_router)
from airfoil.server._deployments import ROLES as _DEPLOYMENT_ROLES  # noqa: E402
from airfoil.server._deployments import deployment_router as _deployment_router  # noqa: E402

ROUTE_ROLES.update(_DEPLOYMENT_ROLES)
router.include_router(_deployment_router)
from airfoil.server._cache_scopes import ROLES as _SCOPE_ROLES  # noqa: E402
from airfoil.server._cache_scopes import scope_router as _scope_router  # noqa: E402

ROUTE_ROLES.update(_SCOPE_ROLES)
router.include_router(_scope_router)

# What a running server answers most, tried first (see _route_order: ~0.1-0.2 ms a request)
HOT_ROUTES = [
    ("GET", f"{API_PREFIX}/projects/{{project}}/executions/{{execution_id}}/events"),
    ("GET", f"{API_PREFIX}/projects/{{project}}/executions/{{execution_id}}"),
    ("GET", f"{API_PREFIX}/projects/{{project}}/executions"),
    ("POST", f"{API_PREFIX}/projects/{{project}}/domains/{{domain}}/executions"),
]
#: the hot routes another route before them could take a request of (none: a test says so)
NOT_FIRST = hot_first(router, HOT_ROUTES)
