"""The SQL registry store passes the registry store conformance suite on SQLite and
PostgreSQL (a fresh database each test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airfoil.store.registry import RegistryStore
from airfoil.store.sql import SqlRegistryStore
from airfoil.testing.registry_conformance import RegistryStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteRegistryStore(RegistryStoreConformance):
    @pytest.fixture
    def registry_store(self, sqlite_url: str) -> Iterator[RegistryStore]:
        s = SqlRegistryStore(sqlite_url)
        yield s
        s.close()


class TestPostgresRegistryStore(RegistryStoreConformance):
    @pytest.fixture
    def registry_store(self, pg_new_schema: Callable[[], str]) -> Iterator[RegistryStore]:
        s = SqlRegistryStore(pg_new_schema())
        yield s
        s.close()
