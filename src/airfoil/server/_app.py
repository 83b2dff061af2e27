"""``create_app(config)``: the FastAPI app, its engine loop, errors, health and metrics.

The app opens the metadata store, the blob store and the server's registry when it starts
(lifespan), starts the driver slots when ``config.run_engine`` is set, and on shutdown stops
them (releasing their leases) before closing the stores.

Every error is answered as ``{"error": {"code", "message"}}``: Airfoil errors by their class
(see ``_auth.status_of``), request validation as 422 ``invalid_request`` with the pydantic
details, unknown routes as 404 ``not_found``. An unexpected exception is a 500 ``internal`` with
no internals in the body (it is logged); no bad input reaches that path.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airfoil.core.errors import AirfoilError, NotFoundError
from airfoil.executors.hooks import Hooks
from airfoil.server._auth import DATABASE_DOWN, ApiError, client_message, error_response, status_of
from airfoil.server._config import (
    ServerConfig,
    freeze_heap,
    open_runtime,
    run_engine_process,
    server_settings,
)
from airfoil.server._deps import Deps
from airfoil.server._hosts import AllowedHosts
from airfoil.server._metrics import Metrics
from airfoil.server._model_key import ModelKey
from airfoil.server._origin import SameOrigin
from airfoil.wire import API_PREFIX
from airfoil.wire._body_limit import BodyLimit
from airfoil.wire._limits import MAX_BODY

if TYPE_CHECKING:
    from airfoil.engine.launch_plans import Poster
    from airfoil.local import Runtime
    from airfoil.server._fast_lane import FastLane
    from airfoil.server._supervisor import Supervisor
    from airfoil.store._schedules import ScheduleRecord

__all__ = ["ServerConfig", "create_app", "server_settings"]

log = logging.getLogger("airfoil.server")


def _open(config: ServerConfig) -> tuple[Deps, Metrics]:
    """The server's one runtime (stores, codecs, clock, hooks, launcher) and its driver: the
    slots in this process, or an engine process's stand-in (``config.engine_process``)."""
    from airfoil.server._driver import Driver
    from airfoil.server._engine_process import EngineProcess

    engine = None
    if config.run_engine and config.engine_process:
        # Started first: it imports its modules and opens its runtime meanwhile.
        engine = EngineProcess(config, run_engine_process)
        engine.start()
    try:
        runtime, registry = open_runtime(config)
    except BaseException:
        if engine is not None:
            engine.stop()
        raise
    metrics = Metrics(runtime.meta)
    deps = Deps(runtime, registry)
    if engine is not None:
        engine.metrics = metrics
        deps.driver = engine
    elif config.run_engine:
        deps.driver = Driver(
            runtime,
            slots=config.slots,
            max_parallel=config.attempts_per_execution,
            lease_ttl_s=config.lease_ttl_s,
            on_change=metrics.on_change,
            on_restart=metrics.driver_restarted,
            on_pause=metrics.driver_paused,
            poster=config.webhook_poster(),
            warm=config.warm_workers,
            workers=config.workers or None,
        )
    return deps, metrics


