"""The SQL metadata store passes the conformance suite on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store.base import MetaStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import MetaStoreConformance
from airfoil.testing.naming_conformance import NamingConformance

pytestmark = pytest.mark.integration


class TestSqliteMetaStore(MetaStoreConformance, NamingConformance):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str | None:
        return sqlite_url

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[MetaStore]:
        s = SqlMetaStore(store_url)
        yield s
        s.close()


class TestPostgresMetaStore(MetaStoreConformance, NamingConformance):
    @pytest.fixture
    def store_url(self, pg_empty_url: str) -> str | None:
        return pg_empty_url

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[MetaStore]:
        s = SqlMetaStore(store_url)
        yield s
        s.close()
