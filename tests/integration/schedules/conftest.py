"""Fixtures of the schedule tests on real databases: this session's migrated PostgreSQL
schema, emptied per test (SQLite and the schema factory are in
``tests/integration/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

pytest.register_assert_rewrite(
    "airfoil.testing.conformance", "airfoil.testing.schedule_conformance"
)

from airfoil.store.sql import migrate  # noqa: E402


@pytest.fixture(scope="session")
def pg_schema_url(pg_new_schema: Callable[[], str]) -> Iterator[str]:
    url = pg_new_schema()
    migrate(url)
    yield url


@pytest.fixture
def pg_url(pg_schema_url: str) -> str:
    """This session's schema, emptied."""
    engine = sa.create_engine(pg_schema_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE server_artifact_versions, server_artifact_aliases, "
                "server_artifact_moves, control_messages, metric_series, failures, task_runs, "
                "schedules, cache_reservations, cache_entries, events, attempts, nodes, "
                "execution_specs, executions"
            )
        )
    engine.dispose()
    return pg_schema_url
