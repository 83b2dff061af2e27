"""Deployments: model services the server supervises (``airfoil deploy``), as stored records.

A :class:`Deployment` is one model reference (``name@alias``, ``name:version`` or ``name``)
served by ``replicas`` ``airfoil serve`` processes; each :class:`Replica` records its port,
process id, status, the version it serves and how often it was restarted. The supervisor
(:mod:`airfoil.server._deployments`) writes the record whenever any of these change, so
the API, the console and a restarted server read the same picture. One deployment per model
name and project (deploying the name again replaces its reference and replica count).
"""

from __future__ import annotations

import msgspec

__all__ = ["REPLICA_STATUSES", "Deployment", "Replica"]

#: ``starting`` (spawned, not answering yet), ``ready`` (answers /health), ``backoff``
#: (exited; restarted after a delay), ``stopped``.
REPLICA_STATUSES = ("starting", "ready", "backoff", "stopped")


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
