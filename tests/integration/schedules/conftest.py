"""Fixtures of the schedule tests on real databases: a migrated SQLite file per test, and a
fresh PostgreSQL schema per test session (emptied per test).

PostgreSQL is required: when it cannot be reached the PostgreSQL tests fail with how to
start it, unless ``AIRFOIL_SKIP_PG=1``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.register_assert_rewrite(
    "airfoil.testing.conformance", "airfoil.testing.schedule_conformance"
)

from airfoil.store.sql import migrate  # noqa: E402

PG_URL = os.environ.get("AIRFOIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sched-template") / "airfoil.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "db" / "airfoil.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    if os.environ.get("AIRFOIL_SKIP_PG") == "1":
        pytest.skip("AIRFOIL_SKIP_PG=1")
    admin = sa.create_engine(
        PG_URL, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5}
    )
    error = None
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        error = str(exc.orig).strip()
    if error is not None:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({error}); start it or set AIRFOIL_SKIP_PG=1",
            pytrace=False,
        )
    name = f"airfoil_sched_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{name}"
    migrate(url)
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_schema_url: str) -> str:
    """This session's schema, emptied."""
    engine = sa.create_engine(pg_schema_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE schedules, cache_reservations, cache_entries, events, attempts, nodes, "
                "executions"
            )
        )
    engine.dispose()
    return pg_schema_url
