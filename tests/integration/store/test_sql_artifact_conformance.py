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
