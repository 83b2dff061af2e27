"""The in-memory :class:`~airfoil.store.artifacts.ArtifactStore` (tests, ``memory://``).

Invariants: records are kept as msgspec JSON and decoded on read (callers never share state
with the store); every method holds the one lock.
"""

from __future__ import annotations

import threading

from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store.artifacts import (
    AliasMove,
    ArtifactDraft,
    ArtifactStore,
    ArtifactVersion,
    check_draft,
    deployment_lease_lost,
    missing_artifact,
    plan_move,
)
from airfoil.store.deployments import Deployment, DeploymentLease, specified, supervised

__all__ = ["MemoryArtifactStore"]

_VERSION = LazyDecoder(ArtifactVersion)
_MOVE = LazyDecoder(AliasMove)
_DEPLOYMENT = LazyDecoder(Deployment)


class MemoryArtifactStore(ArtifactStore):
    """Artifact versions, aliases and moves in dicts under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[tuple[str, str], list[bytes]] = {}
        self._aliases: dict[tuple[str, str], dict[str, int]] = {}
        self._moves: dict[tuple[str, str], list[bytes]] = {}
        self._deployments: dict[tuple[str, str], bytes] = {}
        #: (holder, until, epoch) of each deployment's lease; kept (held by nobody) when the
        #: deployment is stopped, so the name deployed again goes on from its epoch.
        self._leases: dict[tuple[str, str], tuple[str, float, int]] = {}

    def add_version(self, draft: ArtifactDraft, now: float) -> tuple[ArtifactVersion, bool]:
        check_draft(draft)
        key = (draft.project, draft.name)
        with self._lock:
            rows = self._versions.setdefault(key, [])
            for data in rows:
                old = _VERSION.decode(data)
                if old.content_hash == draft.content_hash and old.partitions == draft.partitions:
                    return old, False
            row = ArtifactVersion.from_draft(draft, len(rows) + 1, now)
            rows.append(encode_json(row))
        return row, True

    def get_version(self, project: str, name: str, version: int | None = None) -> ArtifactVersion:
        with self._lock:
            rows = list(self._versions.get((project, name), ()))
        if not rows or (version is not None and not 1 <= version <= len(rows)):
            raise missing_artifact(project, name, version)
        return _VERSION.decode(rows[-1] if version is None else rows[version - 1])

    def list_versions(
        self, project: str, name: str, partitions: dict[str, str] | None = None
    ) -> list[ArtifactVersion]:
        with self._lock:
            rows = list(self._versions.get((project, name), ()))
        found = [_VERSION.decode(d) for d in reversed(rows)]
        if partitions:
            want = partitions.items()
            found = [v for v in found if want <= v.partitions.items()]
        return found

    def list_names(self, project: str, kind: str | None = None) -> list[ArtifactVersion]:
        with self._lock:
            newest = [rows[-1] for (p, _), rows in self._versions.items() if p == project and rows]
        found = [_VERSION.decode(d) for d in newest]
        return sorted((v for v in found if kind is None or v.kind == kind), key=lambda v: v.name)

    def move_alias(
        self,
        project: str,
        name: str,
        alias: str,
        version: int | None,
        now: float,
        *,
        action: str = "promote",
        actor: str = "",
        reason: str = "",
    ) -> AliasMove:
        key = (project, name)
        with self._lock:
            trail = [_MOVE.decode(d) for d in self._moves.get(key, ())]
            if action == "rollback" and not self._versions.get(key):
                raise missing_artifact(project, name)
            target = plan_move(
                project, name, alias, version, action, [m for m in trail if m.alias == alias]
            )
            if not 1 <= target <= len(self._versions.get(key, ())):
                raise missing_artifact(project, name, target)
            aliases = self._aliases.setdefault(key, {})
            move = AliasMove(
                project=project,
                name=name,
                alias=alias,
                seq=len(trail) + 1,
                action=action,
                from_version=aliases.get(alias),
                to_version=target,
                at=now,
                actor=actor,
                reason=reason,
            )
            aliases[alias] = target
            self._moves.setdefault(key, []).append(encode_json(move))
        return move

    def aliases(self, project: str, name: str) -> dict[str, int]:
        with self._lock:
            return dict(self._aliases.get((project, name), {}))

    def alias_moves(self, project: str, name: str, alias: str | None = None) -> list[AliasMove]:
        with self._lock:
            rows = list(self._moves.get((project, name), ()))
        moves = [_MOVE.decode(d) for d in rows]
        return [m for m in moves if alias is None or m.alias == alias]

    def put_deployment(
        self,
        deployment: Deployment,
        *,
        lease: DeploymentLease | None = None,
        spec_only: bool = False,
    ) -> None:
        key = (deployment.project, deployment.name)
        with self._lock:
            if spec_only and key in self._deployments:
                stored = _DEPLOYMENT.decode(self._deployments[key])
                deployment = specified(stored, deployment)
            if lease is not None:
                holder, _, epoch = self._leases.get(key, ("", 0.0, 0))
                if key not in self._deployments or (holder, epoch) != lease:
                    raise deployment_lease_lost(*key, lease.owner)
                stored = _DEPLOYMENT.decode(self._deployments[key])
                deployment = supervised(stored, deployment)
            self._deployments[key] = encode_json(deployment)

    def get_deployment(self, project: str, name: str) -> Deployment | None:
        with self._lock:
            found = self._deployments.get((project, name))
        return None if found is None else _DEPLOYMENT.decode(found)

    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        with self._lock:
            rows = sorted(self._deployments.items())
        return [_DEPLOYMENT.decode(v) for (p, _), v in rows if project is None or p == project]

    def delete_deployment(self, project: str, name: str) -> bool:
        key = (project, name)
        with self._lock:
            if self._deployments.pop(key, None) is None:
                return False
            _, _, epoch = self._leases.get(key, ("", 0.0, 0))
            self._leases[key] = ("", 0.0, epoch)  # epochs never repeat for a name
            return True

    def claim_deployment(
        self, project: str, name: str, owner: str, now: float, ttl_s: float
    ) -> DeploymentLease | None:
        key = (project, name)
        with self._lock:
            if key not in self._deployments:
                return None
            holder, until, epoch = self._leases.get(key, ("", 0.0, 0))
            if holder not in ("", owner) and until > now:
                return None
            if holder != owner:
                epoch += 1  # a new holder (not a renewal): a new fencing token
            self._leases[key] = (owner, now + ttl_s, epoch)
            return DeploymentLease(owner, epoch)
