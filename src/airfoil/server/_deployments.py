"""Deployments over HTTP: wire schema -> service -> thin route.

``POST /projects/{project}/deployments`` (deploy a model reference with N replicas; runner),
``GET .../deployments`` and ``GET .../deployments/{name}`` (viewer), ``DELETE
.../deployments/{name}`` (stop: the processes are terminated, the record removed; runner),
``GET .../deployments/{name}/drift`` (the drift statistics of the rows its replicas served,
pooled, as its record keeps them; viewer). The processes are run by the
:class:`~airfoil.server._supervisor.Supervisor` of the server that drives executions; these
routes write and read the records it keeps (they ask no replica anything).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Request, Response

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.resources import ResourceSpec, parse_memory
from airfoil.core.worker_env import deployment_key, key_scope
from airfoil.server._artifacts import Runner, Store, Viewer, _Project
from airfoil.server._drift import pool_reports
from airfoil.server._model_key import ModelKeyError
from airfoil.server._supervisor import Supervisor
from airfoil.store.artifacts import ArtifactStore, check_artifact_name
from airfoil.store.deployments import DEFAULT_PREDICT_TIMEOUT_S, Deployment
from airfoil.wire import API_PREFIX
from airfoil.wire._deployments import (
    DeploymentDrift,
    DeploymentIn,
    DeploymentKey,
    DeploymentList,
    DeploymentOut,
    ReplicaOut,
    ReplicaResources,
)

__all__ = ["ROLES", "deploy", "deployment_out", "deployment_router", "drift", "pooled_drift"]

log = logging.getLogger("airfoil.server.deployments")

deployment_router = APIRouter()
ROLES: dict[tuple[str, str], str] = {}
_Name = Annotated[str, Path(max_length=300)]
_REF = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>\d+)|@(?P<alias>[^:@]+))?$")


# --- services ---------------------------------------------------------------------------------


def deployment_out(d: Deployment) -> DeploymentOut:
    return DeploymentOut(
        project=d.project,
        name=d.name,
        ref=d.ref,
        replicas=d.replicas,
        status=d.status,
        file=d.file,
        on=d.on,
        message=d.message,
        resources=(
            None
            if d.resources is None
            else ReplicaResources(cpu=d.resources.cpu, mem=d.resources.mem, gpu=d.resources.gpu)
        ),
        predict_timeout=d.predict_timeout_s,
        created_at=d.created_at,
        updated_at=d.updated_at,
        members=[
            ReplicaOut(
                index=r.index,
                port=r.port,
                pid=r.pid,
                status=r.status,
                version=r.version,
                restarts=r.restarts,
                last_exit=r.last_exit,
                exit_reason=r.exit_reason,
                cpus=list(r.cpus),
                url=f"http://127.0.0.1:{r.port}{d.route}",
            )
            for r in d.members
        ],
    )


def replica_resources(body: DeploymentIn) -> ResourceSpec | None:
    """What each replica asks for (None: nothing; 1 CPU when only GPUs or memory are given).

    Raises:
        ConfigError: an invalid memory quantity.
    """
    if body.cpus is None and body.gpus is None and body.memory is None:
        return None
    return ResourceSpec(
        cpu=1.0 if body.cpus is None else float(body.cpus),
        mem=parse_memory(body.memory) if body.memory is not None else 0,
        gpu=body.gpus or 0,
    )


def deploy(
    store: ArtifactStore,
    project: str,
    body: DeploymentIn,
    now: float,
    on: str = "process",
    *,
    check: Callable[[Deployment], None] | None = None,
) -> Deployment:
    """Record (or replace) the deployment of ``body.ref`` on ``on`` (``process`` or ``ray``,
    when ``body.on`` does not say): the supervisor starts it.

    Raises:
        ConfigError: an invalid reference or memory quantity, no file that defines the model
            here, or a deployment of the name with another reference, backend or resources.
        NotFoundError: the model, version or alias does not exist.
    """
    resources = replica_resources(body)
    match = _REF.match(body.ref.strip())
    if match is None:
        raise ConfigError(
            f"invalid model reference {body.ref!r}: use NAME, NAME:VERSION or NAME@ALIAS"
        )
    name = check_artifact_name(match["name"], "model name")
    if match["alias"]:
        version = store.resolve(project, name, check_artifact_name(match["alias"], "alias"))
    else:
        version = store.get_version(
            project, name, int(match["version"]) if match["version"] else None
        )
    if version.kind != "model":
        raise ConfigError(f"{version.ref} is a {version.kind!r} artifact, not a model")
    file = body.file or version.metadata.get("model_file", "")
    if not file or not os.path.isfile(file):
        raise ConfigError(
            f"the file that defines model {name!r} ({file or 'not recorded'}) is not on the "
            "server's machine: pass the path of the file there (airfoil deploy --file)"
        )
    ref = body.ref.strip()
    on = body.on or on
    old = store.get_deployment(project, name)
    if old is not None and old.ref != ref:
        raise ConfigError(
            f"{name!r} is deployed as {old.ref}: stop it first (airfoil deploy stop {name})"
        )
    if old is not None and old.on != on:
        raise ConfigError(
            f"{name!r} is deployed on {old.on}, not {on}: stop it first (airfoil deploy stop "
            f"{name})"
        )
    if old is not None and old.resources != resources:
        raise ConfigError(
            f"{name!r} is deployed with other replica resources: stop it first (airfoil "
            f"deploy stop {name}), then deploy it with the new ones"
        )
    timeout = body.predict_timeout
    if timeout is None:  # deployed again without it (a new replica count): the one it has
        timeout = old.predict_timeout_s if old is not None else DEFAULT_PREDICT_TIMEOUT_S
    if old is not None and old.predict_timeout_s != timeout:
        raise ConfigError(
            f"{name!r} is deployed with a prediction timeout of {old.predict_timeout_s:g} s: "
            f"stop it first (airfoil deploy stop {name}), then deploy it with the new one"
        )
    deployment = Deployment(
        project=project,
        name=name,
        ref=ref,
        replicas=body.replicas,
        file=body.file,
        created_at=old.created_at if old is not None else now,
        updated_at=now,
        on=on,
        resources=resources,
        predict_timeout_s=float(timeout),
    )
    if check is not None:
        check(deployment)  # before it is recorded: a replica that could never start is refused
    # Deployed again: the running replicas stay (a new replica count scales them), and so
    # does whatever the supervisor recorded of them meanwhile (only the user's fields).
    store.put_deployment(deployment, spec_only=True)
    return store.get_deployment(project, name) or deployment


def pooled_drift(
    name: str, version: int | None, reports: list[dict[str, Any]], replicas: int
) -> DeploymentDrift:
    """The drift of ``reports`` of one version (each ``rows``, ``features``), pooled exactly
    (counts, means and variances combined, not averaged); ``replicas``: how many replica
    processes served them."""
    pooled = pool_reports(reports)
    return DeploymentDrift(
        name=name,
        version=version,
        rows=pooled["rows"],
        replicas=replicas,
        features=pooled["features"],
    )


def drift(deployment: Deployment) -> DeploymentDrift:
    """The drift of the rows a deployment served of the version it serves (else the newest
    it served), as its record keeps it: the supervisor copies each ready replica's report
    onto the record (at most every second; on Ray what each replica published), so rows
    served before a replica or the server restarted still count, and reading it asks no
    replica (it is up to about a second old). ``replicas``: the replica processes whose
    rows are in it and that were running when it was recorded."""
    serving = {m.version for m in deployment.members if m.status == "ready" and m.version}
    versions = serving or {e.version for e in deployment.drift}
    if not versions:
        return pooled_drift(deployment.name, None, [], 0)
    version = max(versions)
    chosen = [e for e in deployment.drift if e.version == version]
    replicas = sum(1 for e in chosen if e.source)
    return pooled_drift(deployment.name, version, [e.report for e in chosen], replicas)


# --- routes -----------------------------------------------------------------------------------


def _supervisor(request: Request) -> Supervisor | None:
    found: Supervisor | None = getattr(request.app.state, "supervisor", None)
    return found


def _checker(supervisor: Supervisor | None) -> Callable[[Deployment], None] | None:
    if supervisor is None:
        return None
    return lambda d: supervisor.check_resources(d.project, d.name, d)


def _route(method: str, path: str, role: str, **kwargs: Any) -> Callable[[Any], Any]:
    ROLES[(method, API_PREFIX + path)] = role
    return deployment_router.api_route(path, methods=[method], **kwargs)


def _get(store: ArtifactStore, project: str, name: str) -> Deployment:
    found = store.get_deployment(project, name)
    if found is None:
        raise NotFoundError(f"no deployment {name!r} in project {project!r}")
    return found


@_route("POST", "/projects/{project}/deployments", "runner", response_model=DeploymentOut)
def post_deployment(
    project: _Project, body: DeploymentIn, who: Runner, store: Store, request: Request
) -> DeploymentOut:
    supervisor = _supervisor(request)
    on = body.on or (supervisor.default_on if supervisor is not None else "process")
    if on == "ray" and supervisor is not None:
        if supervisor.ray is None:
            raise ConfigError("this server does not run deployments on Ray")
        supervisor.ray.backend()  # a ConfigError now if Ray Serve is not installed
    deployment = deploy(store, project, body, time.time(), on, check=_checker(supervisor))
    if supervisor is not None:
        with _told_without_path(f"deployment {project}/{deployment.name} was deployed"):
            # The processes start now, not at the next pass; this deployment's error is raised.
            supervisor.reconcile(raise_for=(deployment.project, deployment.name))
        deployment = _get(store, project, deployment.name)
    return deployment_out(deployment)


@_route("GET", "/projects/{project}/deployments", "viewer", response_model=DeploymentList)
def get_deployments(project: _Project, who: Viewer, store: Store) -> DeploymentList:
    return DeploymentList(items=[deployment_out(d) for d in store.list_deployments(project)])


@_route("GET", "/projects/{project}/deployments/{name}", "viewer", response_model=DeploymentOut)
def get_deployment(project: _Project, name: _Name, who: Viewer, store: Store) -> DeploymentOut:
    return deployment_out(_get(store, project, name))


@_route("DELETE", "/projects/{project}/deployments/{name}", "runner", response_model=DeploymentOut)
def delete_deployment(
    project: _Project, name: _Name, who: Runner, store: Store, request: Request
) -> DeploymentOut:
    found = _get(store, project, name)
    supervisor = _supervisor(request)
    if supervisor is None:
        raise ConfigError(
            "this server does not run deployments (started with --no-engine): stop it "
            "through the server that runs them"
        )
    supervisor.stop_deployment(project, name)
    return deployment_out(msgspec.structs.replace(found, status="stopped"))


@_route(
    "GET",
    "/projects/{project}/deployments/{name}/drift",
    "viewer",
    response_model=DeploymentDrift,
)
def get_deployment_drift(
    project: _Project, name: _Name, who: Viewer, store: Store
) -> DeploymentDrift:
    return drift(_get(store, project, name))


@_route("GET", "/projects/{project}/deployments/{name}/key", "runner", response_model=DeploymentKey)
def get_deployment_key(
    project: _Project, name: _Name, who: Runner, store: Store, request: Request, response: Response
) -> DeploymentKey:
    found = _get(store, project, name)
    holder = getattr(request.app.state, "model_key", None)
    with _told_without_path(f"the key of deployment {found.project}/{found.name} was asked"):
        server_key = holder.current() if holder is not None else None
    response.headers["Cache-Control"] = "no-store"  # no cache keeps a key
    scope = key_scope(found.project, found.name)
    return DeploymentKey(
        project=found.project,
        name=found.name,
        key=deployment_key(server_key, scope) if server_key else None,
        urls=[m.url for m in deployment_out(found).members],
    )


@contextmanager
def _told_without_path(what: str) -> Iterator[None]:
    """The server's model key cannot be used (``model.key`` unreadable, open to others...):
    the caller is told the problem and who fixes it, without the server's file-system path;
    the server's log keeps the path and the fix, for the operator."""
    try:
        yield
    except ModelKeyError as exc:
        log.error("%s: %s", what, exc)
        raise ConfigError(exc.public) from None
