"""Model services as Ray Serve applications (``airfoil deploy NAME@ALIAS --on ray``).

A deployment on Ray is one Serve application, named ``airfoil.PROJECT.NAME``, routed at
``/PROJECT/NAME`` on Serve's HTTP proxy (127.0.0.1), with N replicas of :class:`ModelReplica`.
Each replica builds the service ``airfoil serve`` builds (:func:`create_service` around a
:class:`ModelService`, the same registry, the same file defining the model) and Serve's ASGI
ingress serves it, so the request and response schemas, ``/predict``, ``/health``,
``/metadata``, ``/metrics``, ``/drift`` and the swap on an alias move are that code, not a copy.

Through the proxy a request reaches one replica of Serve's choosing, so a replica cannot be
asked alone for the version it serves or for its drift statistics. Each replica therefore
publishes its state (pid, version, drift report) to the cluster's key-value store every
second, under ``airfoil-serve/APP/REPLICA_ID``, and :meth:`RayServe.state` reads it beside the
controller's list of replicas (their ids, actors, pids and states).

Ray is imported by this module only: nothing imports it until a Ray deployment is asked for.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import ray
from pydantic.warnings import PydanticDeprecatedSince20
from ray.experimental import internal_kv

from airfoil.core.errors import ConfigError, UnschedulableTaskError
from airfoil.core.forks import forked_from
from airfoil.core.projects import qualified_name
from airfoil.core.resources import ResourceSpec
from airfoil.ml._registry import local_registry, parse_ref
from airfoil.ml._serve import ModelService, create_service, find_model
from airfoil.store.deployments import DEFAULT_PREDICT_TIMEOUT_S

with warnings.catch_warnings():
    # Ray Serve defines its config models with a pydantic v1 idiom (extra ``Field``
    # keywords) and pydantic warns as they are defined: Ray's own deprecation, nothing the
    # user can act on, and fatal to a program run with ``-W error``. Only those are hidden.
    warnings.filterwarnings("ignore", category=PydanticDeprecatedSince20, module=r"ray\.serve\.")
    from ray import serve

__all__ = [
    "AppState",
    "ModelReplica",
    "RayConnection",
    "RayServe",
    "ServeReplica",
    "app_name",
    "route_prefix",
]

log = logging.getLogger("airfoil.ml.ray_serve")

_KV_NAMESPACE = "airfoil"
_KV_PREFIX = "airfoil-serve"
_PUBLISH_S = 1.0  # how often a replica publishes its version and drift
_OBJECT_STORE_BYTES = 128 * 2**20  # a local Ray's object store: requests do not use it


def app_name(project: str, name: str) -> str:
    """The Serve application of a deployment (one per project and name: see
    :func:`~airfoil.core.projects.qualified_name`)."""
    return f"airfoil.{qualified_name(project, name)}"


def route_prefix(project: str, name: str) -> str:
    """Where a deployment's routes are on the proxy (``/PROJECT/NAME/predict``...)."""
    return f"/{project}/{name}"


