"""A new database is created in one step (table definitions + a stamped head revision), and
equals one that Alembic migrated; old databases still upgrade by migration. SQLite and
PostgreSQL."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore, _create, _schema, _sqlite_ddl, migrate
from airfoil.store.sql._revision import HEAD_REVISION
from airfoil.testing.conformance import make_execution

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A factory of empty databases: new SQLite files, or new PostgreSQL schemas."""
    if request.param == "sqlite":
        made: list[int] = []

        def new_file() -> str:
            made.append(len(made))
            (tmp_path / f"db{len(made)}").mkdir()
            return f"sqlite:///{tmp_path}/db{len(made)}/airfoil.db"

        return new_file
    factory: Callable[[], str] = request.getfixturevalue("pg_new_schema")
    return factory


def _snapshot(url: str) -> dict[str, Any]:
    """Everything the inspector sees of a database's schema, and its stamped revision."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        # Each kind for all tables in one query (``get_multi_*``): per table, PostgreSQL's
        # reflection was ~6 catalog queries a table, 7-11 s a snapshot on a shared server.
        columns = inspector.get_multi_columns()
        primary_keys = inspector.get_multi_pk_constraint()
        foreign_keys = inspector.get_multi_foreign_keys()
        indexes = inspector.get_multi_indexes()
        unique = inspector.get_multi_unique_constraints()
        checks = inspector.get_multi_check_constraints()
        tables: dict[str, Any] = {}
        for name in sorted(inspector.get_table_names()):
            key = (None, name)
            tables[name] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in columns[key]
                ],
                "primary_key": primary_keys[key],
                "foreign_keys": sorted(map(repr, foreign_keys[key])),
                "indexes": sorted(map(repr, indexes[key])),
                "unique": sorted(map(repr, unique[key])),
                "checks": sorted(map(repr, checks[key])),
            }
        with engine.connect() as conn:
            versions = [r[0] for r in conn.execute(sa.text("SELECT * FROM alembic_version"))]
            storage = (  # PostgreSQL's table storage parameters (the nodes' fill factor)
                sorted(
                    (str(name), list(options or []))
                    for name, options in conn.execute(
                        sa.text(
                            "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
                            "AND relnamespace = current_schema()::regnamespace"
                        )
                    )
                )
                if engine.dialect.name == "postgresql"
                else []
            )
        return {"tables": tables, "versions": versions, "storage": storage}
    finally:
        engine.dispose()


def _imported_after_opening(url: str) -> dict[str, bool]:
    code = (
        "import sys, json\n"
        "from airfoil.store.sql import SqlMetaStore\n"
        f"SqlMetaStore({url!r}).close()\n"
        "print(json.dumps({m: m in sys.modules for m in ('alembic', 'sqlalchemy')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    result: dict[str, bool] = json.loads(out.stdout)
    return result


def test_a_created_schema_equals_a_migrated_one(new_url: Callable[[], str]) -> None:
    created, migrated = new_url(), new_url()
    SqlMetaStore(created).close()  # SQLite: the pre-rendered DDL; PostgreSQL: SQLAlchemy
    migrate(migrated)
    assert _snapshot(migrated)["versions"] == [HEAD_REVISION]
    assert _snapshot(created) == _snapshot(migrated)


def test_sqlalchemy_creation_equals_a_migrated_schema(new_url: Callable[[], str]) -> None:
    created, migrated = new_url(), new_url()
    assert _create.create_schema(created) is True
    assert _create.create_schema(created) is True  # at head already: nothing to do
    migrate(migrated)
    assert _snapshot(created) == _snapshot(migrated)


def test_a_new_database_is_created_without_alembic(new_url: Callable[[], str]) -> None:
    url = new_url()
    imported = _imported_after_opening(url)
    assert imported["alembic"] is False
    if url.startswith("sqlite"):  # the embedded default does not even import SQLAlchemy
        assert imported["sqlalchemy"] is False
    assert _snapshot(url)["versions"] == [HEAD_REVISION]
    store = SqlMetaStore(url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.get_execution("e1") == make_execution()
    finally:
        store.close()


def test_an_old_database_upgrades_by_migration_and_keeps_its_rows(
    new_url: Callable[[], str],
) -> None:
    old, reference = new_url(), new_url()
    migrate(old, "0003")
    engine = sa.create_engine(old, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO project_quotas (project, record) VALUES ('kept', '{}')"
                    if "project_quotas" in sa.inspect(conn).get_table_names()
                    else "SELECT 1"
                )
            )
    finally:
        engine.dispose()
    assert _imported_after_opening(old)["alembic"] is True  # replayed 0004..head
    migrate(reference)
    assert _snapshot(old) == _snapshot(reference)


def test_a_database_with_tables_but_no_revision_is_left_to_alembic(
    new_url: Callable[[], str],
) -> None:
    """Servers before revision 0004 made their own tables: they are kept, not created over."""
    from airfoil.store.sql._server_tables import meta

    url, reference = new_url(), new_url()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        meta.tables["server_projects"].create(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO server_projects VALUES ('kept', '', 1.0)"))
    finally:
        engine.dispose()
    assert _create.create_schema(url) is False
    SqlMetaStore(url).close()
    migrate(reference)
    assert _snapshot(url) == _snapshot(reference)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM server_projects")).scalar() == "kept"
    finally:
        engine.dispose()


def test_a_stale_rendered_ddl_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a new revision, until the DDL is rendered again, SQLAlchemy creates the schema."""
    monkeypatch.setattr(_sqlite_ddl, "REVISION", "0000")
    monkeypatch.setattr(_sqlite_ddl, "STATEMENTS", ("CREATE TABLE wrong (x INTEGER)",))
    url, reference = f"sqlite:///{tmp_path}/a/airfoil.db", f"sqlite:///{tmp_path}/b/airfoil.db"
    SqlMetaStore(url).close()
    migrate(reference)
    assert _snapshot(url) == _snapshot(reference)


def test_the_rendered_sqlite_ddl_is_current() -> None:
    from airfoil.store.sql import _server_tables

    hint = "run `python scripts/render_sqlite_ddl.py` after changing the schema"
    assert _sqlite_ddl.REVISION == HEAD_REVISION, hint
    assert _create.render_sqlite_ddl() == _sqlite_ddl.STATEMENTS, hint
    tables = set(_schema.metadata.tables) | set(_server_tables.meta.tables)
    assert set(_sqlite_ddl.TABLES) == tables, hint


def _open_and_write(url: str, barrier: Any, n: int) -> None:
    barrier.wait(timeout=120)
    store = SqlMetaStore(url)
    try:
        store.write(StoreBatch(execution=make_execution(f"e{n}")))
    finally:
        store.close()


def test_processes_creating_a_new_database_at_once_create_it_once(
    new_url: Callable[[], str],
) -> None:
    url, reference = new_url(), new_url()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open_and_write, args=(url, barrier, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    migrate(reference)
    assert _snapshot(url) == _snapshot(reference)
    store = SqlMetaStore(url)
    try:
        assert {store.get_execution(f"e{n}").id for n in range(4)} == {f"e{n}" for n in range(4)}
    finally:
        store.close()
