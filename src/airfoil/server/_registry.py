"""The server's own tables, beside the metadata store's in the same database.

What the server keeps that an embedded run does not: projects, code packages, registered
task/workflow versions and launch plan versions, API keys (hashed) and control requests
(terminate) that a server process leaves for the one driving an execution.

Invariants:

- ``(project, name, version)`` of a registered entity or launch plan never changes content:
  registering it again with the same spec is a no-op, with another spec a
  :class:`VersionConflict` (a launch plan's version is the hash of its spec).
- Only the SHA-256 of an API key's secret is stored; the secret is shown once, at creation.
- The tables (``server_*`` names, so they never collide with the store's) are part of the
  store's Alembic schema (revision 0004); opening a registry migrates the database to the
  newest revision. This module's table objects mirror that revision (a test compares them).
  Every call is its own short transaction, safe from any thread.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from airfoil.core.errors import ConflictError, NotFoundError, StoreError
from airfoil.store.sql import migrate

__all__ = ["ApiKey", "EntityRow", "LaunchPlanRow", "Registry", "VersionConflict", "hash_secret"]

_R = TypeVar("_R")

_meta = sa.MetaData()
_KEY = sa.String(300)

projects = sa.Table(
    "server_projects",
    _meta,
    sa.Column("name", _KEY, primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Double, nullable=False),
)
packages = sa.Table(
    "server_packages",
    _meta,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)
entities = sa.Table(
    "server_entities",
    _meta,
    sa.Column("project", _KEY, primary_key=True),
    sa.Column("name", _KEY, primary_key=True),
    sa.Column("version", _KEY, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("package", sa.String(64), nullable=False),
    sa.Column("registered_at", sa.Double, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Index("ix_server_entities_project_registered", "project", "registered_at"),
)
launch_plans = sa.Table(
    "server_launch_plans",
    _meta,
    sa.Column("project", _KEY, primary_key=True),
    sa.Column("name", _KEY, primary_key=True),
    sa.Column("version", _KEY, primary_key=True),
    sa.Column("workflow", _KEY, nullable=False),
    sa.Column("workflow_version", _KEY, nullable=False),
    sa.Column("package", sa.String(64), nullable=False),
    sa.Column("registered_at", sa.Double, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Index("ix_server_launch_plans_project_registered", "project", "registered_at"),
)
api_keys = sa.Table(
    "server_api_keys",
    _meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", _KEY, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
control = sa.Table(
    "server_control",
    _meta,
    sa.Column("execution_id", _KEY, primary_key=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_at", sa.Double, nullable=False),
)


class VersionConflict(ConflictError):
    """An entity version is already registered with different content."""


@dataclass(frozen=True)
class EntityRow:
    """A registered task or workflow version (``spec`` is the launchable WorkflowSpec JSON)."""

    project: str
    name: str
    version: str
    kind: str
    content_hash: str
    package: str
    registered_at: float
    spec: str


@dataclass(frozen=True)
class LaunchPlanRow:
    """A registered launch plan version (``spec`` is the LaunchPlanSpec JSON; ``version`` the
    hash of it, so a version never changes content)."""

    project: str
    name: str
    version: str
    workflow: str
    workflow_version: str
    package: str
    registered_at: float
    spec: str


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored (never its secret)."""

    id: str
    project: str
    role: str
    created_at: float
    revoked: bool


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret (keys are 32 random bytes: a fast hash suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _db_url(database_url: str | None, home: str) -> str:
    if database_url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        return "sqlite:///" + path
    return database_url


class Registry:
    """The server's tables on a SQLAlchemy engine.

    Args:
        database_url: the same URL as the metadata store (None: SQLite in ``home``).
        home: the Airfoil home folder.
    """

    def __init__(self, database_url: str | None, home: str) -> None:
        url = _db_url(database_url, home)
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=5, max_overflow=10, pool_pre_ping=True)
            # An unanswering database fails a ping (``/readyz``) in seconds, not minutes.
            kwargs["connect_args"] = {"connect_timeout": 5}
        self.engine = sa.create_engine(url, **kwargs)
        self._keys_exist: tuple[float, bool] | None = None
        self._lock = threading.Lock()
        try:
            # The server's tables come with the store's schema (Alembic revision 0004 on).
            migrate(url)
        except StoreError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the server tables at {_mask(url)}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # --- projects ---------------------------------------------------------------------------

    def ensure_project(self, name: str, description: str = "", now: float | None = None) -> bool:
        """Create a project if it does not exist; True if it was created."""
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(projects).order_by(projects.c.name)).all()
        return [(r.name, r.description, r.created_at) for r in rows]

    def get_project(self, name: str) -> tuple[str, str, float]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(projects).where(projects.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"project {name!r} does not exist")
        return row.name, row.description, row.created_at

    # --- packages ---------------------------------------------------------------------------

    def add_package(self, sha256: str, size: int, now: float) -> bool:
        """Record an uploaded package; True if it was new."""
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
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
            if existing.content_hash != row.content_hash or existing.kind != row.kind:
                raise VersionConflict(
                    f"{row.kind} {row.name!r} version {row.version!r} is already "
                    f"registered in project {row.project!r} with different content: "
                    "give the new code a new version"
                )

        return self._register_versions(entities, rows, _entity, check)

    def get_entity(self, project: str, name: str, version: str | None) -> EntityRow:
        """One version (the newest registered if ``version`` is None). Raises NotFoundError."""
        row = self._version(entities, project, name, version)
        if row is None:
            what = f"version {version!r} of " if version else ""
            raise NotFoundError(f"no {what}task or workflow {name!r} in project {project!r}")
        return _entity(row)

    def list_entities(self, project: str, kind: str | None = None) -> list[EntityRow]:
        """Every version in a project, newest first."""
        q = sa.select(entities).where(entities.c.project == project)
        if kind is not None:
            q = q.where(entities.c.kind == kind)
        q = q.order_by(entities.c.registered_at.desc(), entities.c.name)
        with self.engine.connect() as conn:
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
            what = f"version {version!r} of " if version else ""
            raise NotFoundError(
                f"no {what}launch plan {name!r} in project {project!r}: register the file "
                "that defines it (`airfoil register FILE`)"
            )
        return _plan(row)

    def list_launch_plans(self, project: str) -> list[LaunchPlanRow]:
        """The newest version of every launch plan of a project, by name."""
        q = (
            sa.select(launch_plans)
            .where(launch_plans.c.project == project)
            .order_by(launch_plans.c.name, launch_plans.c.registered_at.desc())
        )
        newest: dict[str, LaunchPlanRow] = {}
        with self.engine.connect() as conn:
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
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            return conn.execute(q).first()

    # --- API keys ---------------------------------------------------------------------------

    def create_key(self, project: str, role: str, now: float | None = None) -> tuple[str, str]:
        """Create a key; returns ``(key_id, full_key)``. The full key is never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    project=project,
                    role=role,
                    secret_hash=hash_secret(secret),
                    created_at=now or time.time(),
                    revoked=False,
                )
            )
        with self._lock:
            self._keys_exist = None
        return key_id, f"af_{key_id}_{secret}"

    def revoke_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            res = conn.execute(
                api_keys.update().where(api_keys.c.id == key_id).values(revoked=True)
            )
        if res.rowcount == 0:
            raise NotFoundError(f"no API key {key_id!r}")

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [ApiKey(r.id, r.project, r.role, r.created_at, bool(r.revoked)) for r in rows]

    def lookup_key(self, key_id: str, secret: str) -> ApiKey | None:
        """The live key with this id and secret, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or row.revoked:
            return None
        if not secrets.compare_digest(row.secret_hash, hash_secret(secret)):
            return None
        return ApiKey(row.id, row.project, row.role, row.created_at, False)

    def keys_configured(self, now: float, max_age_s: float = 2.0) -> bool:
        """Whether any live key exists (cached for ``max_age_s``)."""
        with self._lock:
            cached = self._keys_exist
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        with self.engine.connect() as conn:
            q = sa.select(api_keys.c.id).where(api_keys.c.revoked.is_(False)).limit(1)
            exists = conn.execute(q).first() is not None
        with self._lock:
            self._keys_exist = (now, exists)
        return exists

    # --- control requests -------------------------------------------------------------------

    def request_terminate(self, execution_id: str, reason: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(control.delete().where(control.c.execution_id == execution_id))
            conn.execute(
                control.insert().values(
                    execution_id=execution_id, action="terminate", reason=reason, requested_at=now
                )
            )

    def terminate_requested(self, execution_id: str) -> str | None:
        """The reason of a pending terminate request, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(control.c.reason).where(control.c.execution_id == execution_id)
            ).first()
        return None if row is None else str(row.reason)

    def clear_control(self, execution_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(control.delete().where(control.c.execution_id == execution_id))


def _mask(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _entity(row: Any) -> EntityRow:
    return EntityRow(
        project=row.project,
        name=row.name,
        version=row.version,
        kind=row.kind,
        content_hash=row.content_hash,
        package=row.package,
        registered_at=row.registered_at,
        spec=row.spec,
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