@serve.ingress()
class ModelReplica:
    """One replica: the prediction service of ``ref`` (Serve calls its ASGI app).

    Args:
        app: the Serve application's name (the key its state is published under).
        ref: ``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME``.
        file: the file that defines the model ("": the one recorded at registration).
        settings: the registry's settings (``home``, ``database_url``, ``blob_url``,
            ``project``), as :class:`~airfoil.settings.AirfoilSettings` takes them, and
            ``model_key`` and ``model_key_scope``: the deployment's key, if any, and what it
            was derived for (:mod:`airfoil.ml._service_guard`), and ``predict_timeout_s``:
            how long ``/predict`` waits for the predictor (default 60 s).
        poll_s: how often an alias is checked for a move.
        sample_rate: the share of requests logged.
    """

    def __init__(
        self,
        app: str,
        ref: str,
        file: str,
        settings: dict[str, Any],
        poll_s: float = 0.5,
        sample_rate: float = 0.0,
    ) -> None:
        from airfoil.settings import AirfoilSettings

        self._pid = os.getpid()  # __del__ acts in this process only
        settings = dict(settings)
        key = settings.pop("model_key", None)
        timeout = float(settings.pop("predict_timeout_s", DEFAULT_PREDICT_TIMEOUT_S))
        scope = settings.pop("model_key_scope", None)
        registry = local_registry(AirfoilSettings(**settings))
        parsed = parse_ref(ref)
        version = registry.resolve(parsed)
        model = find_model(file or version.metadata.get("model_file", ""), parsed.name)
        self._service = ModelService(model, registry, parsed, poll_s=poll_s)
        self._app = create_service(
            self._service,
            sample_rate=sample_rate,
            key=key,
            key_scope=scope,
            predict_timeout_s=timeout,
        )
        replica = serve.get_replica_context().replica_id.unique_id
        context = ray.get_runtime_context()
        self._assigned = {
            "resources": dict(context.get_assigned_resources()),  # type: ignore[no-untyped-call]
            "gpu_ids": [str(g) for g in context.get_accelerator_ids().get("GPU", [])],
        }
        self._key = f"{_KV_PREFIX}/{app}/{replica}".encode()
        self._stop = threading.Event()
        self._publish()
        self._thread = threading.Thread(
            target=self._publish_loop, name="airfoil-serve-publish", daemon=True
        )
        self._thread.start()

    def __serve_build_asgi_app__(self) -> Any:
        return self._app

    def _publish(self) -> None:
        service = self._service
        drift = service.drift_report()  # one read of what serves: its version and its rows
        report = {
            "pid": os.getpid(),
            "version": drift["version"],
            "swaps": service.swaps,
            "at": time.time(),
            # what Ray gave this replica's actor (CPU, GPU, memory) and its GPU ids
            "assigned": self._assigned,
            "drift": drift,
        }
        internal_kv._internal_kv_put(
            self._key, json.dumps(report).encode(), overwrite=True, namespace=_KV_NAMESPACE
        )

    def _publish_loop(self) -> None:
        while not self._stop.wait(_PUBLISH_S):
            try:
                self._publish()
            except Exception:  # the cluster is going away, or a hiccup: try again
                log.debug("publishing the replica's state failed", exc_info=True)

    def __del__(self) -> None:
        # Not in a forked child's copy: the key (and the publishing thread) are the parent's,
        # and a Ray call there runs on the parent's sockets.
        if forked_from(self._pid):
            return
        self._stop.set()
        try:
            internal_kv._internal_kv_del(self._key, namespace=_KV_NAMESPACE)
        except Exception:
            pass


class RayConnection(Protocol):
    """A process's shared use of Ray (:data:`airfoil.executors._ray_connection.CONNECTION`)."""

    def acquire(self, address: str | None, num_cpus: int | None) -> Any: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class ServeReplica:
    """One replica of an application, as Serve's controller and the replica itself tell."""

    replica_id: str
    actor_name: str
    state: str  # Serve's: STARTING, UPDATING, RECOVERING, RUNNING, STOPPING, PENDING_MIGRATION
    pid: int | None
    started_at: float
    #: What the replica published (version, drift), None until its service is up.
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class AppState:
    """A Serve application: its status, the replicas wanted and those that exist."""

    status: str  # Serve's: DEPLOYING, RUNNING, DEPLOY_FAILED, UNHEALTHY, DELETING...
    target_replicas: int
    message: str = ""
    replicas: list[ServeReplica] = field(default_factory=list)


