"""The server's configuration, and opening its runtime (stores, registry, secrets).

Kept apart from the app (``_app``: FastAPI and the routes) so the engine process
(:mod:`airfoil.server._engine_process`), which receives a pickled :class:`ServerConfig` and
opens its own runtime, imports neither FastAPI nor the API's modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import ConfigError
from airfoil.executors.hooks import Hooks

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from airfoil.engine.webhooks import WebhookNetworks
    from airfoil.local import Runtime
    from airfoil.server._ray_deployments import ServeBackend
    from airfoil.server._registry import Registry
    from airfoil.settings import AirfoilSettings

__all__ = [
    "API_THREADS_WARM",
    "ENGINE_NICE",
    "ENGINE_STOP_MARGIN_S",
    "GRACEFUL_SHUTDOWN_S",
    "INLINE_REFUSED",
    "MIN_WORKERS_PER_SLOT",
    "WORKER_NICE",
    "ServerConfig",
    "freeze_heap",
    "open_runtime",
    "run_engine_process",
    "server_settings",
]

#: How much lower the engine process's CPU priority is than the API process's (``nice``).
ENGINE_NICE = 5

#: How long a server told to stop (SIGTERM, Ctrl-C) lets its open requests finish before it
#: cancels them and stops its engine (uvicorn's ``timeout_graceful_shutdown``). Without it
#: uvicorn waits for every connection to close: a client watching a running execution
#: (``/watch`` streams until the execution ends) kept the server, and its engine process with
#: its slots, running after SIGTERM for as long. The default of ``ServerConfig.stop_grace_s``
#: (``--stop-grace``): the driver slots get as long to stop, and an engine process
#: :data:`ENGINE_STOP_MARGIN_S` more before it is killed.
GRACEFUL_SHUTDOWN_S = 10

#: How much longer than the slots' own stop bound an engine process gets before it is killed.
ENGINE_STOP_MARGIN_S = 5

#: The longest ``stop_grace_s`` (an hour): a stop bound is a thread's join timeout, and one
#: past ``threading.TIMEOUT_MAX`` (a "forever" such as 10**10) raised OverflowError in the
#: server's stop, leaving its slots' leases and workers behind.
MAX_STOP_GRACE_S = 3600

#: Why a server refuses the ``inline`` executor (DESIGN: user code runs only in workers).
INLINE_REFUSED = (
    "a server does not run the 'inline' executor: it would run tasks (user code) in the "
    "server's own engine process; use the 'process' executor (worker processes on this "
    "machine, the default) or 'ray' (a Ray cluster)"
)

#: How many of the API's request threads ``airfoil server start`` opens, with their database
#: connections, before it says it is up (``ServerConfig.api_threads_warm``): the threads the
#: benchmark's load kept busy at once (its console polls, launches and waits: 3-4 new
#: connections in a fresh server's first round before).
API_THREADS_WARM = 4

#: How much lower the worker processes' CPU priority is than the driver's by default
#: (``nice``; ``--worker-nice``): none. Lowered by 5, so that on a saturated machine the API
#: and the engine get a core before user tasks do, the benchmark's trivial tasks ran 9-20%
#: slower (each attempt waited longer for a core, and a slot's 4 workers bound how many run
#: at once) and the API's p99 was no better beyond the noise (docs/dev/performance-log.md,
#: "Fifteenth session"): an operator whose tasks are CPU-bound sets it.
WORKER_NICE = 0

#: The fewest worker processes a driver slot gets by default. A slot's turn writes the ends
#: of the attempts its workers finished as one fenced statement, so its workers bound how
#: many tasks share that statement's cost (~0.12-0.15 ms of the engine's CPU and a commit):
#: with 2 workers (a 2-core machine's CPU count) 0.52 statements a task, with 4, 0.28. On
#: 2 cores, 4 slots x 4 workers drive 2,219-2,302 trivial tasks/s against 1,476-1,922 with
#: 4 x 2 (docs/dev/performance-log.md), for 8 more idle workers (~4 MiB of PSS each). Machines with
#: more CPUs than this keep one worker per CPU per slot, as before.
MIN_WORKERS_PER_SLOT = 4


@dataclass
class ServerConfig:
    """How a server process runs.

    Attributes:
        home: the Airfoil home (default SQLite database and blobs).
        database_url: metadata store URL (None: SQLite in ``home``).
        blob_url: blob store URL (None: ``home/blobs``).
        run_engine: drive executions (the API alone otherwise).
        engine_process: drive them in a child process of this one (its own interpreter, so
            the API's latency does not wait on the driver slots; see
            :mod:`airfoil.server._engine_process`), not on threads of this process. Needs an
            admission authority in the database (PostgreSQL), and a configuration that
            pickles (``hooks`` included) where the engine process is spawned rather than
            forked (see ``EngineProcess``); ``airfoil server start`` chooses it on PostgreSQL.
        slots: executions driven at once.
        max_parallel: attempts at once per execution, and worker processes per driver slot
            (default :attr:`workers_per_slot`: on the process executor the CPU count, at
            least :data:`MIN_WORKERS_PER_SLOT`); where the slots share ``workers``, the
            pool decides how many attempts a slot has out (its share of the workers, deeper
            while the attempts are short) and ``max_parallel``, if given, caps it
            (:attr:`attempts_per_execution`).
        workers: worker processes shared by all the driver slots, on the process executor
            (``Driver``'s ``workers``): attempts are handed out round-robin over the
            executions driven, and ``slots`` bounds only how many are driven at once. 0 or
            None: each slot has its own ``max_parallel`` workers. ``airfoil server start``
            sets it (:func:`cli_shared_workers`).
        lease_ttl_s: lease lifetime; a dead server's executions move within about this long.
        secrets_key: the key secrets are encrypted with (``AIRFOIL_SECRETS_KEY``); without
            one, tasks get no secrets.
        clock: the clock (tests pass a fake one).
        converters: type converters to add to the type engine, by import path
            (``AIRFOIL_CONVERTERS``; see :func:`airfoil.types.add_converter`): the server
            previews their values and its workers rebuild them.
        hooks: interceptors told about every HTTP request the server answers
            (:meth:`~airfoil.executors.hooks.Hooks.http_request`).
        store_retry_budget_s: how long a database call retries a transient failure
            (connection lost, deadlock, timeout) before its execution is paused until the
            database answers again.
        durability: what a committed run survives (``AIRFOIL_DURABILITY``, see
            docs/caching.md): ``process`` or ``power``. Under ``power`` a SQLite store
            fsyncs every commit (``synchronous=FULL``), PostgreSQL sessions commit with
            ``synchronous_commit=on`` whatever the server's default, and a local blob store
            (the API's uploads and packages, the workers' outputs) fsyncs each blob and its
            directory before the write returns; an object store's PUT is durable already.
        executor: what runs the attempts of the executions this server drives: ``process``
            (worker processes on this machine) or ``ray`` (a Ray cluster). Not ``inline``:
            a server never runs user code in its own processes.
        ray_address: the Ray cluster of the ``ray`` executor (None: a local Ray); Ray
            deployments run there too.
        ray_serve: how deployments ``on="ray"`` reach Ray Serve: called with ``ray_address``
            when the first one is asked for (``airfoil server start`` passes
            :class:`airfoil.ml._ray_serve.RayServe`). None: this server does not run them.
        freeze_heap: once the server has opened everything, move the objects it holds for
            its whole life (imported modules, routes, schemas, stores) out of the garbage
            collector's reach (``gc.freeze``), before the engine process is forked and again
            once the API is up, so that a full collection, which holds the GIL (the event
            loop and every request wait), walks only what requests made since: 50-270 ms
            pauses in the API's process under the engine's load otherwise
            (docs/dev/performance-log.md). The engine process freezes its own heap too, once its
            runtime is open and again once its first execution has been driven (the modules
            a drive imports: 100k-120k tracked objects there otherwise, full collections of
            130-540 ms on the driver slots' threads). ``airfoil server start`` sets it, and
            pauses the collector (``gc.disable``) from its first line until the API is up:
            the start makes ~200k objects that live as long as the server and ~2k of
            garbage, and collecting while it made them walked them over and over (full
            collections of ~50k, ~105k and, at the first freeze, ~143k objects, and
            thousands of young ones: 0.14-0.25 s of CPU per start, docs/dev/performance-log.md). The
            first freeze then freezes the heap as it is (its garbage stays: a fixed ~2k
            objects), and the second, with the collector enabled again, collects what
            starting the driver and the loops left first; a forked engine process, paused
            too, freezes its heap as it is once its runtime is open and enables the
            collector then. Objects frozen are never collected, so a process that builds
            and drops many apps (tests) leaves it off.
        webhook_denied_networks: networks that launch-plan webhooks sent by this server
            may not reach (``AIRFOIL_WEBHOOK_DENIED_NETWORKS``, comma-separated CIDRs or
            addresses), beyond the internal networks (metadata services, loopback, private
            networks: :data:`airfoil.core.launch_plans.INTERNAL_NETWORKS`), which are
            refused unless allowed. A registrant writes the URL; the server makes the call.
        webhook_allowed_networks: networks its webhooks may reach though internal or in a
            denied network (``AIRFOIL_WEBHOOK_ALLOWED_NETWORKS``); the most specific network
            holding an address decides (:mod:`airfoil.engine.webhooks`).
        api_threads_warm: how many of the API's thread-pool threads are started before the
            server says it is up, each with its database connection open and the console's
            reads run once on it (see ``_app._warm``): a fresh server's first requests then
            find them. ``airfoil server start`` sets :data:`API_THREADS_WARM`; a server built
            in a test leaves it 0 (each thread connects on its first request). anyio stops
            a pool thread idle for 10 s (when the next request takes another); the store
            keeps its connection for the next new thread.
        worker_nice: how much lower the CPU priority of the process executor's workers is
            than the driver slots' (a ``nice`` increment, 0-19; default :data:`WORKER_NICE`,
            none): user code then yields a core to the API and the engine on a busy machine.
            In an engine process (itself at :data:`ENGINE_NICE` below the API) the workers
            end at the API's + 5 + this; 19 is the floor. Not applied on Ray (the cluster's
            workers).
        warm_workers: each driver slot starts its executor's workers (the process
            executor: the forkserver and ``max_parallel`` idle workers) before the server
            says it is ready (``/readyz``), so that its first executions do not pay for
            those starts (``Driver``'s ``warm``; docs/server.md). ``airfoil server start``
            sets it; a server built in a test, which may never run a task, leaves it off
            and starts workers with its first attempts.
        fast_lane: answer the hot GET routes (an execution's events page and detail, the
            executions list) on one hop to the thread pool, past FastAPI's per-request
            routing and dependency solving, with the same answers (``_fast_lane``). False:
            every request goes through FastAPI (the tests that compare the two).
        allowed_hosts: names besides ``localhost`` (and IP addresses) that requests may
            be addressed to (their ``Host``) while the server has no API keys
            (``--allowed-host``, ``AIRFOIL_ALLOWED_HOSTS``): ``name``, ``.example.com``
            (it and its subdomains) or ``*`` (any). Others are refused, so
            that a page whose DNS name rebinds to this machine cannot use an open server
            (:mod:`airfoil.server._hosts`).
        stop_grace_s: how long a server told to stop lets its open requests finish before it
            cancels them (``--stop-grace``, uvicorn's ``timeout_graceful_shutdown``), and its
            driver slots then have to hand back their leases and stop their workers; an engine
            process gets :data:`ENGINE_STOP_MARGIN_S` more before it is killed. SIGTERM to
            exit takes at most about twice this plus that margin: an operator whose
            orchestrator kills sooner (Kubernetes' ``terminationGracePeriodSeconds``, 30 s by
            default) sets it lower.
    """

    home: str
    database_url: str | None = None
    blob_url: str | None = None
    run_engine: bool = True
    engine_process: bool = False
    slots: int = 4
    max_parallel: int | None = None
    workers: int | None = None
    lease_ttl_s: float = 5.0
    secrets_key: str | None = None
    clock: Clock = field(default_factory=SystemClock)
    converters: tuple[str, ...] = ()
    hooks: Hooks | None = None
    store_retry_budget_s: float = 120.0
    durability: Literal["process", "power"] = "process"
    executor: str = "process"
    ray_address: str | None = None
    ray_serve: Callable[[str | None], ServeBackend] | None = None
    freeze_heap: bool = False
    webhook_denied_networks: tuple[str, ...] = ()
    webhook_allowed_networks: tuple[str, ...] = ()
    warm_workers: bool = False
    worker_nice: int = WORKER_NICE
    api_threads_warm: int = 0
    fast_lane: bool = True
    allowed_hosts: tuple[str, ...] = ()
    stop_grace_s: int = GRACEFUL_SHUTDOWN_S

    def __repr__(self) -> str:
        """Every field, without the secrets key or a database password (a debugger, an error
        reporter recording a frame's locals, a ``%r`` in a log line)."""
        from dataclasses import fields

        from airfoil.settings import masked_url

        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "secrets_key" and value is not None:
                value = "***"
            elif isinstance(value, str):
                value = masked_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __post_init__(self) -> None:
        from airfoil.settings import checked_setting

        # The settings' own checks (airfoil.settings): one rule and one message for a value
        # given here, as a keyword or as an AIRFOIL_* variable.
        checked_setting("durability", self.durability)
        checked_setting("worker_nice", self.worker_nice)
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0
        ):
            raise ConfigError(
                f"invalid workers {self.workers!r}: give the number of worker processes the "
                "driver slots share (at least 1), or 0 for each slot's own max_parallel workers"
            )
        if self.executor == "inline":
            raise ConfigError(INLINE_REFUSED)
        grace = self.stop_grace_s
        if (
            isinstance(grace, bool)
            or not isinstance(grace, int)
            or not 1 <= grace <= MAX_STOP_GRACE_S
        ):
            raise ConfigError(
                f"invalid stop_grace_s {self.stop_grace_s!r}: give the whole seconds (at least "
                f"1, at most {MAX_STOP_GRACE_S}) a stopping server lets open requests finish "
                "and its slots stop"
            )
        if self.workers and self.executor != "process":
            raise ConfigError(
                f"workers (a worker pool shared by the driver slots) is for the process "
                f"executor, not {self.executor!r}: leave it out (or 0) with this executor"
            )
        self.webhook_poster()  # a bad network is refused when the server is configured
        from airfoil.server._hosts import checked_hosts

        self.allowed_hosts = checked_hosts(self.allowed_hosts)

    def webhook_poster(self) -> WebhookNetworks:
        """The sender of this server's launch-plan webhooks, kept to its webhook networks."""
        from airfoil.engine.webhooks import WebhookNetworks

        return WebhookNetworks(self.webhook_denied_networks, self.webhook_allowed_networks)

    @property
    def workers_per_slot(self) -> int | None:
        """``max_parallel`` if set; else, on the process executor, this machine's CPU count,
        at least :data:`MIN_WORKERS_PER_SLOT` (a local run's default is the CPU count alone);
        None on another executor, whose own default holds (Ray's: the cluster's CPUs)."""
        import os

        if self.max_parallel:
            return self.max_parallel
        if self.executor != "process":
            return None
        return max(MIN_WORKERS_PER_SLOT, os.cpu_count() or 1)

    @property
    def attempts_per_execution(self) -> int | None:
        """The bound on the attempts of one execution a driver slot has out (its engine's
        ``max_parallel``): ``max_parallel`` if set; else None where the slots share a pool
        of ``workers`` on the process executor (the pool answers it as it goes: the slot's
        share of the workers, deeper while the attempts are short, see
        ``airfoil.executors._process_shared``; ``max_parallel`` caps that); else
        :attr:`workers_per_slot`."""
        if self.max_parallel:
            return self.max_parallel
        if self.workers and self.executor == "process":
            return None
        return self.workers_per_slot

    def resolved_blob_url(self) -> str:
        import os

        return self.blob_url or os.path.join(
            os.path.abspath(os.path.expanduser(self.home)), "blobs"
        )


def cli_shared_workers(config: ServerConfig) -> int | None:
    """The worker pool the driver slots of ``airfoil server start`` share when ``--workers``
    is not given: on the process executor as many workers as one slot had on its own
    (:attr:`ServerConfig.workers_per_slot`: ``--max-parallel``, else the CPU count, at least
    :data:`MIN_WORKERS_PER_SLOT`), so 4 slots of 4 workers each became 4 slots sharing 4
    (docs/dev/performance-log.md, "Sixteenth session"); None on another executor (each slot its
    own). ``ServerConfig`` itself still defaults to each slot its own executor."""
    return config.workers_per_slot if config.executor == "process" else None


def server_settings(config: ServerConfig) -> AirfoilSettings:
    """The typed settings of a server's runtime: its stores, executor (``process`` workers by
    default, or a Ray cluster), parallelism, durability and admission (on PostgreSQL, one
    authority for every replica, leased for ``lease_ttl_s``); the rest (policy, GPUs) from
    ``AIRFOIL_*`` as for any entry point."""
    from airfoil.settings import AirfoilSettings

    settings = AirfoilSettings(  # AIRFOIL_ADMISSION and the rest read and checked there
        admission_lease_s=config.lease_ttl_s,
        home=config.home,
        database_url=config.database_url,
        blob_url=config.resolved_blob_url(),
        executor=config.executor,
        ray_address=config.ray_address,
        max_parallel=config.workers_per_slot,
        worker_nice=config.worker_nice,
        converters=",".join(config.converters),
        durability=config.durability,
    )
    if settings.admission != "auto":
        return settings
    # auto: the replicas of a server on one PostgreSQL share one admission authority
    url = config.database_url or ""
    admission = "database" if url.startswith("postgresql") else "process"
    return settings.model_copy(update={"admission": admission})


def freeze_heap() -> None:
    """Collect what is garbage now, then freeze what is left (``ServerConfig.freeze_heap``).

    While the collector is paused (``airfoil server start`` pauses it until the server is
    up, see ``ServerConfig.freeze_heap``) the heap is frozen as it is: collecting would walk
    every object the start made so far (~140k-200k) to find ~2k of garbage, which stays."""
    import gc

    if gc.isenabled():
        gc.collect()
    gc.freeze()


def run_engine_process(
    config: ServerConfig, conn: Connection, switch_interval_s: float, close_fd: int = -1
) -> None:
    """The engine process's entry (started by :class:`EngineProcess`): its own runtime over
    the server's stores, driven until the API process stops it or is gone. ``close_fd``: the
    API process's end of the pipe, which a forked child holds a copy of (-1: none)."""
    import os
    import signal
    import sys

    from airfoil.server._engine_process import serve_engine

    if close_fd >= 0:
        os.close(close_fd)
    # From the start (opening the stores takes a while): Ctrl-C is the API process's to
    # handle, and a signal here must not wake the API's event loop, whose wake-up
    # descriptor a forked child inherits.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The API answers first: under CPU contention the engine (and the workers it starts,
    # which inherit this) yields to the API process (docs/dev/performance-log.md: API p99 under the
    # engine's load 81-124 ms niced, 500-1,088 ms not, one pair at load ~30).
    try:
        os.nice(ENGINE_NICE)
    except OSError:  # pragma: no cover - not permitted here: run as we are
        pass
    sys.setswitchinterval(switch_interval_s)  # the server's (the slots' GIL hand-offs)
    runtime, _registry = open_runtime(config, "engine")
    if config.freeze_heap:
        freeze_heap()  # what opening the runtime imported and built (see serve_engine)
    import gc

    gc.enable()  # forked while `airfoil server start` paused the collector: on from here
    serve_engine(runtime, config, conn)


def named_url(url: str | None, role: str) -> str | None:
    """``url`` with its PostgreSQL connections named for ``role`` in ``pg_stat_activity``
    (``application_name``: ``airfoil-api``, ``airfoil-engine``; ``NAME-api`` where the URL
    names ``NAME`` already), so an operator (and a benchmark, over a Unix socket too) tells
    a server's backends apart; any other URL as it is."""
    if url is None or not url.startswith("postgresql"):
        return url
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    given = parsed.query.get("application_name") or "airfoil"
    name = f"{given if isinstance(given, str) else given[0]}-{role}"[:63]
    named = parsed.update_query_dict({"application_name": name})
    return named.render_as_string(hide_password=False)


def open_runtime(config: ServerConfig, role: str = "api") -> tuple[Runtime, Registry]:
    """The server's runtime and its registry (which the runtime closes); ``role`` names the
    process's PostgreSQL connections (:func:`named_url`)."""
    from dataclasses import replace

    from airfoil.local import Runtime
    from airfoil.server._registry import Registry
    from airfoil.store.stores import NoSecrets, open_stores

    config = replace(config, database_url=named_url(config.database_url, role))
    settings = server_settings(config)
    registry = Registry(config.database_url, config.home, config.durability)
    box = None
    if config.secrets_key:
        from airfoil.server._secrets import SecretBox

        box = SecretBox(registry, config.secrets_key)
    stores = open_stores(
        config.database_url,
        config.home,
        settings.resolved_blob_url(),
        durability=settings.durability,
        retry_budget_s=config.store_retry_budget_s,
        registry=registry,
        secrets=box if box is not None else NoSecrets(),
    )
    from airfoil.store.sql import SqlMetaStore

    if isinstance(stores.meta, SqlMetaStore):  # a launch's head read: one round trip
        registry.read_heads_with(stores.meta)
    return Runtime(settings, stores, clock=config.clock, hooks=config.hooks), registry
