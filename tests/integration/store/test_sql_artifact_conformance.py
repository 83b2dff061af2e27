"""The SQL artifact store passes the artifact store conformance suite on SQLite and
PostgreSQL (a fresh database each test), and so does the SQLite store that reads without
SQLAlchemy (what ``open_artifact_store`` gives for a plain SQLite file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airfoil.store.artifacts import ArtifactStore
from airfoil.store.sql import SqlArtifactStore
from airfoil.store.sql._connect import sqlite_path
from airfoil.store.sql._sqlite_artifacts import SqliteArtifactStore
from airfoil.testing.artifact_conformance import ArtifactStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteArtifactStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self, sqlite_url: str) -> Iterator[ArtifactStore]:
        s = SqlArtifactStore(sqlite_url)
        yield s
        s.close()


class TestSqliteReadsArtifactStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self, sqlite_url: str) -> Iterator[ArtifactStore]:
        s = SqliteArtifactStore(sqlite_url, sqlite_path(sqlite_url) or "")
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


RESOLVE_WITHOUT_SQLALCHEMY = """
import sys
from airfoil.store.artifacts import open_artifact_store
store = open_artifact_store(sys.argv[1], "")
print(store.resolve("p", "m", "production").version, "sqlalchemy" in sys.modules)
store.close()
"""


def test_a_service_resolves_its_model_without_importing_sqlalchemy(sqlite_url: str) -> None:
    # SQLAlchemy's import was about a tenth of a model service's start to ready.
    import subprocess
    import sys

    from airfoil.testing.artifact_conformance import make_draft

    writer = SqlArtifactStore(sqlite_url)
    try:
        for h in ("h1", "h2"):
            writer.add_version(make_draft("m", h), 1.0)
        writer.move_alias("p", "m", "production", 2, 2.0)
    finally:
        writer.close()
    out = subprocess.run(
        [sys.executable, "-c", RESOLVE_WITHOUT_SQLALCHEMY, sqlite_url],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "False"]


def test_the_sqlite_reads_see_what_the_full_store_writes(sqlite_url: str) -> None:
    from airfoil.core.errors import NotFoundError
    from airfoil.testing.artifact_conformance import make_draft

    store = SqliteArtifactStore(sqlite_url, sqlite_path(sqlite_url) or "")
    other = SqlArtifactStore(sqlite_url)  # another process's writer, as a server's
    try:
        with pytest.raises(NotFoundError):
            store.get_version("p", "m")
        other.add_version(make_draft("m", "h1"), 1.0)
        assert store.get_version("p", "m").version == 1
        other.move_alias("p", "m", "production", 1, 2.0)
        assert store.resolve("p", "m", "production").version == 1
        other.add_version(make_draft("m", "h2"), 3.0)
        other.move_alias("p", "m", "production", 2, 4.0)
        assert store.resolve("p", "m", "production").version == 2
        assert store.get_version("p", "m", 1).content_hash == "h1"
    finally:
        store.close()
        other.close()
