"""The SQL store passes the scheduling store conformance suite on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._scheduling import SchedulingStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.scheduling_conformance import SchedulingStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteSchedulingStore(SchedulingStoreConformance):
    @pytest.fixture
    def scheduling_store(self, sqlite_url: str) -> Iterator[SchedulingStore]:
        s = SqlMetaStore(sqlite_url)
        yield s
        s.close()


class TestPostgresSchedulingStore(SchedulingStoreConformance):
    @pytest.fixture
    def scheduling_store(self, pg_empty_url: str) -> Iterator[SchedulingStore]:
        s = SqlMetaStore(pg_empty_url)
        yield s
        s.close()
