"""The SQL artifact store passes the artifact store conformance suite on SQLite and
PostgreSQL (a fresh database each test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airfoil.store.artifacts import ArtifactStore
from airfoil.store.sql import SqlArtifactStore
from airfoil.testing.artifact_conformance import ArtifactStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteArtifactStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self, sqlite_url: str) -> Iterator[ArtifactStore]:
        s = SqlArtifactStore(sqlite_url)
        yield s
        s.close()


class TestPostgresArtifactStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self, pg_new_schema: Callable[[], str]) -> Iterator[ArtifactStore]:
        s = SqlArtifactStore(pg_new_schema())
        yield s
        s.close()


OPEN_AT_HEAD = """
import sys
from airfoil.store.sql import SqlArtifactStore
SqlArtifactStore(sys.argv[1]).close()
print("alembic" in sys.modules)
"""


def test_opening_a_database_at_head_does_not_run_alembic(sqlite_url: str) -> None:
    # Importing and running Alembic on every open cost each `airfoil serve` start a quarter
    # of a second; a database at the newest revision needs one query.
    import subprocess
    import sys

    SqlArtifactStore(sqlite_url).close()  # creates it at head
    out = subprocess.run(
        [sys.executable, "-c", OPEN_AT_HEAD, sqlite_url], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_database_behind_is_still_migrated(sqlite_url: str) -> None:
    import sqlalchemy as sa

    from airfoil.store.sql import downgrade, migrate

    migrate(sqlite_url, "0009")  # before the deployments table
    store = SqlArtifactStore(sqlite_url)
    try:
        assert store.list_deployments() == []
        tables = sa.inspect(store.engine).get_table_names()
        assert "server_deployments" in tables
    finally:
        store.close()
    downgrade(sqlite_url, "0009")
    assert "server_deployments" not in sa.inspect(sa.create_engine(sqlite_url)).get_table_names()