class RayServe:
    """This process's use of Ray Serve: joins the Ray cluster at ``address`` (or starts a
    local Ray), starts Serve's HTTP proxy on 127.0.0.1 and runs applications on it.

    Args:
        address: the Ray cluster (``host:port``, ``ray://...``, ``auto``); None: use the
            cluster this process is connected to, else start a local Ray (stopped by
            :meth:`close`).
        connection: this process's shared use of Ray, when something else in the process
            uses Ray too (the server's ray executor): Ray is started or joined through it,
            under its lock, and released to it on :meth:`close` (the last user stops a
            local Ray). Without one, this object starts or joins Ray itself.
        http_port: the proxy's port when this process starts Serve (a free one if None). A
            cluster where Serve runs already keeps its proxy, and :attr:`port` says where.
        num_cpus: a local Ray's CPUs (default: the machine's).
        replica_cpus: the CPUs each replica reserves.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        http_port: int | None = None,
        num_cpus: int | None = None,
        replica_cpus: float = 1.0,
        connection: RayConnection | None = None,
    ) -> None:
        self.connection = connection
        self.address = address
        self.http_port = http_port
        self.num_cpus = num_cpus
        self.replica_cpus = replica_cpus
        self.port = 0
        self._owned = False
        self._acquired = False
        self._lock = threading.Lock()  # Serve's start (held while it starts)
        self._join_lock = threading.Lock()  # Ray's start or join: _acquired, _owned, _joined
        self._joined = False
        self._connected = False

    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` has run (Serve's proxy is up at :attr:`port`)."""
        return self._connected

    def route(self, project: str, name: str) -> str:
        return route_prefix(project, name)

    def join(self) -> None:
        """Join (or start) Ray, once, without starting Serve: what reading the cluster's
        nodes needs (:meth:`check_fits`). Serve's controller and proxy take seconds more to
        start (more on a loaded machine), which a deploy request checking its resources
        waited for before; :meth:`connect` starts them.

        Raises:
            ConfigError: Ray could not be started or joined.
        """
        with self._join_lock:
            if self._acquired or self._owned or self._joined:
                return
            if self.connection is not None:
                self.connection.acquire(self.address, self.num_cpus)  # ConfigError if not
                self._acquired = True
                return
            if ray.is_initialized():  # this process's Ray, joined by someone else
                self._joined = True
                return
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
                "namespace": "airfoil",
            }
            if self.address:
                kwargs["address"] = self.address
            else:  # a Ray of our own (see executors._ray_connection)
                kwargs["address"] = "local"
                kwargs["num_cpus"] = self.num_cpus or os.cpu_count() or 1
                kwargs["object_store_memory"] = _OBJECT_STORE_BYTES
            try:
                ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {self.address!r}" if self.address else "Ray"
                raise ConfigError(
                    f"could not start or join {where} for Ray Serve: {exc}. Check "
                    "--ray-address (AIRFOIL_RAY_ADDRESS), or leave it out for a local Ray"
                ) from exc
            self._owned = not self.address
            self._joined = True

    def connect(self) -> None:
        """Join (or start) Ray and start Serve, once.

        Raises:
            ConfigError: Ray could not be started or joined.
        """
        with self._lock:
            if self._connected:
                return
            self.join()
            port = self.http_port or _free_port()
            try:
                serve.start(http_options={"host": "127.0.0.1", "port": port})
                proxy = self._details().get("http_options") or {}
            except Exception:
                with self._join_lock:
                    if self._acquired:  # the next try acquires again
                        self._acquired = False
                        assert self.connection is not None
                        self.connection.release()
                raise
            self.port = int(proxy.get("port") or port)
            self._connected = True

    def _details(self) -> dict[str, Any]:
        # The controller's own account (what Serve's dashboard shows): the proxy's address and
        # each application's deployments and replicas with their ids, actors, pids, states.
        client: Any = serve.context._get_global_client()
        details: Any = ray.get(client._controller.get_serve_instance_details.remote(), timeout=30)
        return dict(details)

    def apply(
        self,
        project: str,
        name: str,
        ref: str,
        *,
        replicas: int,
        file: str,
        settings: dict[str, Any],
        poll_s: float = 0.5,
        resources: ResourceSpec | None = None,
    ) -> None:
        """Deploy (or scale) the application of ``project``/``name``; returns at once, the
        replicas start in the background (see :meth:`state`). Each replica's actor reserves
        ``resources`` (CPUs, GPUs, memory; default :attr:`replica_cpus` CPUs).

        Raises:
            UnschedulableTaskError: no alive node of the cluster could ever hold a replica.
        """
        self.connect()
        app = app_name(project, name)
        options = actor_options(resources, self.replica_cpus)
        if resources is not None:
            _check_fits(name, resources)
        deployment: Any = serve.deployment(
            ModelReplica,
            name="model",
            num_replicas=replicas,
            ray_actor_options=options,
            health_check_period_s=2.0,
            health_check_timeout_s=10.0,
            graceful_shutdown_timeout_s=5.0,
        )
        target = deployment.bind(app, ref, file, settings, poll_s, 0.0)
        self._drop_legacy(project, name, app)
        serve.run_many(
            [serve.RunTarget(target=target, name=app, route_prefix=route_prefix(project, name))],
            wait_for_applications_running=False,
        )

    def check_fits(self, name: str, resources: ResourceSpec) -> None:
        """Raise if no alive node of the cluster could hold one replica of deployment
        ``name`` asking for ``resources`` (joins Ray first).

        Raises:
            UnschedulableTaskError: naming the options to lower.
        """
        self.join()
        _check_fits(name, resources)

    def state(self, project: str, name: str) -> AppState | None:
        """The application of ``project``/``name`` and its replicas, None if it is not
        deployed."""
        self.connect()
        app = app_name(project, name)
        found = self._details().get("applications", {}).get(app)
        if found is None:
            return None
        reports = self._reports(app)
        deployment = (found.get("deployments") or {}).get("model") or {}
        config = deployment.get("deployment_config") or {}
        replicas = [
            ServeReplica(
                replica_id=r["replica_id"],
                actor_name=r.get("actor_name") or "",
                state=_name(r.get("state")),
                pid=r.get("pid"),
                started_at=float(r.get("start_time_s") or 0.0),
                report=reports.get(r["replica_id"]),
            )
            for r in deployment.get("replicas") or []
        ]
        return AppState(
            status=_name(found.get("status")),
            target_replicas=int(config.get("num_replicas") or 0),
            message=str(found.get("message") or deployment.get("message") or ""),
            replicas=replicas,
        )

    def _reports(self, app: str) -> dict[str, dict[str, Any]]:
        prefix = f"{_KV_PREFIX}/{app}/".encode()
        out: dict[str, dict[str, Any]] = {}
        for key in internal_kv._internal_kv_list(prefix, namespace=_KV_NAMESPACE):
            raw = internal_kv._internal_kv_get(key, namespace=_KV_NAMESPACE)
            if raw is not None:
                out[key[len(prefix) :].decode()] = json.loads(raw)
        return out

    def _drop_legacy(self, project: str, name: str, app: str) -> None:
        # A dotted project's application was named airfoil.PROJECT.NAME before names were
        # qualified, which another project's may be too (team.a's m, team's a.m): only the
        # one on this deployment's route is this deployment's, and it would hold the route.
        legacy = f"airfoil.{project}.{name}"
        if legacy == app:
            return
        found = self._details().get("applications", {}).get(legacy)
        if found is not None and found.get("route_prefix") == route_prefix(project, name):
            self._delete_app(legacy)

    def delete(self, project: str, name: str) -> None:
        """Delete the application (its replicas stop) and what its replicas published."""
        self.connect()
        self._delete_app(app_name(project, name))

    def _delete_app(self, app: str) -> None:
        serve.delete(app, _blocking=True)
        for key in internal_kv._internal_kv_list(
            f"{_KV_PREFIX}/{app}/".encode(), namespace=_KV_NAMESPACE
        ):
            internal_kv._internal_kv_del(key, namespace=_KV_NAMESPACE)

    def kill_replica(self, actor_name: str) -> None:
        """Kill one replica's actor (Serve starts another): for tests and drills."""
        ray.kill(ray.get_actor(actor_name, namespace="serve"), no_restart=True)

    def close(self) -> None:
        """Disconnect. A local Ray this object started is shut down with its applications;
        on a cluster they keep serving (another server re-adopts them)."""
        with self._lock, self._join_lock:
            self._connected = False
            self._joined = False
            if self._acquired:  # the connection's last user stops a local Ray with Serve
                self._acquired = False
                assert self.connection is not None
                self.connection.release()
            if self._owned:
                self._owned = False
                try:
                    serve.shutdown()  # type: ignore[no-untyped-call]
                finally:
                    ray.shutdown()


