"""Deployments on Ray (``on="ray"``): each is a Ray Serve application the supervisor keeps.

The :class:`~airfoil.server._supervisor.Supervisor` hands every deployment recorded with
``on="ray"`` to :class:`RayDeployments`, under the same lease as its process deployments. One
pass (:meth:`RayDeployments.reconcile`) asks Serve for the application: missing (new, or its
cluster restarted) or with another replica count, it is (re)deployed; then each replica of the
record is matched to a Serve replica by id. A replica whose Serve replica is gone (its actor
died, Serve started another) counts a restart and takes the new one. A replica is ``ready``
once its service published the version it serves. The record's ``message`` says why an
application is not serving (Ray not reachable, Serve's deploy failure).

An application found deployed (re-adopted by a restarted server, or running when the
server's key changed) is asked once, through Serve's proxy, whether it takes the server's
model key, as process replicas are (:meth:`Supervisor._wrong_key`): one that answers
without a key, or refuses the server's, was deployed under another key and is deployed
again with its deployment's key now (Serve replaces its replicas: restarts).

The server imports neither Ray nor :mod:`airfoil.ml`: the backend is injected
(``ServerConfig.ray_serve``; ``airfoil server start`` passes
:class:`airfoil.ml._ray_serve.RayServe`, which imports Ray) and reached through the
:class:`ServeBackend` protocol; it is made when the first Ray deployment is asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx
import msgspec

from airfoil.core.errors import ConfigError
from airfoil.core.resources import ResourceSpec
from airfoil.core.worker_env import deployment_key, key_scope
from airfoil.server._drift import running_sources, served_drift
from airfoil.server._service_env import KEY_RECHECK_S, probe_key
from airfoil.store.deployments import Deployment, Replica

__all__ = ["AppView", "RayDeployments", "ServeBackend", "ServeReplicaView"]

log = logging.getLogger("airfoil.server.deployments")

_RETRY_CONNECT_S = 10.0  # after Ray could not be reached, the next try


class ServeReplicaView(Protocol):
    @property
    def replica_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def started_at(self) -> float: ...
    @property
    def report(self) -> dict[str, Any] | None: ...


class AppView(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def target_replicas(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def replicas(self) -> Sequence[ServeReplicaView]: ...


class ServeBackend(Protocol):
    """What the supervisor needs of Ray Serve (:class:`airfoil.ml._ray_serve.RayServe`)."""

    port: int

    @property
    def connected(self) -> bool: ...
    def join(self) -> None: ...
    def connect(self) -> None: ...
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
    ) -> None: ...
    def state(self, project: str, name: str) -> AppView | None: ...
    def check_fits(self, name: str, resources: ResourceSpec) -> None: ...
    def delete(self, project: str, name: str) -> None: ...
    def route(self, project: str, name: str) -> str: ...
    def close(self) -> None: ...


class RayDeployments:
    """The Ray deployments of one supervisor.

    Args:
        open_backend: makes the Ray Serve backend, when the first Ray deployment needs it.
        settings: the replicas' registry settings (``home``, ``database_url``, ``blob_url``);
            the project is the deployment's.
        key: the server's model key (``ServiceEnv.key``, given how old an answer may be;
            None: ``settings["model_key"]``, if any): each deployment gets its own derived
            from it when applied, and one found deployed is asked whether it takes it.
    """

    def __init__(
        self,
        open_backend: Callable[[], ServeBackend],
        settings: dict[str, Any],
        key: Callable[[float], str | None] | None = None,
    ) -> None:
        self._open_backend = open_backend
        self.settings = settings
        self._key = key
        self._backend: ServeBackend | None = None
        self._lock = threading.Lock()
        self._connecting: threading.Thread | None = None
        self._error = ""
        self._retry_at = 0.0
        # The server key each application was deployed with or was found to take: it is
        # asked again only when the server's key is another.
        self._keyed: dict[tuple[str, str], str] = {}
        self._http: httpx.Client | None = None

    def backend(self) -> ServeBackend:
        """The backend (made on first use; not necessarily connected).

        Raises:
            ConfigError: Ray Serve is not installed (raised by the factory).
        """
        with self._lock:
            if self._backend is None:
                self._backend = self._open_backend()
            return self._backend

    def check(self, d: Deployment) -> None:
        """Raise if no node of the cluster could ever hold one of ``d``'s replicas (Serve
        would keep it pending for ever). Joins Ray first if it was not yet, without starting
        Serve (the deploy request waits for this; Serve starts on the supervisor's thread);
        when Ray cannot be reached the deployment is not refused (the supervisor retries and
        says why).

        Raises:
            UnschedulableTaskError: naming the deployment, what a replica asks for, the
                cluster's nodes and the options to lower.
        """
        if d.resources is None:
            return
        backend = self.backend()
        try:
            backend.join()
        except Exception:
            log.warning("Ray is not reachable: %s/%s is not checked", d.project, d.name)
            return
        backend.check_fits(d.name, d.resources)

    def _ready_backend(self) -> ServeBackend | None:
        """The connected backend, or None while it connects (on a thread: starting a local
        Ray takes seconds, and the supervisor's pass must not wait on it)."""
        backend = self.backend()
        if backend.connected:
            return backend
        with self._lock:
            busy = self._connecting is not None and self._connecting.is_alive()
            if not busy and time.monotonic() >= self._retry_at:
                self._connecting = threading.Thread(
                    target=self._connect, args=(backend,), name="airfoil-ray-serve", daemon=True
                )
                self._connecting.start()
        return None

    def _connect(self, backend: ServeBackend) -> None:
        try:
            backend.connect()
            self._error = ""
        except Exception as exc:
            log.exception("could not start Ray Serve")
            self._error = f"Ray Serve could not be started: {exc}"
            self._retry_at = time.monotonic() + _RETRY_CONNECT_S

    def reconcile(
        self, d: Deployment, now: float, *, holds: Callable[[], None] = lambda: None
    ) -> Deployment:
        """One pass over a Ray deployment; the record as it is now.

        ``holds``: renews the pass's lease on ``d``, raising if it was lost; called right
        before the application is deployed or scaled, so a supervisor that lost the lease
        (paused past it) never acts on Serve.
        """
        backend = self._ready_backend()
        if backend is None:
            kept = [m for m in d.members if m.index < d.replicas]
            have = {m.index for m in kept}
            kept += [Replica(index=i, port=0) for i in range(d.replicas) if i not in have]
            return msgspec.structs.replace(
                d, members=kept, message=self._error or "starting Ray Serve"
            )
        app = backend.state(d.project, d.name)
        wrong_key = self._wrong_key(backend, d) if app is not None else None
        if app is None or app.target_replicas != d.replicas or wrong_key is not None:
            settings = {**self.settings, "project": d.project}
            settings["predict_timeout_s"] = d.predict_timeout_s  # the replicas' service's
            server_key = self._server_key(0.0)
            settings.pop("model_key", None)
            if server_key:  # the deployment's own (see ServiceEnv)
                scope = key_scope(d.project, d.name)
                settings["model_key"] = deployment_key(server_key, scope)
                settings["model_key_scope"] = scope
            holds()
            backend.apply(
                d.project,
                d.name,
                d.ref,
                replicas=d.replicas,
                file=d.file,
                settings=settings,
                resources=d.resources,
            )
            if server_key:
                self._keyed[(d.project, d.name)] = server_key
            if wrong_key is not None:
                log.warning("%s/%s redeployed on Ray Serve: %s", d.project, d.name, wrong_key)
            log.info("deployed %s/%s on Ray Serve (%s replicas)", d.project, d.name, d.replicas)
            app = backend.state(d.project, d.name)
        live = [r for r in (app.replicas if app else []) if r.state in _LIVE]
        message = ""
        if app is not None and app.status in _FAILED:
            message = f"Ray Serve: {app.status}: {app.message}".strip()
        members = _match(d, live, backend.port, now)
        drift = served_drift(d.drift, _published(live), running_sources(members))
        return msgspec.structs.replace(
            d,
            members=members,
            route=backend.route(d.project, d.name),
            message=message,
            drift=drift,
        )

    def _server_key(self, max_age: float) -> str | None:
        if self._key is not None:
            return self._key(max_age)
        return self.settings.get("model_key") or None

    def _wrong_key(self, backend: ServeBackend, d: Deployment) -> str | None:
        """Why ``d``'s application does not take the server's key now (None: it does, the
        server has none, or it was asked under this key already): it answers without one
        (deployed before the server had one), or it refuses the server's (deployed with a
        key the server no longer has). Asked once per key, by a keyless and a keyed
        ``/metadata`` read through Serve's proxy (an application keyed by the server's key
        answers 401, then 200); asked again next pass if it answers neither."""
        try:
            key = self._server_key(KEY_RECHECK_S)
        except ConfigError:  # the key cannot be kept: the next deploy says so
            return None
        name = (d.project, d.name)
        if not key or self._keyed.get(name) == key:
            return None
        if self._http is None:
            self._http = httpx.Client(timeout=5.0)
        url = f"http://127.0.0.1:{backend.port}{backend.route(*name)}/metadata"
        try:
            answer = probe_key(self._http, url, key)
        except httpx.HTTPError:
            return None  # not serving yet, or the proxy away: asked again next pass
        if answer == "keyless":
            return "it answered without a key (deployed before the server had one)"
        if answer == "refused":
            return "it refused the server's key (deployed with one the server no longer has)"
        if answer == "taken":
            self._keyed[name] = key
        return None

    def stop(self, d: Deployment) -> None:
        """Delete the deployment's Serve application."""
        backend = self.backend()
        backend.connect()
        backend.delete(d.project, d.name)
        self._keyed.pop((d.project, d.name), None)

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the backend, waiting ``timeout_s`` at most for a connection being made (a
        Ray starting, an address that does not answer); one still being made by then is
        left to its thread (it dies with the process)."""
        with self._lock:
            backend, self._backend = self._backend, None
            connecting = self._connecting
            http, self._http = self._http, None
        if http is not None:
            http.close()
        if connecting is not None:
            connecting.join(timeout=timeout_s)
            if connecting.is_alive():
                log.warning(
                    "stopping: Ray Serve was still being connected to after %.0f s; left",
                    timeout_s,
                )
                return
        if backend is not None:
            backend.close()


def _published(replicas: Sequence[ServeReplicaView]) -> dict[str, dict[str, Any]]:
    return {
        r.replica_id: r.report["drift"]
        for r in replicas
        if r.state == "RUNNING" and r.report is not None and "drift" in r.report
    }


_LIVE = ("STARTING", "UPDATING", "RECOVERING", "RUNNING", "PENDING_MIGRATION")
_FAILED = ("DEPLOY_FAILED", "UNHEALTHY")


def _match(d: Deployment, live: Sequence[ServeReplicaView], port: int, now: float) -> list[Replica]:
    """The record's replicas matched to Serve's live replicas by id. A replica whose Serve
    replica is gone takes a new one (a restart); scaled down, those still live are kept."""
    by_id = {r.replica_id: r for r in live}
    old = sorted(d.members, key=lambda m: m.index)
    if len(old) > d.replicas:  # scaled down: keep those Serve kept, in their order
        kept = sorted(old, key=lambda m: (m.ident not in by_id, m.index))[: d.replicas]
        old = sorted(kept, key=lambda m: m.index)
    taken = {m.ident for m in old if m.ident in by_id}
    free = [r for r in live if r.replica_id not in taken]
    members: list[Replica] = []
    for index in range(d.replicas):
        m = old[index] if index < len(old) else Replica(index=index, port=port)
        m = msgspec.structs.replace(m, index=index, port=port)
        found = by_id.get(m.ident) if m.ident else None
        if found is None:
            if m.ident:  # its Serve replica died or was replaced
                m = msgspec.structs.replace(
                    m,
                    ident="",
                    pid=None,
                    version=None,
                    status="starting",
                    restarts=m.restarts + 1,
                    last_exit=None,
                )
            if free:
                found = free.pop(0)
                m = msgspec.structs.replace(m, ident=found.replica_id)
        if found is None:
            members.append(msgspec.structs.replace(m, status="starting", pid=None, version=None))
            continue
        report = found.report or {}
        version = report.get("version")
        ready = found.state == "RUNNING" and isinstance(version, int)
        members.append(
            msgspec.structs.replace(
                m,
                pid=found.pid or report.get("pid"),
                status="ready" if ready else "starting",
                version=version if ready else None,
                started_at=found.started_at or now,
            )
        )
    return members
