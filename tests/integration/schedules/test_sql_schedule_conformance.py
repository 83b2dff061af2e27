"""The SQL store passes the schedule store conformance suite on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._schedules import ScheduleStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.schedule_conformance import ScheduleStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteScheduleStore(ScheduleStoreConformance):
    @pytest.fixture
    def schedule_store_url(self, sqlite_url: str) -> str | None:
        return sqlite_url

    @pytest.fixture
    def schedule_store(self, schedule_store_url: str) -> Iterator[ScheduleStore]:
        s = SqlMetaStore(schedule_store_url)
        yield s
        s.close()


class TestPostgresScheduleStore(ScheduleStoreConformance):
    @pytest.fixture
    def schedule_store_url(self, pg_url: str) -> str | None:
        return pg_url

    @pytest.fixture
    def schedule_store(self, schedule_store_url: str) -> Iterator[ScheduleStore]:
        s = SqlMetaStore(schedule_store_url)
        yield s
        s.close()
