"""The embedded engine: the entry point that runs a workflow or task called as a function, and
what the CLI and the server build their local runtime with.

This is where the seams are joined, once per settings per process: the metadata and blob
stores opened from settings, the type engine (codecs), the runtime that runs attempts
(:class:`~airfoil.runtime.worker.WorkerRuntime`, given to executors, never looked up by them)
and the executor registry. The layers below never import this module: the SDK reaches it
through :mod:`airfoil.core.local_runner`, which the top-level ``airfoil`` package points at
:data:`EMBEDDED` (importing this module only on the first call).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from airfoil.core.blobs import BlobStore
from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import ConfigError, InvalidInputError
from airfoil.core.log_lines import printed
from airfoil.core.records import AttemptRecord, Value
from airfoil.core.resources import SCHEDULING_POLICIES
from airfoil.engine.launcher import Launcher
from airfoil.engine.local import (
    convert_inputs,
    decode_outputs,
    raise_for_failure,
    spec_of,
)
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors._blob_cache_config import BlobCacheConfig
from airfoil.executors.base import Executor
from airfoil.executors.hooks import HookedExecutor, Hooks
from airfoil.executors.observe import ObservingHooks
from airfoil.executors.registry import ExecutorContext, ExecutorRegistry, default_executors
from airfoil.runtime._task_types import TaskTypes
from airfoil.runtime.worker import WorkerRuntime, worker_runtime
from airfoil.sdk._interface import PyInterface
from airfoil.settings import AirfoilSettings
from airfoil.store.base import MetaStore
from airfoil.store.registry import RegistryStore
from airfoil.store.stores import Stores, open_stores
from airfoil.types import TypeEngine, added_converters, default_type_engine, load_converters

if TYPE_CHECKING:
    from airfoil.core.cluster import ClusterNode
    from airfoil.engine._resources import AdmissionQueue, ResourceQueue
    from airfoil.engine.state import RunState
    from airfoil.executors.tracing import TracingHooks
    from airfoil.store.admission import AdmissionStore

__all__ = [
    "EMBEDDED",
    "EmbeddedRunner",
    "LocalRuntime",
    "Runtime",
    "call_entity",
    "call_launch_plan",
    "convert_inputs",
    "decode_outputs",
    "get_runtime",
    "raise_for_failure",
    "spec_of",
]


@runtime_checkable
class Runnable(Protocol):
    """A task, workflow or map task of the SDK, as the embedded engine runs it."""

    name: str
    module: str
    py_interface: PyInterface


class Runtime:
    """One runtime: the stores, the executors, the codecs, the clock and the hooks, built
    once by an entry point and passed down (see docs/engine.md, "The runtime an entry point
    builds"). The CLI and ``wf(x=1)`` build a :class:`LocalRuntime`; the server builds one
    from its config with its own registry and secret box.

    Args:
        settings: which executor runs attempts by default, the project and domain of local
            launches, the scheduling policy and the parallelism.
        stores: the stores (:class:`~airfoil.store.stores.Stores`).
        executors: the executors by name (default: ``inline`` and ``process``).
        codecs: the type engine (default: the process's, as it is at each use).
        clock: the clock of launches and drives (default: the system's).
        hooks: interceptors told about every attempt, and the context sent with it
            (:mod:`airfoil.executors.hooks`); none by default. Executors are always wrapped
            by :class:`~airfoil.executors.observe.ObservingHooks` (stores the metrics tasks
            log; an integer test per attempt that logged none), which tells these.
        task_types: the runners of task types for attempts run in this process (default:
            ``python`` and ``dynamic``). Worker processes build their own runtime: register
            an executor whose runtime factory gives them the same types.
    """

    #: Whether its runs are local runs (a script's ``wf()``, ``airfoil run``): a task whose
    #: requests are hints there (flytekit-style, ``core.resources.LOCAL_RESOURCES_KEY``) runs
    #: with what this machine has. A server's runtime honours every request.
    local_run = False

    def __init__(
        self,
        settings: AirfoilSettings,
        stores: Stores,
        *,
        executors: ExecutorRegistry | None = None,
        codecs: TypeEngine | None = None,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        task_types: TaskTypes | None = None,
    ) -> None:
        self.settings = settings
        self.stores = stores
        if settings.converters:
            load_converters(settings.converter_paths())
        self._codecs = codecs
        self.clock: Clock = clock or SystemClock()
        self.worker_runtime = WorkerRuntime(codecs, task_types=task_types)
        self.executors = executors or default_executors()
        if settings.executor not in self.executors.names():
            stores.close()
            raise ConfigError(
                f"unknown executor {settings.executor!r} (AIRFOIL_EXECUTOR): use "
                + " or ".join(repr(n) for n in self.executors.names())
            )
        self._tracing: TracingHooks | None = None
        if settings.resolved_otel_endpoint():  # only then is OpenTelemetry imported
            from airfoil.executors.tracing import MapSampling, TracingHooks

            sampling = MapSampling(
                settings.otel_map_first, settings.otel_map_every, settings.otel_map_failures
            )
            try:
                hooks = self._tracing = TracingHooks(
                    settings.resolved_otel_endpoint(),
                    hooks,
                    map_sampling=sampling,
                    nodes=stores.meta.get_nodes,
                )
            except ConfigError:
                stores.close()
                raise
        self.hooks = hooks
        # Stores what attempts logged about themselves (metrics), then tells ``hooks``.
        self._observing = ObservingHooks(stores.meta, stores.blobs, hooks)
        self._executors: dict[str, Executor] = {}
        self._resources: AdmissionQueue | None = None
        self._admission: AdmissionStore | None = None
        self._launcher: Launcher | None = None
        self._lock = threading.Lock()
        self._cluster_queues: dict[str, AdmissionQueue] = {}

    @property
    def meta(self) -> MetaStore:
        """The metadata store (``stores.meta``)."""
        return self.stores.meta

    @property
    def blobs(self) -> BlobStore:
        """The blob store (``stores.blobs``)."""
        return self.stores.blobs

    @property
    def blob_url(self) -> str:
        """The blob store's URL (``stores.blob_url``)."""
        return self.stores.blob_url

    @property
    def registry(self) -> RegistryStore:
        """The registry store (``stores.registry``: opened on first use)."""
        return self.stores.registry

    @property
    def types(self) -> TypeEngine:
        """The codecs: the type engine given, or the process's as it is now (converters added
        with :func:`airfoil.types.add_converter` after this runtime was built included)."""
        return self._codecs or default_type_engine()

    @property
    def resources(self) -> AdmissionQueue:
        """The process's resource queue: every engine of this runtime admits through it, so
        executions run from several threads share the machine fairly (with ``admission =
        database``, through the machine's admission authority, shared by every process on
        this database)."""
        with self._lock:
            if self._resources is None:
                from airfoil.engine._resources import machine_queue

                def make() -> ResourceQueue:
                    return machine_queue(
                        self.meta,
                        owner=owner,
                        policy=self.settings.scheduler_policy,
                        gpus=self.settings.gpus,
                        local_run=self.local_run,
                    )

                owner = _owner()
                self._resources = self._admitting(make, owner, f"machine:{_host()}")
            return self._resources

    def _admitting(
        self, make: Callable[[], ResourceQueue], owner: str, cluster: str
    ) -> AdmissionQueue:
        """``make()``: the process decides; or, with ``admission = database``, a replica's
        queue through the cluster's admission authority (deciding with ``make()``'s queue
        while it holds the authority)."""
        if self.settings.admission != "database":
            return make()
        from airfoil.engine._authority import AuthorityQueue
        from airfoil.store.admission import open_admission_store

        if self._admission is None:
            self._admission = open_admission_store(self.settings.database_url, self.settings.home)
        return AuthorityQueue(
            self._admission,
            self.settings.admission_cluster or cluster,
            owner,
            make,
            meta=self.meta,
            lease_s=self.settings.admission_lease_s,
        )

    @property
    def launcher(self) -> Launcher:
        """What writes new executions (built once, shared by every thread and engine): it
        checks resource requests against the queue of the settings' executor
        (:meth:`resources_for`: this machine's, or a cluster's) and secrets against
        ``stores.secrets``."""
        with self._lock:
            if self._launcher is None:
                self._launcher = Launcher(
                    self.meta,
                    clock=self.clock,
                    # the queue of the executor that runs them: a cluster's for Ray
                    capacity=lambda name: self.resources_for(self.executor(name)),
                    secrets=self.stores.secrets,
                    executor=self.settings.executor,
                    retry_backoff_s=EngineSettings().retry_backoff_s,
                    # a server's projects use only the cache scopes an admin declared
                    cache_scopes_declared_only=not self.local_run,
                )
            return self._launcher

    def resources_for(self, executor: Executor) -> AdmissionQueue:
        """The queue the engines of ``executor`` admit through: the machine's
        (:attr:`resources`), or, for an executor placing attempts on a cluster (Ray), one over
        the cluster's capacity and GPUs, shared by every engine of that executor."""
        cluster = executor.cluster_capacity()
        if cluster is None:
            return self.resources
        queue = self._cluster_queues.get(executor.name)
        if queue is None:
            from airfoil.engine._resources import ResourceQueue as Queue
            from airfoil.engine._resources import machine_queue

            owner = _owner()
            name = executor.name
            capacity = cluster
            on_nodes = executor.cluster_nodes() is not None

            def make() -> ResourceQueue:
                if on_nodes:
                    # the policy places on the cluster's real nodes, read from the executor
                    # (it caches them briefly, so nodes joining or leaving show within seconds)
                    return Queue(
                        capacity,
                        meta=self.meta,
                        owner=owner,
                        policy=self.settings.scheduler_policy,
                        # the runtime's shared executor of that name: it outlives the engines'
                        # own executors (a server's slots), which may close while the queue lives
                        cluster=lambda: self.executor(name).cluster_nodes() or [],
                    )
                return machine_queue(
                    self.meta,
                    owner=owner,
                    policy=self.settings.scheduler_policy,
                    gpus=capacity.gpu,
                    capacity=capacity,
                )

            address = self.settings.ray_address or f"local@{_host()}"
            queue = self._admitting(make, owner, f"{name}:{address}")
            self._cluster_queues[executor.name] = queue
        return queue

    def new_executor(
        self, name: str | None = None, *, max_parallel: int | None = None, hooked: bool = True
    ) -> Executor:
        """A new executor of this runtime, not shared with any engine (the caller closes it).

        ``max_parallel``: its attempts at once (default: the settings'). ``hooked=False``:
        the executor itself, not wrapped for the runtime's hooks (a server's shared worker
        pool wraps each slot's view of it instead).

        Raises:
            ConfigError: no executor has that name.
        """
        context = ExecutorContext(
            blobs=self.blobs,
            blob_url=self.blob_url,
            max_parallel=max_parallel or self.settings.max_parallel,
            runtime=self.worker_runtime,
            # Workers rebuild the process's engine from the converters added so far.
            runtime_factory=functools.partial(worker_runtime, added_converters()),
            durability=self.settings.durability,
            ray_address=self.settings.ray_address,
            worker_nice=self.settings.worker_nice,
            blob_cache=BlobCacheConfig(
                directory=self.settings.blob_cache_dir,
                max_bytes=self.settings.blob_cache_bytes,
                local_stores=self.settings.blob_cache_local,
            ),
        )
        executor = self.executors.create(name or self.settings.executor, context)
        return self.hooked(executor) if hooked else executor

    def hooked(self, executor: Executor) -> Executor:
        """``executor``, reporting its attempts to the observability hooks (which store the
        metrics tasks log) and through them to the runtime's hooks, if any."""
        return HookedExecutor(executor, self._observing)

    def cluster_nodes(self) -> list[ClusterNode] | None:
        """The live nodes of the cluster the settings' executor places attempts on (it
        joins the cluster if it had not yet); None: that executor runs on this machine."""
        return self.executor().cluster_nodes()

    def executor(self, name: str | None = None) -> Executor:
        """The runtime's shared executor called ``name`` (default: the settings')."""
        name = name or self.settings.executor
        with self._lock:
            ex = self._executors.get(name)
        if ex is None:
            made = self.new_executor(name)
            with self._lock:
                ex = self._executors.setdefault(name, made)
            if ex is not made:
                made.close()
        return ex

    def engine_settings(self) -> EngineSettings:
        """The driver loop's settings of local runs: the settings' project, domain,
        parallelism and policy, map items journaled under ``home/journals``."""
        return EngineSettings(
            project=self.settings.project,
            domain=self.settings.domain,
            max_parallel=self.settings.max_parallel,
            scheduler_policy=self.settings.scheduler_policy,
            journal_dir=str(Path(self.settings.home) / "journals"),
            journal_sync=self.settings.durability == "power",
            lease_ttl_s=self.settings.lease_ttl_s,
            anomaly_k=self.settings.anomaly_k,
            anomaly_min_history=self.settings.anomaly_min_history,
            history_runs=self.settings.history_runs,
            cache_scopes_declared_only=not self.local_run,
        )

    def engine(
        self,
        executor: str | Executor | None = None,
        on_change: Callable[[RunState], None] | None = None,
        *,
        settings: EngineSettings | None = None,
        secrets: Callable[[str], str | None] | None = None,
    ) -> Engine:
        """An engine over this runtime: its stores, clock, codecs, resources and launcher.

        Args:
            executor: the shared executor of that name (default: the settings'), or an
                executor object the caller owns (a server's driver slot).
            on_change: called after each state write.
            settings: the loop's settings (default: :meth:`engine_settings`).
            secrets: the secrets the engine hands to attempts (default: those of
                ``stores.secrets`` for the settings' project).
        """
        ex = executor if isinstance(executor, Executor) else self.executor(executor)
        loop_settings = settings or self.engine_settings()
        if self.settings.scheduler_policy not in SCHEDULING_POLICIES:
            from airfoil.scheduler import get_policy

            get_policy(self.settings.scheduler_policy)  # raises UnknownPolicyError
        if secrets is None:
            source, project = self.stores.secrets, loop_settings.project

            def secrets(name: str) -> str | None:
                return source.get_many(project, (name,)).get(name)

        return Engine(
            self.meta,
            self.blobs,
            ex,
            blob_url=self.blob_url,
            clock=self.clock,
            settings=loop_settings,
            on_change=on_change,
            secrets=secrets,
            # built when a task first asks for resources (most runs never do)
            resources=lambda: self.resources_for(ex),
            types=self.types,
            launcher=self.launcher,
            hooks=self.hooks,
            # the task history waiting is written when a run finishes
            on_finished=self._observing.execution_finished,
        )

    def close(self) -> None:
        """Close the resource queue, the executors and the stores."""
        if self._resources is not None:
            self._resources.close()
        for queue in self._cluster_queues.values():
            queue.close()
        for ex in self._executors.values():
            ex.close()
        self._observing.close()  # the task history still waiting
        if self._tracing is not None:  # export the spans still buffered
            self._tracing.close()
            self._tracing = None
        if self._admission is not None:
            self._admission.close()
        self.stores.close()


class LocalRuntime(Runtime):
    """The embedded engine's runtime: its stores opened from ``settings`` (the registry on
    first use, secrets from ``AIRFOIL_SECRET_<NAME>``). Built once per settings per process
    (:func:`get_runtime`). Its runs are local runs (:attr:`Runtime.local_run`).

    Args:
        settings: where the stores are and which executor runs attempts by default.
        executors / codecs / hooks / task_types: as :class:`Runtime`'s.
    """

    local_run = True

    def __init__(
        self,
        settings: AirfoilSettings,
        *,
        executors: ExecutorRegistry | None = None,
        codecs: TypeEngine | None = None,
        hooks: Hooks | None = None,
        task_types: TaskTypes | None = None,
    ) -> None:
        stores = open_stores(
            settings.database_url,
            settings.home,
            settings.resolved_blob_url(),
            durability=settings.durability,
        )
        super().__init__(
            settings,
            stores,
            executors=executors,
            codecs=codecs,
            hooks=hooks,
            task_types=task_types,
        )


_runtimes: dict[str, LocalRuntime] = {}
_lock = threading.Lock()
#: The settings last read from the environment, with what they were read from and their key.
_from_env: tuple[tuple[str, ...], AirfoilSettings, str] | None = None


def _env_settings() -> tuple[AirfoilSettings, str]:
    """The settings the environment gives now, and their key.

    Reading them (pydantic-settings) costs about a millisecond, paid by every workflow called
    as a function; so they are read again only when what they depend on changed: the
    ``AIRFOIL_*`` variables (any case) and ``HOME`` (the default home)."""
    global _from_env
    env = os.environ
    ours = sorted(f"{k}={v}" for k, v in env.items() if k[:8].upper() == "AIRFOIL_")
    snapshot = (env.get("HOME", ""), *ours)
    cached = _from_env
    if cached is not None and cached[0] == snapshot:
        return cached[1], cached[2]
    settings = AirfoilSettings()
    key = settings.model_dump_json()
    _from_env = (snapshot, settings, key)
    return settings, key


def get_runtime(settings: AirfoilSettings | None = None) -> LocalRuntime:
    """The process's runtime for these settings (default: from the environment)."""
    if settings is None:
        settings, key = _env_settings()
    else:
        key = settings.model_dump_json()
    with _lock:
        rt = _runtimes.get(key)
        if rt is None:
            rt = _runtimes[key] = LocalRuntime(settings)
        return rt


def call_entity(entity: object, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
    """Run a workflow or task called as a function; return its outputs as Python values."""
    from airfoil.core.code_versions import save_manifests
    from airfoil.engine.control import TerminateWatch, drive_watched
    from airfoil.sdk._versioning import manifest_for, project_root

    if not isinstance(entity, Runnable):
        raise InvalidInputError(f"cannot run {entity!r}: it is not a task or workflow")
    names = list(entity.py_interface.input_types)
    if len(args) > len(names):
        raise InvalidInputError(
            f"{entity.name} takes {len(names)} inputs but {len(args)} positional arguments "
            "were given"
        )
    given: dict[str, object] = dict(zip(names, args, strict=False))
    given.update(kwargs)
    runtime = get_runtime()
    values: dict[str, Value] = convert_inputs(entity, given, runtime)
    watch = TerminateWatch(runtime.executor(), runtime.meta, "")  # `airfoil executions abort`
    engine = runtime.engine(watch, on_change=GateNotice(sys.stderr))
    spec = spec_of(entity)
    save_manifests(runtime.blobs, spec, manifest_for)
    record = engine.launch(spec, values, code_root=project_root(entity.module), keep=True)
    record = drive_watched(engine, watch, record.id)
    if getattr(entity, "echo_task_output", False):
        replay_output(record.id, runtime)
    raise_for_failure(record)
    return decode_outputs(entity, record, runtime)


class GateNotice:
    """An engine ``on_change`` that says once, on ``stream``, when a gate of the run waits for
    a signal, with the ``airfoil signal`` command that answers it (a script calling a
    workflow would otherwise wait in silence). Cheap: it looks at the gate nodes only."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._gates: list[str] = []
        self._graph_size = -1
        self._told: set[str] = set()

    def __call__(self, state: RunState) -> None:
        graph = state.graph
        if len(graph) != self._graph_size:  # a dynamic node or a map added nodes
            self._graph_size = len(graph)
            self._gates = [nid for nid, fn in graph.items() if fn.gate is not None]
        for nid in self._gates:
            gate = graph[nid].gate
            rec = state.records.get(nid)
            if gate is None or gate.kind == "sleep" or rec is None or rec.phase != "running":
                continue
            if nid not in self._told:
                self._told.add(nid)
                value = "true|false" if gate.kind == "approve" else "VALUE"
                self.stream.write(
                    f"waiting: {nid} waits for {gate.name!r}: airfoil signal "
                    f"{state.execution.display_name} {gate.name} {value}\n"
                )
                self.stream.flush()


def replay_output(execution_id: str, runtime: LocalRuntime) -> None:
    """Write what the execution's attempts printed to this process's stdout, in the order
    they started (as a script calling flytekit workflows shows its tasks' prints). Used for
    entities marked ``echo_task_output`` (``airfoil.compat.flytekit``'s); a failure's
    traceback (the raised error carries it) and the context logger's records are left out."""
    attempts = runtime.meta.get_attempts(execution_id)
    # A map's items run at once but print in item order, after what ran before the map.
    first: dict[str, float] = {}
    for a in attempts:
        base = _ITEM.sub("", a.node_id)
        first[base] = min(first.get(base, a.started_at or 0), a.started_at or 0)

    def order(a: AttemptRecord) -> tuple[float, str, int, float]:
        found = _ITEM.search(a.node_id)
        base = _ITEM.sub("", a.node_id)
        return (first[base], base, int(found.group(1)) if found else -1, a.started_at or 0)

    for att in sorted(attempts, key=order):
        if not att.log_uri:
            continue
        try:
            text = runtime.blobs.get_bytes(att.log_uri).decode("utf-8", "replace")
        except Exception:  # logs are best effort
            continue
        # what was printed (stdout and stderr), not logging records or the traceback entry
        lines = [ln for ln in printed(text).splitlines() if not _LOG_RECORD.match(ln)]
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


#: A record of a task's context logger (``sdk._context``'s format): a log line, which a
#: flytekit script shows on stderr, not in what its tasks print.
_ITEM = re.compile(r"\[(\d+)\]$")
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def call_launch_plan(plan: object, given: dict[str, object]) -> object:
    """Run a launch plan called as a function; return its outputs as Python values.

    Raises:
        InvalidInputError: a fixed, unknown, missing or ill-typed input.
        ExecutionFailedError: the execution did not succeed (after notifications were sent).
    """
    from airfoil.engine.launch_plans import (
        drive_and_notify,
        launch_launch_plan,
        local_launch_inputs,
    )
    from airfoil.sdk._launch_plan import LaunchPlan
    from airfoil.sdk._versioning import project_root

    if not isinstance(plan, LaunchPlan):
        raise InvalidInputError(f"cannot run {plan!r}: it is not a launch plan")
    runtime = get_runtime()
    values = local_launch_inputs(plan, given, runtime)
    engine = runtime.engine()
    record = launch_launch_plan(engine, plan.spec, values, code_root=project_root(plan.module))
    record = drive_and_notify(engine, plan.spec, record.id)
    raise_for_failure(record)
    return decode_outputs(plan.workflow, record, runtime)


class EmbeddedRunner:
    """The :class:`~airfoil.core.local_runner.LocalRunner` of the embedded engine."""

    def call_entity(
        self, entity: object, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> object:
        return call_entity(entity, args, kwargs)

    def call_launch_plan(self, plan: object, inputs: dict[str, object]) -> object:
        return call_launch_plan(plan, inputs)


EMBEDDED = EmbeddedRunner()


def _host() -> str:
    import socket

    return socket.gethostname()


def _owner() -> str:
    """A queue's name in snapshots and admission tables: ``host:pid:nonce``."""
    import os
    import uuid

    return f"{_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
