"""The artifact store on a plain SQLite file (the embedded default), opened without
SQLAlchemy: a model service (``airfoil serve``, a deployment's replica) resolves its model and
polls its alias through :meth:`get_version` / :meth:`aliases` / :meth:`resolve`, read here
with :mod:`sqlite3` on the SQL store's own per-thread connections, so starting a service does
not import SQLAlchemy (about a tenth of a service's start to ready).

Everything else (adding versions, moving aliases, the deployments and their leases) is the
:class:`~airfoil.store.sql._artifacts.SqlArtifactStore` on the same file, built on first use.
A database that is not at the newest revision (new, or older) builds it at once: it creates or
migrates the schema.

Invariants: the raw reads are the same queries over the same tables as the SQLAlchemy store's
(``tests/integration/store/test_sql_artifact_conformance.py`` runs the conformance suite on
both); a version or alias written through either is read by the other (autocommit, WAL).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import StoreError
from airfoil.store.artifacts import (
    AliasMove,
    ArtifactDraft,
    ArtifactStore,
    ArtifactVersion,
    decode_version,
    missing_artifact,
)
from airfoil.store.deployments import Deployment, DeploymentLease
from airfoil.store.sql._connect import Connections, SqliteConnector
from airfoil.store.sql._create import read_revision
from airfoil.store.sql._revision import HEAD_REVISION

if TYPE_CHECKING:
    from airfoil.store.sql._artifacts import SqlArtifactStore

__all__ = ["SqliteArtifactStore"]

_TIMEOUT_S = 30.0  # as the SQLAlchemy store's busy wait


class SqliteArtifactStore(ArtifactStore):
    """The artifact store of the SQLite database at ``path`` (``url`` is its plain URL).

    Raises:
        StoreError: the database cannot be opened, created or migrated.
    """

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self._connections = Connections(SqliteConnector(path, _TIMEOUT_S))
        self._full: SqlArtifactStore | None = None
        self._lock = threading.Lock()
        try:
            at_head = self._query(_revision, ()) == HEAD_REVISION
        except StoreError:
            at_head = False  # the full store says why, or creates the file
        if not at_head:
            self._store()  # creates or migrates the schema now

    def _store(self) -> SqlArtifactStore:
        with self._lock:
            if self._full is None:
                from airfoil.store.sql._artifacts import SqlArtifactStore

                self._full = SqlArtifactStore(self.url)
            return self._full

    def _query(self, sql: Any, params: tuple[Any, ...]) -> Any:
        """Run ``sql`` (a string, or a callable taking a cursor) on this thread's connection."""
        connections = self._connections
        held = getattr(connections.local, "held", None) or connections.open()
        dbapi = connections.connector.dbapi
        try:
            if callable(sql):
                return sql(held.cursor)
            return held.cursor.execute(sql, params).fetchall()
        except dbapi.Error as exc:
            connections.discard()  # a broken connection is not reused
            raise StoreError(f"cannot read the artifact tables at {self.url}: {exc}") from exc

    # --- the reads a model service makes, without SQLAlchemy ------------------------------

    def get_version(self, project: str, name: str, version: int | None = None) -> ArtifactVersion:
        if version is None:
            rows = self._query(
                "SELECT record FROM server_artifact_versions WHERE project = ? AND name = ? "
                "ORDER BY version DESC LIMIT 1",
                (project, name),
            )
        else:
            rows = self._query(
                "SELECT record FROM server_artifact_versions WHERE project = ? AND name = ? "
                "AND version = ?",
                (project, name, version),
            )
        if not rows:
            raise missing_artifact(project, name, version)
        return decode_version(rows[0][0])

    def aliases(self, project: str, name: str) -> dict[str, int]:
        rows = self._query(
            "SELECT alias, version FROM server_artifact_aliases WHERE project = ? AND name = ?",
            (project, name),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # --- everything else: the SQLAlchemy store on the same file -------------------------------

    def add_version(self, draft: ArtifactDraft, now: float) -> tuple[ArtifactVersion, bool]:
        return self._store().add_version(draft, now)

    def list_versions(
        self, project: str, name: str, partitions: dict[str, str] | None = None
    ) -> list[ArtifactVersion]:
        return self._store().list_versions(project, name, partitions)

    def list_names(self, project: str, kind: str | None = None) -> list[ArtifactVersion]:
        return self._store().list_names(project, kind)

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
        return self._store().move_alias(
            project, name, alias, version, now, action=action, actor=actor, reason=reason
        )

    def alias_moves(self, project: str, name: str, alias: str | None = None) -> list[AliasMove]:
        return self._store().alias_moves(project, name, alias)

    def put_deployment(
        self,
        deployment: Deployment,
        *,
        lease: DeploymentLease | None = None,
        spec_only: bool = False,
    ) -> None:
        self._store().put_deployment(deployment, lease=lease, spec_only=spec_only)

    def get_deployment(self, project: str, name: str) -> Deployment | None:
        return self._store().get_deployment(project, name)

    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        return self._store().list_deployments(project)

    def delete_deployment(self, project: str, name: str) -> bool:
        return self._store().delete_deployment(project, name)

    def claim_deployment(
        self, project: str, name: str, owner: str, now: float, ttl_s: float
    ) -> DeploymentLease | None:
        return self._store().claim_deployment(project, name, owner, now, ttl_s)

    def close(self) -> None:
        self._connections.close()
        with self._lock:
            if self._full is not None:
                self._full.close()
                self._full = None


def _revision(cursor: Any) -> str | None:
    return read_revision(cursor, "sqlite")
