"""The SQL store passes the cache scope store conformance suite on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._cache_scopes import CacheScopeStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.cache_scope_conformance import CacheScopeStoreConformance

pytestmark = pytest.mark.integration


class TestSqliteCacheScopeStore(CacheScopeStoreConformance):
    @pytest.fixture
    def scope_store(self, sqlite_url: str) -> Iterator[CacheScopeStore]:
        s = SqlMetaStore(sqlite_url)
        yield s
        s.close()


class TestPostgresCacheScopeStore(CacheScopeStoreConformance):
    @pytest.fixture
    def scope_store(self, pg_empty_url: str) -> Iterator[CacheScopeStore]:
        s = SqlMetaStore(pg_empty_url)
        yield s
        s.close()