class _Schedules:
    """The scheduler loop embedded in the server: fires due schedules, and triggered launch
    plans once per new artifact version, exactly once (the
    store's atomic claim makes several servers and `airfoil scheduler` processes safe
    together). What it launches from registered packages is driven (and notified) by the
    driver slots of whichever server claims it; schedules of local code are driven here,
    on the server's runtime (its ``process`` workers unless the schedule names another).
    ``launched`` wakes the idle driver slots for what it leaves to them (``Deps.launched``,
    as an API launch does), rather than their next claim (up to ``idle_poll_s`` later)."""

    def __init__(
        self,
        runtime: Runtime,
        run_engine: bool,
        poster: Poster,
        launched: Callable[[], None] | None = None,
    ) -> None:
        from airfoil.engine.scheduler_loop import SchedulerLoop

        # Runs of registered packages are left to the driver slots (they notify when a run
        # ends); a schedule activated from local code is driven here.
        leave = None
        if run_engine:
            from airfoil.runtime._packages import PACKAGE_PREFIX

            def leave(record: ScheduleRecord) -> bool:
                return record.code_root.startswith(PACKAGE_PREFIX)

        from airfoil.store.artifacts import open_artifact_store

        # New artifact versions fire the triggered launch plans (claimed like instants).
        settings = runtime.settings
        self.artifacts = open_artifact_store(settings.database_url, settings.home)
        self.loop = SchedulerLoop(
            runtime,
            drive="background",
            leave=leave,
            artifacts=self.artifacts,
            poster=poster,
            on_left=None if launched is None else (lambda _eid: launched()),
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self.loop.run_forever,
            args=(self.stopping,),
            name="airfoil-schedules",
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.loop.close(wait=False)
        self.artifacts.close()


def _start_schedules(deps: Deps, config: ServerConfig) -> _Schedules | None:
    try:
        return _Schedules(deps.runtime, config.run_engine, config.webhook_poster(), deps.launched)
    except Exception:  # the API must come up even if schedules cannot be served
        logging.getLogger("airfoil.server").exception("the scheduler loop did not start")
        return None


def _model_key(app: FastAPI, home: str) -> ModelKey:
    """The key the server's model replicas take (``app.state.model_key``): see
    :mod:`airfoil.server._model_key`. Whether the server has API keys is asked of its
    registry at each use (an error there counts as keyed: a replica is never opened by it)."""
    registry = app.state.deps.registry
    found = ModelKey(os.path.abspath(os.path.expanduser(home)), registry.keys_configured)
    app.state.model_key = found
    return found


def _start_supervisor(app: FastAPI, runtime: Runtime, config: ServerConfig) -> Supervisor | None:
    """The deployments' supervisor (its own artifact store connection), started."""
    from airfoil.server._deploy_admission import ReplicaAdmission
    from airfoil.server._ray_deployments import RayDeployments
    from airfoil.server._supervisor import ServiceEnv, Supervisor
    from airfoil.store.artifacts import open_artifact_store

    settings = runtime.settings
    try:
        store = open_artifact_store(settings.database_url, settings.home)
    except Exception:  # the API must come up even if deployments cannot be supervised
        log.exception("the deployment supervisor did not start")
        return None
    home = os.path.abspath(os.path.expanduser(settings.home))
    env = ServiceEnv(
        home=home,
        database_url=settings.database_url,
        blob_url=settings.resolved_blob_url(),
        logs_dir=os.path.join(home, "deployments"),
        key_source=app.state.model_key.current,
    )
    ray = None
    if config.ray_serve is not None:
        open_serve = config.ray_serve
        ray = RayDeployments(
            lambda: open_serve(settings.ray_address),
            {
                "home": home,
                "database_url": settings.database_url,
                "blob_url": env.blob_url,
            },
            key=env.key,
        )
    default_on = "ray" if settings.executor == "ray" else "process"
    # Replicas asking for resources share this machine's queue with the server's tasks.
    admission = ReplicaAdmission(lambda: runtime.resources)
    supervisor = Supervisor(store, env, ray=ray, default_on=default_on, admission=admission)
    supervisor.start()
    app.state.supervisor = supervisor
    return supervisor


async def _warm(deps: Deps, threads: int = 0) -> None:
    """Build now what the first requests would build (in their own time, and under the
    first executions' load): the type engine, whose converters' modules are imported on
    its first use (a launch binds its JSON inputs with it, a detail previews values), and
    the thread pool's first thread with anyio's backend (every sync route runs there).

    With ``threads`` (``ServerConfig.api_threads_warm``), the registry's connection pool
    (every request's key check) opens that many connections (at most its size), and that many
    of the thread pool's threads are started at once, each opening its database connection
    and running the reads of the console's polls once (an execution's detail and events,
    the executions' page, of an execution that does not exist): a thread's
    connection is opened by its first request otherwise, on a new PostgreSQL backend whose
    first statements also load its catalog caches, which a fresh server's first requests
    paid under the first executions' load (8-18 ms to connect and 14-46 ms for the first
    statement, traced)."""
    import anyio.to_thread

    from airfoil.types._from_json import from_jsonable

    types, ctx = deps.types, deps.value_ctx()
    await anyio.to_thread.run_sync(from_jsonable, 1, types.to_spec(int), types, ctx)
    if threads > 0:
        # The key check's pool too (the registry's: every request's key is checked there).
        try:
            await anyio.to_thread.run_sync(deps.registry.open_connections, threads)
        except Exception:  # the API comes up regardless, as with the threads' reads below
            log.warning("the API's key store could not open its connections", exc_info=True)
        together = threading.Barrier(threads)
        await asyncio.gather(
            *(anyio.to_thread.run_sync(_open_reads, deps, together) for _ in range(threads))
        )


def _build_routes(app: FastAPI) -> None:
    """Build now what FastAPI builds for an included router's routes on the first request
    that reaches it (each route's parameters' validators: ~0.2-0.4 s of CPU for the API's
    routes, which the first API request of a fresh server waited for)."""

    def build(routes: Any) -> None:
        for route in routes:
            candidates = getattr(route, "effective_candidates", None)
            if callable(candidates):  # an included router (FastAPI 0.16x's _IncludedRouter)
                build(candidates())
                route.effective_low_priority_routes()

    build(app.router.routes)


def _open_reads(deps: Deps, together: threading.Barrier) -> None:
    """On a pool thread: wait until ``together``'s other threads have started (so that each
    hop gets a thread of its own), then open this thread's connection and run the polls'
    reads once. A failure leaves the thread to connect on its first request, as before."""
    try:
        together.wait(timeout=10.0)
    except threading.BrokenBarrierError:
        pass
    meta = deps.meta
    absent = "~warm"  # no execution has this id (ids are letters and digits)
    try:
        meta.find_executions("~", absent)
        meta.get_events(absent, after_seq=0)
        with contextlib.suppress(NotFoundError):
            meta.get_execution_head(absent)
        with contextlib.suppress(NotFoundError):  # the detail's two statements
            meta.view_execution(absent)
        with contextlib.suppress(NotFoundError):
            meta.view_execution(absent, after_seq=0, full=False)
        meta.page_execution_heads_leased(project="~", limit=1)
    except Exception:  # the API comes up regardless; the requests will say what is wrong
        log.warning("a thread of the API could not open its database connection", exc_info=True)


def create_app(config: ServerConfig) -> FastAPI:
    """The Airfoil API app. Nothing is opened until the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps, metrics = _open(config)
        app.state.deps = deps
        # the key check answers from a read of the keys this thread renews (Registry.close,
        # in runtime.close below, stops it): no key read on a request's path
        deps.registry.start_key_refresh()
        app.state.metrics = metrics
        if config.freeze_heap:
            freeze_heap()  # what opening the stores imported and built
        if deps.driver is not None:
            deps.driver.start()
        schedules = _start_schedules(deps, config) if config.run_engine else None
        _model_key(app, deps.runtime.settings.home)  # the API hands out deployments' keys
        supervisor = _start_supervisor(app, deps.runtime, config) if config.run_engine else None
        await _warm(deps, config.api_threads_warm)
        _build_routes(app)
        if config.freeze_heap:
            gc.enable()  # paused by `airfoil server start` while it started: up now
            freeze_heap()  # collects what starting the driver and the loops left first
        try:
            yield
        finally:
            if supervisor is not None:
                supervisor.close()
                supervisor.store.close()
            if schedules is not None:
                schedules.stop()
            from airfoil.server._driver import Driver

            if isinstance(deps.driver, Driver):
                deps.driver.stop(config.stop_grace_s)
            elif deps.driver is not None:  # an engine process: its slots' bound, and a margin
                deps.driver.stop()
            deps.registry.stop_key_refresh()
            from airfoil.server._artifacts import close_artifacts

            close_artifacts(app.state)
            deps.runtime.close()  # its resource queue, executors and stores (registry too)

    app = FastAPI(
        title="Airfoil",
        version="1",
        summary="Typed, durable, cached ML and data pipelines",
        lifespan=lifespan,
    )
    from airfoil.server._cluster import router as cluster_router
    from airfoil.server._fast_lane import FastLane, hot_lanes
    from airfoil.server._observe_routes import router as observe_router
    from airfoil.server._plan_routes import router as plan_router
    from airfoil.server._routes import ROUTE_ROLES, router

    _install_errors(app)
    lane = FastLane(hot_lanes(router.routes, API_PREFIX, ROUTE_ROLES)) if config.fast_lane else None
    _install_latency(app, config.hooks, lane, config.allowed_hosts)
    _install_ops(app)
    app.include_router(router)
    app.include_router(plan_router)
    app.include_router(observe_router)
    app.include_router(cluster_router)
    _install_console(app)
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(AirfoilError)
    async def airfoil_error(request: Request, exc: AirfoilError) -> JSONResponse:
        status, code = status_of(exc)
        if status >= 500:  # the whole message (a store's names the database) for the operator
            log.warning("request failed: %s: %s", type(exc).__name__, exc)
        known = getattr(request.state, "authenticated", False)
        return error_response(status, code, client_message(exc, authenticated=known))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"]) if first["loc"] else "request"
        return error_response(422, "invalid_request", f"{where}: {first['msg']}", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.warning("database error: %s", exc)
        return error_response(503, "store_unavailable", "the database failed; try again")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "internal", "internal server error (see the server log)")


def _install_latency(
    app: FastAPI,
    hooks: Hooks | None = None,
    lane: FastLane | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    # FastAPI reads and parses a route's JSON body before the key is checked: refused past
    # MAX_BODY (FastAPI's own ``max_body_size`` answers in plain text, not the API's form).
    app.add_middleware(
        BodyLimit,
        limit=MAX_BODY,
        error=lambda: _TooLarge(MAX_BODY),
        answer=_too_large,
        exempt=_streamed,
    )
    app.add_middleware(_Latency, hooks=hooks, lane=lane)
    # outermost, before the fast lane: a browser's request for another site changes nothing
    app.add_middleware(SameOrigin)
    # outermost of all: a request addressed to another name (DNS rebinding) reaches nothing
    # while loopback callers are trusted (``_hosts``)
    app.add_middleware(AllowedHosts, allowed=allowed_hosts)


#: Routes that stream their body in under their own limit (a code package, an upload).
_STREAMED = re.compile(r"^/api/v1/projects/[^/]+/(packages|uploads)/[^/]+$")


class _TooLarge(StarletteHTTPException):
    """Raised from a request's ``receive`` (FastAPI re-raises an HTTP exception met while
    reading a body; the API's handler answers it as ``too_large``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


def _too_large() -> Response:
    """The 413 ``too_large`` answer (made only for a request that gets it)."""
    return error_response(413, "too_large", _TooLarge(MAX_BODY).detail)


def _streamed(scope: Any) -> bool:
    return scope["method"] == "PUT" and _STREAMED.match(scope["path"]) is not None


#: The methods the latency histogram names; any other is counted as ``other``.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Latency:
    """Times every HTTP request: the API latency histogram and ``hooks.http_request``; and
    answers the hot routes' requests on ``lane`` (see :mod:`airfoil.server._fast_lane`).

    A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which runs the rest of
    the app in a task of its own and passes the response through memory streams: about a
    fifth of the event loop's CPU per request under the engine's load). The time runs until
    the app has sent the whole response; a request whose app raised before answering counts
    as a 500 (what the outer error handler answers it with).
    """

    def __init__(self, app: ASGIApp, hooks: Hooks | None = None, lane: FastLane | None = None):
        self.app = app
        self.hooks = hooks
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            taken = self.lane.take(scope) if self.lane is not None else None
            if taken is None or not await self.lane.answer(*taken, scope, receive, timed_send):  # type: ignore[union-attr]
                await self.app(scope, receive, timed_send)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, took: float) -> None:
        app = scope.get("app")
        metrics: Metrics | None = getattr(getattr(app, "state", None), "metrics", None)
        method = str(scope["method"])
        if metrics is not None:
            path = getattr(scope.get("route"), "path", "unmatched")
            # the client names the method: any token under h11 (uvicorn without httptools),
            # so each made-up one was a new series kept for the process's life
            shown = method if method in _METHODS else "other"
            metrics.api.labels(shown, path, str(status)).observe(took)
        if self.hooks is not None:
            try:
                self.hooks.http_request(method, str(scope["path"]), status, took)
            except Exception:  # an observer must never fail a request
                log.exception("the http_request hook failed")


