"""Creating a new database's schema in one step, instead of replaying every revision.

A database with none of Airfoil's tables (a new ``AIRFOIL_HOME``, a new PostgreSQL schema) is
given the newest schema straight from the table definitions (``_schema.metadata`` and
``_server_tables.meta``) and stamped with :data:`~airfoil.store.sql._revision.HEAD_REVISION`,
as ``alembic upgrade head`` would leave it, but without importing Alembic. On SQLite (the
embedded default) not even SQLAlchemy is imported: the DDL is rendered ahead of time into
``_sqlite_ddl`` (``python scripts/render_sqlite_ddl.py`` writes it; a test checks it is current,
and a stale one is never used: creation then goes through SQLAlchemy).

Invariants:

- Creation runs in one transaction under the migration lock (SQLite ``BEGIN IMMEDIATE``,
  PostgreSQL ``pg_advisory_xact_lock``) and re-reads the revision inside it, so processes
  opening a new database at once create it exactly once.
- A database that holds some of Airfoil's tables but no revision is never created over: it
  is left to Alembic.
- A created database equals a migrated one (a test compares them on SQLite and PostgreSQL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.core.errors import StoreError
from airfoil.store.sql._connect import create_engine, parse_url, safe_url
from airfoil.store.sql._revision import HEAD_REVISION

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "MIGRATION_LOCK",
    "create_new",
    "create_schema",
    "read_revision",
    "render_sqlite_ddl",
]

#: pg_advisory_xact_lock key shared by every Airfoil migrator ("airfoil" in ASCII).
MIGRATION_LOCK = 0x616972666F696C


def read_revision(cursor: Any, dialect: str) -> str | None:
    """The database's Alembic revision (``"a,b"`` if several), or None if it has none."""
    if dialect == "sqlite":
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        )
    else:
        cursor.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SELECT version_num FROM alembic_version")
    revisions = sorted(str(row[0]) for row in cursor.fetchall())
    return ",".join(revisions) if revisions else None


def create_new(cursor: Any, dialect: str, url: str, timeout_s: float) -> bool:
    """Create the newest schema if the database has none of Airfoil's tables.

    ``cursor`` is the store's own (an autocommit SQLite cursor serves the pre-rendered DDL);
    otherwise SQLAlchemy creates the tables on a connection of its own.

    Returns:
        True if the database is at the head revision afterwards (created here or by another
        process); False if it holds some of Airfoil's tables but no revision.
    """
    if dialect == "sqlite" and _sqlite_ddl_current():
        return _create_sqlite(cursor)
    return create_schema(url, timeout_s)


def create_schema(url: str, timeout_s: float = 30.0) -> bool:
    """Create the newest schema from the table definitions, with SQLAlchemy (any backend).

    Returns:
        As :func:`create_new`.

    Raises:
        ConfigError: the URL is not a supported database URL.
        StoreError: the database cannot be reached or creating the tables failed.
    """
    import sqlalchemy as sa

    engine = create_engine(parse_url(url), timeout_s)
    try:
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE is the lock
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            revision = read_revision(connection.connection.cursor(), connection.dialect.name)
            if revision is not None:
                return revision == HEAD_REVISION
            if _our_tables() & set(sa.inspect(connection).get_table_names()):
                return False
            for metadata in _metadatas():
                metadata.create_all(connection, checkfirst=False)
            version = _version_table()
            version.create(connection, checkfirst=True)  # an empty one stays after a downgrade
            connection.execute(version.insert().values(version_num=HEAD_REVISION))
        return True
    except sa.exc.DBAPIError as exc:
        shown = safe_url(engine.url)
        raise StoreError(f"could not create the schema in {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()


def render_sqlite_ddl() -> tuple[str, ...]:
    """The statements that create the newest schema on SQLite (tables, then their indexes),
    as ``create_all`` would send them; the version table is created if it does not exist."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect()  # type: ignore[no-untyped-call]
    statements: list[str] = []
    for metadata in _metadatas():
        for table in metadata.sorted_tables:
            statements.append(str(CreateTable(table).compile(dialect=dialect)))
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    version = CreateTable(_version_table(), if_not_exists=True)
    statements.append(str(version.compile(dialect=dialect)))
    return tuple(" ".join(statement.split()) for statement in statements)


def _sqlite_ddl_current() -> bool:
    from airfoil.store.sql import _sqlite_ddl

    return _sqlite_ddl.REVISION == HEAD_REVISION


def _create_sqlite(cursor: Any) -> bool:
    from airfoil.store.sql import _sqlite_ddl

    cursor.execute("BEGIN IMMEDIATE")
    try:
        revision = read_revision(cursor, "sqlite")
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        existing = {str(row[0]) for row in cursor.fetchall()}
        if revision is not None or set(_sqlite_ddl.TABLES) & existing:
            cursor.execute("ROLLBACK")
            return revision == HEAD_REVISION
        for statement in _sqlite_ddl.STATEMENTS:
            cursor.execute(statement)
        cursor.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD_REVISION,))
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    return True


def _metadatas() -> tuple[sa.MetaData, ...]:
    from airfoil.store.sql import _schema, _server_tables

    return (_schema.metadata, _server_tables.meta)


def _our_tables() -> set[str]:
    return {name for metadata in _metadatas() for name in metadata.tables}


def _version_table() -> sa.Table:
    """Alembic's version table, as ``alembic upgrade`` creates it."""
    import sqlalchemy as sa

    return sa.Table(
        "alembic_version",
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
