"""Fixtures of the SQL store tests: this session's migrated PostgreSQL schema, emptied per
test (the database fixtures they build on are in ``tests/integration/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

pytest.register_assert_rewrite(
    "airfoil.testing.conformance",
    "airfoil.testing.scheduling_conformance",
    "airfoil.testing.cache_scope_conformance",
    "airfoil.testing.registry_conformance",
    "airfoil.testing.secret_conformance",
    "airfoil.testing.artifact_conformance",
    "airfoil.testing.admission_conformance",
)

from airfoil.store.sql import migrate  # noqa: E402

TABLES = (
    "control_messages",
    "metric_series",
    "task_runs",
    "failures",
    "cache_reservations",
    "cache_entries",
    "events",
    "attempts",
    "nodes",
    "execution_specs",
    "executions",
    "project_quotas",
    "queue_snapshots",
    "task_runtimes",
    "cache_scopes",
    "cache_scope_members",
)


@pytest.fixture(scope="session")
def pg_url(pg_new_schema: Callable[[], str]) -> str:
    """The URL of this session's migrated PostgreSQL schema."""
    url = pg_new_schema()
    migrate(url)
    return url


@pytest.fixture
def pg_empty_url(pg_url: str) -> str:
    """This session's schema, emptied."""
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))
    engine.dispose()
    return pg_url
