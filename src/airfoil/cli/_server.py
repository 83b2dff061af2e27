"""``airfoil server start`` and ``airfoil auth ...``: running a server and managing its keys.

Both read the same settings as every command (``AIRFOIL_HOME``, ``AIRFOIL_DATABASE_URL``,
``AIRFOIL_BLOB_URL``), overridable by options, so ``auth create-key`` writes to the database
the server reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from airfoil.cli._common import err_console, handle_errors, out_console, plain

if TYPE_CHECKING:
    from airfoil.server import ServerConfig
    from airfoil.server._ray_deployments import ServeBackend

__all__ = ["register"]

server_app = typer.Typer(no_args_is_help=True, help="Run the Airfoil server.")
auth_app = typer.Typer(no_args_is_help=True, help="Manage API keys of the server.")
secrets_app = typer.Typer(no_args_is_help=True, help="Manage secrets tasks can ask for.")

_ROLES = ("viewer", "runner", "admin")


def _settings(database_url: str | None, blob_url: str | None) -> object:
    from airfoil.cli._common import load_settings

    s = load_settings()
    if database_url is not None:
        s.database_url = database_url
    if blob_url is not None:
        s.blob_url = blob_url
    return s


@server_app.command("start")
@handle_errors
def start(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    database_url: str = typer.Option(
        None, "--database-url", help="Metadata store (default: SQLite in AIRFOIL_HOME)."
    ),
    blob_url: str = typer.Option(None, "--blob-url", help="Blob store (default: home/blobs)."),
    slots: int = typer.Option(4, help="Executions this server drives at once."),
    max_parallel: int = typer.Option(
        None,
        "--max-parallel",
        help="Attempts at once per execution, and the default of --workers (with --workers 0: "
        "worker processes per driver slot). Where the slots share a pool, a slot has out "
        "its share of the workers, more (up to 4 a worker) while the attempts are short, "
        "and --max-parallel caps that. Default: no cap there; else the CPU count, at least 4.",
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        help="Worker processes shared by all the driver slots (attempts handed out "
        "round-robin over the executions driven): --slots then bounds only the executions "
        "driven at once. 0: each slot has its own --max-parallel workers. Default: "
        "--max-parallel if given, else the CPU count, at least 4, on the process executor.",
    ),
    worker_nice: int = typer.Option(
        None,
        "--worker-nice",
        help="How much lower the worker processes' CPU priority is than the engine's (a nice "
        "increment, 0-19; default 0): on a busy machine the API and the engine run before "
        "user tasks (which run slower then).",
    ),
    lease_ttl: float = typer.Option(
        5.0, "--lease-ttl", help="Seconds before a dead server's executions move elsewhere."
    ),
    store_retry_budget: float = typer.Option(
        120.0,
        "--store-retry-budget",
        help="Seconds a database call retries a transient failure (connection lost, deadlock) "
        "before its execution is paused until the database answers.",
    ),
    stop_grace: int = typer.Option(
        10,
        "--stop-grace",
        help="Seconds a server told to stop (SIGTERM, Ctrl-C) lets open requests finish before "
        "it cancels them, and its driver slots then have to hand back their leases (an engine "
        "process gets 5 s more before it is killed): SIGTERM to exit takes at most about "
        "twice this plus 5 s.",
    ),
    no_engine: bool = typer.Option(False, "--no-engine", help="Serve the API only."),
    executor: str = typer.Option(
        None,
        "--executor",
        help="What runs attempts: process (worker processes here, the default) or ray (a Ray "
        "cluster: pip install 'airfoil[ray]'). AIRFOIL_EXECUTOR when it names one of them. "
        "Not inline: a server never runs user code in its own processes.",
    ),
    ray_address: str = typer.Option(
        None,
        "--ray-address",
        help="Ray cluster for --executor ray (host:port, ray://host:10001, auto; "
        "AIRFOIL_RAY_ADDRESS). Default: a local Ray for as long as the server runs.",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    open_browser: bool = typer.Option(
        False, "--open", help="Open the web console in a browser once the server is up."
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="A name requests may be addressed to (their Host) while the server has no API "
        "keys, besides localhost and IP addresses: NAME, .example.com (it and its "
        "subdomains) or * (any); repeatable; also AIRFOIL_ALLOWED_HOSTS (comma-separated). "
        "Others are refused so that a web page whose DNS name points here cannot use an "
        "open server.",
    ),
) -> None:
    """Start the API, the web console and the engine loop in this process (stop with Ctrl-C
    or SIGTERM)."""
    import gc

    # No collections while the server starts: what it imports and opens lives as long as
    # the server, and is frozen uncollected once it is up, where the app enables the
    # collector again (ServerConfig.freeze_heap). Enabled again here too, whatever happens.
    gc.disable()
    try:
        _start(
            host=host,
            port=port,
            database_url=database_url,
            blob_url=blob_url,
            slots=slots,
            max_parallel=max_parallel,
            workers=workers,
            worker_nice=worker_nice,
            lease_ttl=lease_ttl,
            store_retry_budget=store_retry_budget,
            stop_grace=stop_grace,
            no_engine=no_engine,
            executor=executor,
            ray_address=ray_address,
            log_level=log_level,
            open_browser=open_browser,
            allowed_hosts=(*_listed("AIRFOIL_ALLOWED_HOSTS", ()), *allowed_host),
        )
    finally:
        gc.enable()


def _start(
    host: str,
    port: int,
    database_url: str | None,
    blob_url: str | None,
    slots: int,
    max_parallel: int | None,
    workers: int | None,
    worker_nice: int | None,
    lease_ttl: float,
    store_retry_budget: float,
    stop_grace: int,
    no_engine: bool,
    executor: str | None,
    ray_address: str | None,
    log_level: str,
    open_browser: bool,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    import math

    import uvicorn

    from airfoil.core.errors import ConfigError
    from airfoil.server import ServerConfig, create_app
    from airfoil.server._config import (
        API_THREADS_WARM,
        INLINE_REFUSED,
        MAX_STOP_GRACE_S,
        WORKER_NICE,
        cli_shared_workers,
    )
    from airfoil.server._registry import Registry

    if slots < 1 or not 0 < lease_ttl < math.inf:  # NaN too: a lease that never lapses
        raise ConfigError(
            f"--slots must be at least 1 and --lease-ttl a positive number of seconds (got "
            f"--slots {slots}, --lease-ttl {lease_ttl})"
        )
    if not 0 <= store_retry_budget < math.inf:
        raise ConfigError(
            "--store-retry-budget must be zero (never retry) or a positive number of seconds, "
            f"not {store_retry_budget}"
        )
    if not 1 <= stop_grace <= MAX_STOP_GRACE_S:
        raise ConfigError(
            f"--stop-grace must be at least 1 and at most {MAX_STOP_GRACE_S} (seconds), not "
            f"{stop_grace}"
        )
    s: object = _settings(database_url, blob_url)
    home, db, blobs = s.home, s.database_url, s.resolved_blob_url()  # type: ignore[attr-defined]
    if executor is None:
        # The settings' inline (their default, for local runs) is a local run's: a server
        # runs workers. Say so when someone chose it (`--executor inline` is refused).
        executor = s.executor  # type: ignore[attr-defined]
        if executor == "inline":
            executor = "process"
            if "executor" in s.model_fields_set:  # type: ignore[attr-defined]
                err_console.print(
                    "note: AIRFOIL_EXECUTOR=inline is for local runs; this server runs tasks "
                    "on the 'process' executor (a server never runs user code in its own "
                    "processes)"
                )
    from airfoil.executors.registry import default_executors

    if executor == "inline":
        raise ConfigError(f"--executor inline: {INLINE_REFUSED}")
    if executor not in default_executors().names():
        raise ConfigError(
            f"unknown executor {executor!r}: use "
            + " or ".join(repr(n) for n in default_executors().names())
        )
    registry = Registry(db, home)
    try:
        keys = registry.keys_configured()
    finally:
        registry.close()
    config = ServerConfig(
        home=home,
        database_url=db,
        blob_url=blobs,
        run_engine=not no_engine,
        slots=slots,
        max_parallel=max_parallel,
        workers=workers,
        lease_ttl_s=lease_ttl,
        secrets_key=os.environ.get("AIRFOIL_SECRETS_KEY") or None,
        store_retry_budget_s=store_retry_budget,
        converters=tuple(s.converter_paths()),  # type: ignore[attr-defined]
        durability=s.durability,  # type: ignore[attr-defined]
        executor=executor,
        ray_address=ray_address or s.ray_address,  # type: ignore[attr-defined]
        ray_serve=open_ray_serve,
        freeze_heap=True,
        webhook_denied_networks=_listed("AIRFOIL_WEBHOOK_DENIED_NETWORKS", ()),
        webhook_allowed_networks=_listed("AIRFOIL_WEBHOOK_ALLOWED_NETWORKS", ()),
        allowed_hosts=allowed_hosts,
        warm_workers=True,
        api_threads_warm=API_THREADS_WARM,
        worker_nice=WORKER_NICE if worker_nice is None else worker_nice,
        stop_grace_s=stop_grace,
    )
    if workers is None:  # one pool shared by the slots, of as many workers as a slot had
        config.workers = cli_shared_workers(config)
    config.engine_process = _engine_process(config)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    err_console.print(
        f"airfoil server on http://{host}:{port}  (console /, API /api/v1, docs /docs, "
        "metrics /metrics)"
    )
    plain(
        err_console,
        f"  store: {db or 'SQLite in ' + home}   blobs: {blobs}   durability: {config.durability}",
    )
    if executor == "ray":
        where = ray_address or s.ray_address or "a local Ray"  # type: ignore[attr-defined]
        plain(err_console, f"  executor: ray on {where}")
        _graceful_sigterm_with_ray()
    if not keys:
        err_console.print(
            "  [yellow]no API keys configured: accepting loopback clients only[/] "
            "(create one with `airfoil auth create-key --project P --role admin`)"
        )
    if open_browser:
        _open_when_ready(url)
    # The API's requests share the interpreter with the driver slots: each database call a
    # request makes gives up the GIL and waits up to a switch interval to get it back while
    # a slot computes. 1 ms instead of Python's 5 ms: p99 API latency under the engine's
    # load 141-173 ms instead of 200-299 ms (and 583-738 instead of 497-600 tasks/s) in two
    # alternating pairs of bench_server.py runs at load 7-9 (docs/dev/performance-log.md).
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=config.stop_grace_s,
    )


def _listed(variable: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """An environment variable's comma-separated values (``AIRFOIL_WEBHOOK_*_NETWORKS``,
    ``AIRFOIL_ALLOWED_HOSTS``); unset: ``default`` (set and empty: none)."""
    text = os.environ.get(variable)
    if text is None:
        return default
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _engine_process(config: ServerConfig) -> bool:
    """Whether the driver slots run in a process of their own (docs/server.md): when they
    drive on this machine's workers and the admission authority is the database's
    (PostgreSQL), so the API process and the engine process share it. A local Ray, or
    SQLite's in-process resource queue, stays with the API."""
    from airfoil.server._config import server_settings

    return (
        config.run_engine
        and config.executor == "process"
        and server_settings(config).admission == "database"
    )


