"""The SQL admission store passes the admission store conformance suite on SQLite and
PostgreSQL (a fresh database each test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airfoil.store.admission import AdmissionStore
from airfoil.store.sql._admission import SqlAdmissionStore
from airfoil.testing.admission_conformance import AdmissionStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteAdmissionStore(AdmissionStoreConformance):
    @pytest.fixture
    def admission_store(self, sqlite_url: str) -> Iterator[AdmissionStore]:
        s = SqlAdmissionStore(sqlite_url)
        yield s
        s.close()


class TestPostgresAdmissionStore(AdmissionStoreConformance):
    @pytest.fixture
    def admission_store(self, pg_new_schema: Callable[[], str]) -> Iterator[AdmissionStore]:
        s = SqlAdmissionStore(pg_new_schema())
        yield s
        s.close()
