"""The artifact store in SQL: the ``server_artifact_*`` tables (revision 0009) beside the
metadata store's, on SQLite or PostgreSQL.

Invariants: every call is its own short transaction, safe from any thread and across
processes and server replicas. Numbers (versions, trail entries) are the primary keys, so
two writers racing for the same number cannot both win: the loser's transaction fails on
the key, rolls back whole and tries again with the next number. Driver errors come out as
``StoreError`` (``TransientStoreError`` when the database is away or lost a race).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from airfoil.core.errors import ConflictError, StoreError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store.artifacts import (
    AliasMove,
    ArtifactDraft,
    ArtifactStore,
    ArtifactVersion,
    check_draft,
    decode_version,
    deployment_lease_lost,
    missing_artifact,
    plan_move,
)
from airfoil.store.deployments import Deployment, DeploymentLease, specified, supervised
from airfoil.store.sql._guard import at_head, guarded_connection, masked_url, store_engine
from airfoil.store.sql._migrate import migrate
from airfoil.store.sql._server_tables import (
    artifact_aliases,
    artifact_moves,
    artifact_versions,
    deployment_epochs,
    deployments,
)

__all__ = ["SqlArtifactStore"]

_R = TypeVar("_R")
_MOVE = LazyDecoder(AliasMove)
_DEPLOYMENT = LazyDecoder(Deployment)
_RACES = 20  # a writer that keeps losing the race for a number gives up after this many


def _partitions_key(partitions: dict[str, str]) -> str:
    return json.dumps(partitions, sort_keys=True, separators=(",", ":"))


class SqlArtifactStore(ArtifactStore):
    """An :class:`ArtifactStore` in a SQL database.

    Args:
        url: the database URL (the metadata store's: ``sqlite:///...`` or
            ``postgresql+psycopg://...``).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """

    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        try:
            if not at_head(self.engine):
                migrate(url)  # imports Alembic: only for a database that is behind
        except StoreError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the artifact tables at {self._masked}: {exc}") from exc

    @property
    def _masked(self) -> str:
        return masked_url(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    def _connect(self, write: bool = False) -> contextlib.AbstractContextManager[sa.Connection]:
        return guarded_connection(self.engine, "the artifact store", write=write)

    def _racing(self, action: str, body: Callable[[sa.Connection], _R]) -> _R:
        """Run ``body`` in a write transaction, again while it loses a race on a key."""
        for _ in range(_RACES):
            try:
                with self._connect(write=True) as conn:
                    return body(conn)
            except sa.exc.IntegrityError:
                continue
        raise ConflictError(f"{action} lost the race for a number {_RACES} times: try again")

    def add_version(self, draft: ArtifactDraft, now: float) -> tuple[ArtifactVersion, bool]:
        check_draft(draft)
        t = artifact_versions.c
        key = _partitions_key(draft.partitions)

        def body(conn: sa.Connection) -> tuple[ArtifactVersion, bool]:
            same = conn.execute(
                sa.select(t.record)
                .where(t.project == draft.project, t.name == draft.name)
                .where(t.content_hash == draft.content_hash, t.partitions == key)
                .order_by(t.version)
                .limit(1)
            ).first()
            if same is not None:
                return decode_version(same[0]), False
            newest = conn.execute(
                sa.select(sa.func.max(t.version)).where(
                    t.project == draft.project, t.name == draft.name
                )
            ).scalar()
            row = ArtifactVersion.from_draft(draft, int(newest or 0) + 1, now)
            conn.execute(
                artifact_versions.insert().values(
                    project=row.project,
                    name=row.name,
                    version=row.version,
                    kind=row.kind,
                    content_hash=row.content_hash,
                    partitions=key,
                    created_at=now,
                    record=encode_json(row).decode(),
                )
            )
            return row, True

        return self._racing(f"adding a version of {draft.name!r}", body)

    def get_version(self, project: str, name: str, version: int | None = None) -> ArtifactVersion:
        t = artifact_versions.c
        query = sa.select(t.record).where(t.project == project, t.name == name)
        if version is None:
            query = query.order_by(t.version.desc()).limit(1)
        else:
            query = query.where(t.version == version)
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise missing_artifact(project, name, version)
        return decode_version(row[0])

    def list_versions(
        self, project: str, name: str, partitions: dict[str, str] | None = None
    ) -> list[ArtifactVersion]:
        t = artifact_versions.c
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.record)
                .where(t.project == project, t.name == name)
                .order_by(t.version.desc())
            ).all()
        found = [decode_version(r[0]) for r in rows]
        if partitions:
            want = partitions.items()
            found = [v for v in found if want <= v.partitions.items()]
        return found

    def list_names(self, project: str, kind: str | None = None) -> list[ArtifactVersion]:
        t = artifact_versions.c
        newest = (
            sa.select(t.name, sa.func.max(t.version).label("v"))
            .where(t.project == project)
            .group_by(t.name)
            .subquery()
        )
        query = (
            sa.select(t.record)
            .join(newest, sa.and_(t.name == newest.c.name, t.version == newest.c.v))
            .where(t.project == project)
            .order_by(t.name)
        )
        if kind is not None:
            query = query.where(t.kind == kind)
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [decode_version(r[0]) for r in rows]

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
        m, a, v = artifact_moves.c, artifact_aliases.c, artifact_versions.c

        def body(conn: sa.Connection) -> AliasMove:
            trail = [
                _MOVE.decode(r[0])
                for r in conn.execute(
                    sa.select(m.record)
                    .where(m.project == project, m.name == name, m.alias == alias)
                    .order_by(m.seq)
                )
            ]
            if not trail and action == "rollback":  # no alias to roll back: is there a name?
                any_version = sa.select(v.version).where(v.project == project, v.name == name)
                if conn.execute(any_version.limit(1)).first() is None:
                    raise missing_artifact(project, name)
            target = plan_move(project, name, alias, version, action, trail)
            exists = conn.execute(
                sa.select(v.version).where(
                    v.project == project, v.name == name, v.version == target
                )
            ).first()
            if exists is None:
                raise missing_artifact(project, name, target)
            last = conn.execute(
                sa.select(sa.func.max(m.seq)).where(m.project == project, m.name == name)
            ).scalar()
            current = conn.execute(
                sa.select(a.version).where(a.project == project, a.name == name, a.alias == alias)
            ).first()
            move = AliasMove(
                project=project,
                name=name,
                alias=alias,
                seq=int(last or 0) + 1,
                action=action,
                from_version=None if current is None else int(current[0]),
                to_version=target,
                at=now,
                actor=actor,
                reason=reason,
            )
            conn.execute(
                artifact_moves.insert().values(
                    project=project,
                    name=name,
                    seq=move.seq,
                    alias=alias,
                    at=now,
                    record=encode_json(move).decode(),
                )
            )
            if current is None:
                conn.execute(
                    artifact_aliases.insert().values(
                        project=project, name=name, alias=alias, version=target, updated_at=now
                    )
                )
            else:
                conn.execute(
                    artifact_aliases.update()
                    .where(a.project == project, a.name == name, a.alias == alias)
                    .values(version=target, updated_at=now)
                )
            return move

        return self._racing(f"moving alias {alias!r} of {name!r}", body)

    def aliases(self, project: str, name: str) -> dict[str, int]:
        a = artifact_aliases.c
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(a.alias, a.version).where(a.project == project, a.name == name)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def alias_moves(self, project: str, name: str, alias: str | None = None) -> list[AliasMove]:
        m = artifact_moves.c
        query = sa.select(m.record).where(m.project == project, m.name == name)
        if alias is not None:
            query = query.where(m.alias == alias)
        with self._connect() as conn:
            rows = conn.execute(query.order_by(m.seq)).all()
        return [_MOVE.decode(r[0]) for r in rows]

    def put_deployment(
        self,
        deployment: Deployment,
        *,
        lease: DeploymentLease | None = None,
        spec_only: bool = False,
    ) -> None:
        t = deployments.c
        row = {"updated_at": deployment.updated_at, "record": encode_json(deployment).decode()}
        if lease is not None:  # one transaction: the fence, the read and the merged write
            where = (t.project == deployment.project) & (t.name == deployment.name)
            where &= (t.owner == lease.owner) & (t.epoch == lease.epoch)
            with self._connect(write=True) as conn:
                # SQLite's write transaction began with BEGIN IMMEDIATE; PostgreSQL locks the
                # row: no user's write lands between this read and the update.
                found = conn.execute(sa.select(t.record).where(where).with_for_update()).scalar()
                if found is not None:
                    merged = supervised(_DEPLOYMENT.decode(found), deployment)
                    row["record"] = encode_json(merged).decode()
                    conn.execute(deployments.update().where(where).values(**row))
            if found is None:
                raise deployment_lease_lost(deployment.project, deployment.name, lease.owner)
            return

        def body(conn: sa.Connection) -> None:
            where = (t.project == deployment.project) & (t.name == deployment.name)
            if spec_only:  # read and write in one transaction, as the fenced write does
                found = conn.execute(sa.select(t.record).where(where).with_for_update()).scalar()
                if found is not None:
                    merged = specified(_DEPLOYMENT.decode(found), deployment)
                    row["record"] = encode_json(merged).decode()
            if conn.execute(deployments.update().where(where).values(**row)).rowcount == 0:
                e = deployment_epochs.c
                last = (  # the epoch of the name's stopped deployment: epochs never repeat
                    sa.select(e.epoch)
                    .where(e.project == deployment.project, e.name == deployment.name)
                    .scalar_subquery()
                )
                conn.execute(
                    deployments.insert().values(
                        project=deployment.project,
                        name=deployment.name,
                        owner="",
                        lease_until=0.0,
                        epoch=sa.func.coalesce(last, 0),
                        **row,
                    )
                )

        self._racing("writing a deployment", body)  # two first writers: the loser updates

    def get_deployment(self, project: str, name: str) -> Deployment | None:
        t = deployments.c
        with self._connect() as conn:
            found = conn.execute(
                sa.select(t.record).where(t.project == project, t.name == name)
            ).scalar()
        return None if found is None else _DEPLOYMENT.decode(found)

    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        t = deployments.c
        query = sa.select(t.record).order_by(t.project, t.name)
        if project is not None:
            query = query.where(t.project == project)
        with self._connect() as conn:
            return [_DEPLOYMENT.decode(r[0]) for r in conn.execute(query)]

    def delete_deployment(self, project: str, name: str) -> bool:
        t, e = deployments.c, deployment_epochs.c
        with self._connect(write=True) as conn:
            epoch = conn.execute(
                deployments.delete().where(t.project == project, t.name == name).returning(t.epoch)
            ).scalar()
            if epoch is None:
                return False
            # Kept in the same transaction: the name deployed again goes on from this epoch.
            kept = deployment_epochs.update().where(e.project == project, e.name == name)
            if conn.execute(kept.values(epoch=epoch)).rowcount == 0:
                conn.execute(
                    deployment_epochs.insert().values(project=project, name=name, epoch=epoch)
                )
        return True

    def claim_deployment(
        self, project: str, name: str, owner: str, now: float, ttl_s: float
    ) -> DeploymentLease | None:
        t = deployments.c
        free = (t.owner == "") | (t.owner == owner) | (t.lease_until <= now)
        # SET reads the row as it was: the epoch goes up when the holder changes.
        epoch = sa.case((t.owner == owner, t.epoch), else_=t.epoch + 1)
        with self._connect(write=True) as conn:
            taken = conn.execute(
                deployments.update()
                .where(t.project == project, t.name == name)
                .where(free)
                .values(owner=owner, lease_until=now + ttl_s, epoch=epoch)
                .returning(t.epoch)
            ).scalar()
        return None if taken is None else DeploymentLease(owner, int(taken))