#: The server process's GIL switch interval (see ``start``).
_SWITCH_INTERVAL_S = 0.001


def _graceful_sigterm_with_ray() -> None:
    """Keep SIGTERM a graceful stop once the server joins Ray.

    Ray's core worker, started in this process when the executor first joins the cluster,
    installs a failure-signal handler for SIGTERM over uvicorn's: a SIGTERM then dumped a
    stack and ended the server before its graceful shutdown finished (or aborted it, exit
    134), so executions were not handed back and a local Ray was not shut down by it.
    Ray reads ``RAY_DISABLE_FAILURE_SIGNAL_HANDLER`` when it is first imported, so it is set
    before anything imports Ray (a value the user set wins). The worker processes of a local
    Ray this server starts inherit it (they too dump no stack on a crash); the workers of a
    cluster started with ``ray start`` keep the environment they were given.
    """
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")


def _open_when_ready(url: str) -> None:
    """Open ``url`` in the user's browser once the server answers (a background thread)."""
    import threading
    import time
    import urllib.request
    import webbrowser

    def wait_and_open() -> None:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        if not webbrowser.open(url):
            err_console.print(f"  open {url} in a browser to see the console")

    threading.Thread(target=wait_and_open, name="airfoil-open-console", daemon=True).start()


@auth_app.command("create-key")
@handle_errors
def create_key(
    project: str = typer.Option(..., "--project", help="Project of the key ('*': every one)."),
    role: str = typer.Option(..., "--role", help="viewer, runner or admin."),
    database_url: str = typer.Option(None, "--database-url", help="The server's database."),
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from airfoil.core.errors import ConfigError
    from airfoil.server._registry import Registry

    if role not in _ROLES:
        raise ConfigError(f"unknown role {role!r}: use viewer, runner or admin")
    s: object = _settings(database_url, None)
    registry = Registry(s.database_url, s.home)  # type: ignore[attr-defined]
    try:
        key_id, key = registry.create_key(project, role)
    finally:
        registry.close()
    plain(err_console, f"created key {key_id} ({role} of {project!r}); it is shown only once:")
    out_console.print(key, markup=False)


@auth_app.command("list-keys")
@handle_errors
def list_keys(
    database_url: str = typer.Option(None, "--database-url", help="The server's database."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List API keys (ids, projects, roles; never secrets)."""
    from airfoil.server._registry import Registry

    s: object = _settings(database_url, None)
    registry = Registry(s.database_url, s.home)  # type: ignore[attr-defined]
    try:
        keys = registry.list_keys()
    finally:
        registry.close()
    if as_json:
        rows = [
            {"id": k.id, "project": k.project, "role": k.role, "revoked": bool(k.revoked)}
            for k in keys
        ]
        out_console.print_json(json.dumps(rows))
        return
    for k in keys:
        state = "revoked" if k.revoked else "active"
        out_console.print(f"{k.id}  {k.project}  {k.role}  {state}", markup=False)


@auth_app.command("revoke-key")
@handle_errors
def revoke_key(
    key_id: str = typer.Argument(..., help="The key's id (the part after 'af_')."),
    database_url: str = typer.Option(None, "--database-url", help="The server's database."),
) -> None:
    """Revoke an API key."""
    from airfoil.server._registry import Registry

    s: object = _settings(database_url, None)
    registry = Registry(s.database_url, s.home)  # type: ignore[attr-defined]
    try:
        registry.revoke_key(key_id)
    finally:
        registry.close()
    err_console.print(f"revoked key {key_id}")


@auth_app.command("reopen")
@handle_errors
def reopen(
    yes: bool = typer.Option(False, "--yes", help="Confirm: loopback clients become admins."),
    database_url: str = typer.Option(None, "--database-url", help="The server's database."),
) -> None:
    """Open a server whose keys are all revoked again (no keys: loopback clients only, as
    admins). A server that ever had a key stays closed until this is run."""
    from airfoil.core.errors import ConfigError
    from airfoil.server._registry import Registry

    if not yes:
        raise ConfigError(
            "reopening makes every loopback client an admin of every project: run it again "
            "with --yes to confirm"
        )
    s: object = _settings(database_url, None)
    registry = Registry(s.database_url, s.home)  # type: ignore[attr-defined]
    try:
        gone = registry.reopen()
    finally:
        registry.close()
    err_console.print(
        f"the server is open again ({gone} revoked key(s) forgotten): it answers loopback "
        "clients only, as admins"
    )


@contextlib.contextmanager
def _box(database_url: str | None, project: str | None) -> Iterator[tuple[Any, str]]:
    """The secret box of the database (the local one by default), closed after use, and
    the project (``AIRFOIL_PROJECT`` unless given; checked as a server checks it)."""
    from airfoil.core.errors import ConfigError
    from airfoil.core.projects import project_name_problem
    from airfoil.server._registry import Registry
    from airfoil.server._secrets import SecretBox

    s: Any = _settings(database_url, None)
    project = project or s.project
    problem = project_name_problem(project)
    if problem is not None:
        raise ConfigError(f"--project: {problem}")
    registry = Registry(s.database_url, s.home)
    try:
        yield SecretBox(registry, os.environ.get("AIRFOIL_SECRETS_KEY")), project
    finally:
        registry.close()


_SECRET_PROJECT = typer.Option(
    None, "--project", help="Project of the secrets (default: AIRFOIL_PROJECT)."
)
_SECRET_DATABASE = typer.Option(
    None, "--database-url", help="The server's database (default: the local one)."
)


@secrets_app.command("set")
@handle_errors
def secrets_set(
    name: str = typer.Argument(..., help="The secret's name (as in secret_requests)."),
    project: str = _SECRET_PROJECT,
    database_url: str = _SECRET_DATABASE,
) -> None:
    """Store a secret, read from stdin (or a hidden prompt), encrypted with
    AIRFOIL_SECRETS_KEY. Local runs read it too (with the same key set)."""
    value = (
        typer.prompt(f"value of {name}", hide_input=True)
        if sys.stdin.isatty()
        else sys.stdin.read().rstrip("\n")
    )
    with _box(database_url, project) as (box, project):
        box.set(project, name, value)
    plain(err_console, f"secret {name!r} of project {project!r} stored (encrypted)")


@secrets_app.command("list")
@handle_errors
def secrets_list(
    project: str = _SECRET_PROJECT,
    database_url: str = _SECRET_DATABASE,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of names."),
) -> None:
    """List secret names of a project (never values)."""
    with _box(database_url, project) as (box, project):
        names = list(box.names(project))
    if as_json:
        out_console.print_json(json.dumps(names))
        return
    for name in names:
        out_console.print(name, markup=False)


@secrets_app.command("delete")
@handle_errors
def secrets_delete(
    name: str = typer.Argument(..., help="The secret's name."),
    project: str = _SECRET_PROJECT,
    database_url: str = _SECRET_DATABASE,
) -> None:
    """Delete a stored secret (tasks asking for it then fail to launch, naming it)."""
    with _box(database_url, project) as (box, project):
        box.delete(project, name)
    plain(err_console, f"secret {name!r} of project {project!r} deleted")


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key for AIRFOIL_SECRETS_KEY."""
    from airfoil.server._secrets import new_key

    out_console.print(new_key(), markup=False)


def register(app: typer.Typer) -> None:
    """Add ``server``, ``auth``, ``register`` and ``remote`` to the ``airfoil`` app."""
    from airfoil.cli import _remote

    app.add_typer(server_app, name="server", help="Run the Airfoil server.")
    app.add_typer(auth_app, name="auth", help="Manage the server's API keys.")
    app.add_typer(secrets_app, name="secrets", help="Manage secrets (encrypted at rest).")
    _remote.register(app)


def open_ray_serve(address: str | None) -> ServeBackend:
    """Ray Serve on the cluster at ``address`` (None: a local Ray), for the server's
    deployments on Ray (``airfoil deploy --on ray``); made when the first is asked for.

    Raises:
        ConfigError: Ray Serve is not installed, naming the extra that installs it.
    """
    from airfoil.core.errors import ConfigError

    try:
        from airfoil.ml._ray_serve import RayServe
    except ImportError as exc:
        raise ConfigError(
            f"deployments on Ray need Ray Serve, which is not installed ({exc}): "
            "pip install 'airfoil[ray]'"
        ) from None
    # The server's ray executor uses Ray in this process too: one connection, shared (two
    # racing ray.init calls would start two local Rays), released by the last user.
    from airfoil.executors._ray_connection import CONNECTION

    return RayServe(address, connection=CONNECTION)
