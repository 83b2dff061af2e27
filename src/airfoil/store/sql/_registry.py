"""The registry store in SQL: the ``server_*`` tables beside the metadata store's.

Projects, code packages, and registered task/workflow and launch plan versions, through a
SQLAlchemy engine on the same database as :class:`~airfoil.store.sql.SqlMetaStore` (SQLite
or PostgreSQL). The tables are part of the store's Alembic schema (revision 0004 on): opening
the store migrates the database to the newest revision, and these table objects mirror that
revision (a test compares them).

Invariants: every call is its own short transaction, safe from any thread; a batch of
versions registers all at once or not at all; driver errors come out as ``StoreError``
(``TransientStoreError`` when the database is away or the transaction lost a race).
A version's head is read fresh on every call (never kept): a launch after a registration
returned, here or in another process, reads the version it registered.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from airfoil.core.errors import StoreError
from airfoil.store.registry import (
    EntityRow,
    LaunchPlanRow,
    RegistryStore,
    entity_conflict,
    missing_entity,
    missing_launch_plan,
    missing_project,
)
from airfoil.store.sql._connect import commit_synchronously
from airfoil.store.sql._guard import guarded_connection, masked_url, store_engine
from airfoil.store.sql._migrate import migrate
from airfoil.store.sql._server_tables import entities, launch_plans, packages, projects
from airfoil.store.sql._sql_text import mark

if TYPE_CHECKING:
    from airfoil.store.sql._store import SqlMetaStore

__all__ = ["SqlRegistryStore"]

_R = TypeVar("_R")


class SqlRegistryStore(RegistryStore):
    """A :class:`RegistryStore` in a SQL database.

    Args:
        url: the database URL (the metadata store's: ``sqlite:///...`` or
            ``postgresql+psycopg://...``).
        durability: ``power``: every commit is on disk before it returns (SQLite
            ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``); ``process``: the
            database's own setting.

    Raises:
        StoreError: the database cannot be reached or migrated.
    """

    def __init__(self, url: str, durability: str = "process") -> None:
        self.engine = store_engine(url)
        self._heads: SqlMetaStore | None = None
        if durability == "power":
            sa.event.listen(self.engine, "connect", commit_synchronously)
        try:
            # The server's tables come with the store's schema (Alembic revision 0004 on).
            migrate(url)
        except StoreError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the server tables at {masked_url(url)}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def read_heads_with(self, meta: SqlMetaStore) -> None:
        """Read versions' heads (:meth:`get_entity_head`, every launch's) on ``meta``'s
        connection of the calling thread, which must be on this registry's database.

        One round trip a read on PostgreSQL: that connection is kept by its thread and runs in
        autocommit, where a read through this registry's pool pays three (the checkout's ping,
        the statement in its implicit transaction, the rollback of the checkin). The read is
        as fresh: autocommit reads what was committed before it began.
        """
        self._heads = meta

    def _connect(self, write: bool = False) -> contextlib.AbstractContextManager[sa.Connection]:
        """A connection (in a transaction if ``write``), driver errors as store errors."""
        return guarded_connection(self.engine, "the registry", write=write)

    # --- projects ---------------------------------------------------------------------------

    def ensure_project(self, name: str, description: str = "", now: float | None = None) -> bool:
        """Create a project if it does not exist; True if it was created."""
        with self._connect(write=True) as conn:
            found = conn.execute(sa.select(projects.c.name).where(projects.c.name == name))
            if found.first() is not None:
                return False
            try:
                with conn.begin_nested():
                    conn.execute(
                        projects.insert().values(
                            name=name, description=description, created_at=now or time.time()
                        )
                    )
            except sa.exc.IntegrityError:  # created concurrently
                return False
            return True

    def list_projects(self) -> list[tuple[str, str, float]]:
        with self._connect() as conn:
            rows = conn.execute(sa.select(projects).order_by(projects.c.name)).all()
        return [(r.name, r.description, r.created_at) for r in rows]

    def get_project(self, name: str) -> tuple[str, str, float]:
        with self._connect() as conn:
            row = conn.execute(sa.select(projects).where(projects.c.name == name)).first()
        if row is None:
            raise missing_project(name)
        return row.name, row.description, row.created_at

    # --- packages ---------------------------------------------------------------------------

    def add_package(self, sha256: str, size: int, now: float) -> bool:
        """Record an uploaded package; True if it was new."""
        with self._connect(write=True) as conn:
            found = conn.execute(sa.select(packages.c.sha256).where(packages.c.sha256 == sha256))
            if found.first() is not None:
                return False
            try:
                with conn.begin_nested():
                    conn.execute(packages.insert().values(sha256=sha256, size=size, created_at=now))
            except sa.exc.IntegrityError:  # uploaded concurrently
                return False
            return True

    def has_package(self, sha256: str) -> bool:
        with self._connect() as conn:
            q = sa.select(packages.c.sha256).where(packages.c.sha256 == sha256)
            return conn.execute(q).first() is not None

    # --- entities ---------------------------------------------------------------------------

    def register(self, rows: list[EntityRow]) -> list[tuple[EntityRow, bool]]:
        """Register entity versions in one transaction; ``(row, created)`` for each.

        A concurrent registration of the same version is waited out (once): it either holds
        the same content (a no-op) or other content (a conflict).

        Raises:
            VersionConflict: a version exists with other content (nothing is registered).
        """

        def check(existing: Any, row: EntityRow) -> None:
            conflict = entity_conflict(_entity(existing), row)
            if conflict is not None:
                raise conflict

        return self._register_versions(entities, rows, _entity, check)

    def get_entity(self, project: str, name: str, version: str | None) -> EntityRow:
        """One version (the newest registered if ``version`` is None). Raises NotFoundError."""
        row = self._version(entities, project, name, version)
        if row is None:
            raise missing_entity(project, name, version)
        return _entity(row)

    def get_entity_head(self, project: str, name: str, version: str | None) -> EntityRow:
        """:meth:`get_entity` without reading the spec (``spec`` is ""): one statement,
        built once, that reads no TOAST (on the metadata store's connection once
        :meth:`read_heads_with` is called)."""
        params = {"project": project, "name": name, "version": version}
        if self._heads is not None:
            sql = _head_sql(self._heads.dialect, version is None)
            rows = self._heads._read(sql, params, "reading a version from the registry")
            if rows:  # the columns of _HEAD_COLUMNS: EntityRow's fields but its spec
                project, name, version, kind, content_hash, package, at = rows[0]
                return EntityRow(project, name, version, kind, content_hash, package, at, "")
            raise missing_entity(project, name, version)
        query = _NEWEST_HEAD if version is None else _VERSION_HEAD
        with self._connect() as conn:
            row = conn.execute(query, params).first()
        if row is None:
            raise missing_entity(project, name, version)
        return _entity(row, spec="")

    def list_entities(self, project: str, kind: str | None = None) -> list[EntityRow]:
        """Every version in a project, newest first."""
        q = sa.select(entities).where(entities.c.project == project)
        if kind is not None:
            q = q.where(entities.c.kind == kind)
        q = q.order_by(entities.c.registered_at.desc(), entities.c.name)
        with self._connect() as conn:
            return [_entity(r) for r in conn.execute(q).all()]

    # --- launch plans -----------------------------------------------------------------------

    def register_launch_plans(self, rows: list[LaunchPlanRow]) -> list[tuple[LaunchPlanRow, bool]]:
        """Register launch plan versions in one transaction; ``(row, created)`` for each (a
        version already registered is a no-op: its version is the hash of its content)."""
        return self._register_versions(launch_plans, rows, _plan, None)

    def get_launch_plan(self, project: str, name: str, version: str | None) -> LaunchPlanRow:
        """One version (the newest registered if ``version`` is None). Raises NotFoundError."""
        row = self._version(launch_plans, project, name, version)
        if row is None:
            raise missing_launch_plan(project, name, version)
        return _plan(row)

    def list_launch_plans(self, project: str) -> list[LaunchPlanRow]:
        """The newest version of every launch plan of a project, by name."""
        q = (
            sa.select(launch_plans)
            .where(launch_plans.c.project == project)
            .order_by(launch_plans.c.name, launch_plans.c.registered_at.desc())
        )
        newest: dict[str, LaunchPlanRow] = {}
        with self._connect() as conn:
            for r in conn.execute(q).all():
                newest.setdefault(r.name, _plan(r))
        return list(newest.values())

    # --- versioned rows (entities, launch plans) ---------------------------------------------

    def _register_versions(
        self,
        table: sa.Table,
        rows: list[_R],
        decode: Callable[[Any], _R],
        check: Callable[[Any, _R], None] | None,
    ) -> list[tuple[_R, bool]]:
        """Insert ``(project, name, version)`` rows in one transaction: ``(row, created)``
        each; an existing version is kept (``check`` may refuse it). A concurrent insert of
        the same version is retried once, then it exists."""
        try:
            return self._insert_versions(table, rows, decode, check)
        except sa.exc.IntegrityError:
            return self._insert_versions(table, rows, decode, check)

    def _insert_versions(
        self,
        table: sa.Table,
        rows: list[_R],
        decode: Callable[[Any], _R],
        check: Callable[[Any, _R], None] | None,
    ) -> list[tuple[_R, bool]]:
        out: list[tuple[_R, bool]] = []
        with self._connect(write=True) as conn:
            for row in rows:
                r: Any = row
                existing = conn.execute(
                    sa.select(table).where(
                        table.c.project == r.project,
                        table.c.name == r.name,
                        table.c.version == r.version,
                    )
                ).first()
                if existing is not None:
                    if check is not None:
                        check(existing, row)
                    out.append((decode(existing), False))
                    continue
                conn.execute(table.insert().values(**r.__dict__))
                out.append((row, True))
        return out

    def _version(self, table: sa.Table, project: str, name: str, version: str | None) -> Any:
        """The row of one version (the newest registered if ``version`` is None), or None."""
        q = sa.select(table).where(table.c.project == project, table.c.name == name)
        if version is not None:
            q = q.where(table.c.version == version)
        q = q.order_by(table.c.registered_at.desc()).limit(1)
        with self._connect() as conn:
            return conn.execute(q).first()


#: An entity version's row without its spec: the named version, or the newest registered.
_HEAD_COLUMNS = [c for c in entities.c if c.name != "spec"]
_WHERE_NAMED = (
    entities.c.project == sa.bindparam("project"),
    entities.c.name == sa.bindparam("name"),
)
_VERSION_HEAD = (
    sa.select(*_HEAD_COLUMNS)
    .where(*_WHERE_NAMED, entities.c.version == sa.bindparam("version"))
    .limit(1)
)
_NEWEST_HEAD = (
    sa.select(*_HEAD_COLUMNS)
    .where(*_WHERE_NAMED)
    .order_by(entities.c.registered_at.desc())
    .limit(1)
)


@functools.cache
def _head_sql(dialect: str, newest: bool) -> str:
    """:data:`_NEWEST_HEAD` or :data:`_VERSION_HEAD` as a DBAPI statement of ``dialect``."""
    columns = ", ".join(c.name for c in _HEAD_COLUMNS)
    sql = (
        f"SELECT {columns} FROM {entities.name} "
        f"WHERE project = {mark(dialect, 'project')} AND name = {mark(dialect, 'name')}"
    )
    if newest:
        return sql + " ORDER BY registered_at DESC LIMIT 1"
    return sql + f" AND version = {mark(dialect, 'version')} LIMIT 1"


def _entity(row: Any, spec: str | None = None) -> EntityRow:
    return EntityRow(
        project=row.project,
        name=row.name,
        version=row.version,
        kind=row.kind,
        content_hash=row.content_hash,
        package=row.package,
        registered_at=row.registered_at,
        spec=row.spec if spec is None else spec,
    )


def _plan(row: Any) -> LaunchPlanRow:
    return LaunchPlanRow(
        project=row.project,
        name=row.name,
        version=row.version,
        workflow=row.workflow,
        workflow_version=row.workflow_version,
        package=row.package,
        registered_at=row.registered_at,
        spec=row.spec,
    )