def _install_ops(app: FastAPI) -> None:
    # Health answers on the event loop and readiness on threads of its own: API calls that
    # wait out a database outage (the store retries within its budget) may fill the shared
    # thread pool, and a probe must still answer then.
    probes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="airfoil-readyz")

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready"}})
    async def readyz(request: Request) -> Any:
        """Readiness: the database answers, every engine slot runs, none is paused; and how
        many executions its slots drive now."""
        deps: Deps = request.app.state.deps
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(probes, deps.registry.ping), 10.0)
        except Exception as exc:
            # the probe needs no key: the database's address stays in the server's log
            log.warning("/readyz: the database does not answer: %s", str(exc) or repr(exc))
            return error_response(503, "store_unavailable", DATABASE_DOWN)
        driver = deps.driver
        if driver is not None and not driver.alive():
            if driver.starting():
                return error_response(
                    503, "engine_starting", "the engine is starting its worker processes"
                )
            return error_response(503, "engine_stopped", "the engine loop is not running")
        # counts, not ids: a probe needs no key, and the ids are every project's runs
        if driver is not None and driver.paused:
            paused = len(driver.paused)
            return error_response(
                503, "store_unavailable", f"{paused} execution(s) paused until the database answers"
            )
        return {"status": "ready", "driving": len(driver.busy()) if driver else 0}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        m: Metrics = request.app.state.metrics
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


