"""Schema migrations: the fast "already at head" check, one-step creation of a new
database, and Alembic for an old one.

Opening a store reads the Alembic version table (one or two queries on the store's own
connection). A new, empty database is created in one step from the table definitions
(``_schema.metadata`` and the server tables) and stamped with the head revision, without
importing Alembic or replaying the revisions; only a database that is behind imports Alembic
(slow to import) and runs ``upgrade head``; the revisions live in ``airfoil/store/migrations``.

Invariants:

- Migrations run in one transaction that first takes a database-wide lock (SQLite
  ``BEGIN IMMEDIATE``, PostgreSQL ``pg_advisory_xact_lock``), so processes opening a fresh
  database at once migrate it exactly once; the others then find it at head.
- A created database equals a migrated one (a test compares the two with SQLAlchemy's
  inspector on SQLite and PostgreSQL), so a new revision must change the table definitions
  the same way.
- A database at a revision this code does not know (written by a newer Airfoil) is never
  touched: opening it raises :class:`~airfoil.core.errors.StoreError`.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import ConfigError, StoreError
from airfoil.store.sql._connect import create_engine, parse_url, safe_url
from airfoil.store.sql._create import MIGRATION_LOCK, create_new, read_revision
from airfoil.store.sql._revision import HEAD_REVISION, KNOWN_REVISIONS

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "downgrade",
    "ensure_schema",
    "migrate",
    "migrations_dir",
    "read_revision",
    "run_environment",
]


def migrations_dir() -> str:
    """The directory of the Alembic environment (``env.py``, ``versions/``)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def ensure_schema(cursor: Any, dialect: str, url: str, shown: str, timeout_s: float) -> None:
    """Bring the database to :data:`~airfoil.store.sql._revision.HEAD_REVISION` if it is not.

    ``cursor`` is the store's own; Alembic runs on a connection of its own (from ``url``)
    only when the database is behind. ``shown`` is the URL as messages name it.

    Raises:
        StoreError: the database is newer than this code, or migrating it failed.
    """
    revision = read_revision(cursor, dialect)
    if revision == HEAD_REVISION:
        return
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"the database {shown} is at schema revision {revision!r}, which "
            f"this version of Airfoil does not know (its newest is {HEAD_REVISION!r}); "
            "upgrade Airfoil to use it"
        )
    if revision is not None or not create_new(cursor, dialect, url, timeout_s):
        _with_engine(url, timeout_s, "upgrade", "head")
    revision = read_revision(cursor, dialect)
    if revision != HEAD_REVISION:
        raise StoreError(
            f"migrating {shown} left it at revision {revision!r}, not {HEAD_REVISION!r}"
        )


def migrate(url: str, revision: str = "head", *, timeout_s: float = 30.0) -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest).

    Opening a :class:`~airfoil.store.sql.SqlMetaStore` does this on its own; call this to
    migrate ahead of time (a deploy step).

    Raises:
        ConfigError: the URL is not a supported database URL.
        StoreError: the database cannot be reached or migrating it failed.
    """
    _with_engine(url, timeout_s, "upgrade", revision)


def downgrade(url: str, revision: str = "base", *, timeout_s: float = 30.0) -> None:
    """Downgrade the database at ``url`` to ``revision`` (default ``base``: drop everything).

    Raises:
        ConfigError: the URL is not a supported database URL.
        StoreError: the database cannot be reached or migrating it failed.
    """
    _with_engine(url, timeout_s, "downgrade", revision)


def _with_engine(url: str, timeout_s: float, action: str, revision: str) -> None:
    engine = create_engine(parse_url(url), timeout_s)
    try:
        _run_alembic(engine, action, revision)
    finally:
        engine.dispose()


#: Alembic keeps the running migration's context in module globals (``alembic.context``,
#: ``alembic.op``): two threads migrating at once (two stores opened together in one process)
#: would see each other's, so runs in one process take turns.
_ALEMBIC_LOCK = threading.Lock()


def _run_alembic(engine: sa.Engine, action: str, revision: str) -> None:
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", migrations_dir())
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            with _ALEMBIC_LOCK:
                getattr(command, action)(config, revision)
            connection.commit()
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"could not migrate {safe_url(engine.url)}: {exc.orig}") from exc
    except (StoreError, ConfigError):
        raise
    except Exception as exc:  # Alembic's CommandError and friends
        raise StoreError(f"could not migrate {safe_url(engine.url)}: {exc}") from exc


def run_environment(context: Any) -> None:
    """The body of ``env.py``: run the migrations Alembic asks for.

    Uses the connection handed over in ``config.attributes["connection"]`` (how
    :func:`migrate` calls it), else connects to ``sqlalchemy.url`` of the Alembic config
    (or ``-x url=...``; how the ``alembic`` command line calls it).
    """
    from airfoil.store.sql import _schema

    config = context.config
    connection = config.attributes.get("connection")
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url", ""
    )
    if context.is_offline_mode():
        context.configure(url=parse_url(url), target_metadata=_schema.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    elif connection is not None:
        _run_online(context, connection)
    else:
        engine = create_engine(parse_url(url), 30.0)
        try:
            with engine.connect() as connection:
                _run_online(context, connection)
                connection.commit()
        finally:
            engine.dispose()


def _run_online(context: Any, connection: sa.Connection) -> None:
    from airfoil.store.sql import _schema

    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=_schema.metadata,
        render_as_batch=is_sqlite,  # SQLite alters tables by copying them
        compare_type=True,
        # Alembic assumes SQLite cannot roll DDL back and would commit after each revision,
        # letting another process read a half-migrated version between two; SQLite's DDL is
        # transactional, so the whole upgrade is one transaction (under BEGIN IMMEDIATE).
        transactional_ddl=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if not is_sqlite:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()