def actor_options(resources: ResourceSpec | None, default_cpus: float) -> dict[str, Any]:
    """Serve's ``ray_actor_options`` for replicas asking for ``resources``."""
    if resources is None:
        return {"num_cpus": default_cpus}
    options: dict[str, Any] = {"num_cpus": resources.cpu, "num_gpus": resources.gpu}
    if resources.mem:
        options["memory"] = resources.mem
    return options


def _check_fits(name: str, resources: ResourceSpec) -> None:
    """Raise if no alive node of the cluster has the CPUs, GPUs and memory of one replica
    (Serve would otherwise keep it pending for ever)."""
    nodes = [n.get("Resources") or {} for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    fits = [
        n
        for n in nodes
        if n.get("CPU", 0.0) >= resources.cpu
        and n.get("GPU", 0.0) >= resources.gpu
        and (not resources.mem or n.get("memory", 0.0) >= resources.mem)
    ]
    if not fits:
        have = "; ".join(
            f"cpu={n.get('CPU', 0):g}, mem={n.get('memory', 0) / 2**20:.0f}Mi, "
            f"gpu={n.get('GPU', 0):g}"
            for n in nodes
        )
        raise UnschedulableTaskError(
            f"each replica of deployment {name!r} asks for cpu={resources.cpu:g}, "
            f"mem={resources.mem / 2**20:.0f}Mi, gpu={resources.gpu} but no node of the Ray "
            f"cluster can hold it (its alive nodes: {have or 'none'}): lower --cpus / --gpus "
            "/ --memory or add a node that has them",
            task=f"deploy.{name}",
            node_id="replica",
            requested=resources,
            capacity=ResourceSpec(),
        )


def _name(value: Any) -> str:
    """An enum of Serve's (``ReplicaState.RUNNING``) as its value (``RUNNING``)."""
    return str(getattr(value, "value", value) or "")


def _free_port() -> int:
    from airfoil.core.ports import free_port  # outside the ephemeral range: Serve binds later

    return free_port("127.0.0.1")