#: Where ``make install`` (``npm run build`` in ``ui/``) puts the built web console.
STATIC_DIR = Path(__file__).parent / "static"

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Airfoil</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Airfoil</h1><p>The web console is not built in this installation: run
<code>make install</code> in a clone of Airfoil (it builds <code>ui/</code> into the server's
static folder). The API is served under <a href="/docs">/api/v1</a>.</p></body>"""


def _install_console(app: FastAPI) -> None:
    """Serve the console's files at ``/``; any other path that is not the API's is answered
    with its ``index.html`` (the console routes in the browser)."""
    from fastapi.responses import FileResponse, HTMLResponse

    root = STATIC_DIR.resolve()

    @app.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
        response_model=None,
    )
    def console(path: str, request: Request) -> Response:
        if request.method not in ("GET", "HEAD") or path == "api" or path.startswith("api/"):
            return error_response(404, "not_found", f"no route {request.method} /{path}")
        index = root / "index.html"
        if path:
            wanted = (root / path).resolve()
            if wanted.is_relative_to(root) and wanted.is_file():
                # hashed asset names never change; index.html must be fetched each time
                cache = (
                    "public, max-age=31536000, immutable"
                    if "/assets/" in ("/" + path)
                    else "no-cache"
                )
                return FileResponse(wanted, headers={"Cache-Control": cache})
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_NOT_BUILT)
