"""The SQL store passes the observability store conformance suite on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store.base import MetaStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.observability_conformance import ObservabilityStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteObservabilityStore(ObservabilityStoreConformance):
    @pytest.fixture
    def store(self, sqlite_url: str) -> Iterator[MetaStore]:
        s = SqlMetaStore(sqlite_url)
        yield s
        s.close()


class TestPostgresObservabilityStore(ObservabilityStoreConformance):
    @pytest.fixture
    def store(self, pg_empty_url: str) -> Iterator[MetaStore]:
        s = SqlMetaStore(pg_empty_url)
        yield s
        s.close()
