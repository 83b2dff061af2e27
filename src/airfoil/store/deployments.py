"""Deployments: model services the server supervises (``airfoil deploy``), as stored records.

A :class:`Deployment` is one model reference (``name@alias``, ``name:version`` or ``name``)
served by ``replicas`` ``airfoil serve`` processes (``on="process"``) or by the replicas of a
Ray Serve application (``on="ray"``); each :class:`Replica` records its port, process id,
status, the version it serves and how often it was restarted (on Ray also the Serve replica it
is, ``ident``, and the port is the proxy's, shared by all, with the routes under ``route``).
The supervisor (:mod:`airfoil.server._deployments`) writes the record whenever any of these
change, so the API, the console and a restarted server read the same picture. One deployment
per model name and project (deploying the name again replaces its reference and replica count).

The record has two writers, each owning its fields: the user (``deploy``: the reference,
replica count, file, backend, resources) and the supervisor holding the deployment's lease
(:data:`SUPERVISED_FIELDS`: the replicas as they run, the message, the route). A supervisor's
write (fenced by its :class:`DeploymentLease`) replaces only its own fields of the record as
stored at that instant, so a user's change made while its pass ran is never lost; a user's
deploy of a recorded deployment (``spec_only``) replaces only the user's fields, so the
replicas a pass recorded meanwhile (their processes) are never lost either.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from airfoil.core.resources import ResourceSpec

__all__ = [
    "DEFAULT_PREDICT_TIMEOUT_S",
    "DEPLOY_ON",
    "REPLICA_STATUSES",
    "SUPERVISED_FIELDS",
    "Deployment",
    "DeploymentLease",
    "Replica",
    "ServedDrift",
    "specified",
    "supervised",
]

#: ``queued`` (waiting for the resources it asks for), ``starting`` (spawned, not answering
#: yet), ``ready`` (answers /health), ``backoff`` (exited; restarted after a delay),
#: ``stopped``.
REPLICA_STATUSES = ("queued", "starting", "ready", "backoff", "stopped")
#: A deployment's replicas' prediction timeout when it names none (the service's default).
DEFAULT_PREDICT_TIMEOUT_S = 60.0
#: Where a deployment runs: supervised ``airfoil serve`` processes, or a Ray Serve application.
DEPLOY_ON = ("process", "ray")


class Replica(msgspec.Struct, frozen=True, kw_only=True):
    """One service process of a deployment."""

    index: int
    port: int
    pid: int | None = None
    status: str = "starting"
    version: int | None = None
    restarts: int = 0
    streak: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    next_start_at: float = 0.0
    #: On Ray: the Serve replica's id (a replica Serve replaced has another).
    ident: str = ""
    #: Why the replica last exited when the supervisor ended it ("out of memory: ..."), or "".
    exit_reason: str = ""
    #: The CPUs the replica is pinned to (its whole requested CPUs), or empty.
    cpus: list[int] = msgspec.field(default_factory=list)


class ServedDrift(msgspec.Struct, frozen=True, kw_only=True):
    """The drift statistics of the rows a deployment's replicas served, as last read.

    ``source`` is the replica process that served them (``INDEX:PID``; on Ray the Serve
    replica's id), or ``""`` for the rows of ended processes of that version, pooled.
    ``report`` is a replica's ``/drift`` body without its version (``rows``, ``features``).
    """

    source: str
    version: int
    report: dict[str, Any]


class Deployment(msgspec.Struct, frozen=True, kw_only=True):
    """A supervised model service: ``status`` is ``running`` or ``stopped``."""

    project: str
    name: str
    ref: str
    replicas: int
    created_at: float
    updated_at: float
    file: str = ""
    status: str = "running"
    owner: str = ""
    members: list[Replica] = msgspec.field(default_factory=list)
    #: ``process`` or ``ray`` (see :data:`DEPLOY_ON`).
    on: str = "process"
    #: On Ray: the path its routes are under on the proxy (``/PROJECT/NAME``).
    route: str = ""
    #: Why it is not serving, when the supervisor knows ("" otherwise).
    message: str = ""
    #: What each replica asks for (CPUs, memory bytes, GPUs); None: nothing asked (a
    #: process replica starts without admission, a Ray replica reserves 1 CPU).
    resources: ResourceSpec | None = None
    #: What its replicas served, kept so that a restarted replica or server loses none of
    #: it (see :mod:`airfoil.server._drift`).
    drift: list[ServedDrift] = msgspec.field(default_factory=list)
    #: How long each replica's ``/predict`` waits for the predictor (``airfoil serve
    #: --predict-timeout``; 60 s, the service's default, for a record written before it).
    predict_timeout_s: float = DEFAULT_PREDICT_TIMEOUT_S


#: The fields of a :class:`Deployment` its supervisor writes (the others are the user's).
SUPERVISED_FIELDS = ("members", "message", "owner", "route", "updated_at", "drift")


class DeploymentLease(NamedTuple):
    """The right to run a deployment's processes, as claimed: its holder and its fencing
    token. ``epoch`` goes up whenever the holder changes, so a pass that began before its
    supervisor lost the deployment cannot write even once that supervisor holds it again."""

    owner: str
    epoch: int


def supervised(stored: Deployment, written: Deployment) -> Deployment:
    """``stored`` with the supervisor's fields of ``written`` (see :data:`SUPERVISED_FIELDS`)."""
    return msgspec.structs.replace(stored, **{f: getattr(written, f) for f in SUPERVISED_FIELDS})


def specified(stored: Deployment, written: Deployment) -> Deployment:
    """``written`` (a user's deploy) with the supervisor's fields of ``stored``, but its own
    ``updated_at``."""
    kept = {f: getattr(stored, f) for f in SUPERVISED_FIELDS if f != "updated_at"}
    return msgspec.structs.replace(written, **kept)
