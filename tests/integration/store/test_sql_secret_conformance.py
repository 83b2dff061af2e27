"""The SQL secret store passes the secret store conformance suite on SQLite and PostgreSQL
(a fresh database each test), over the registry's database as the CLI, local runs and a
server open it; the table holds ciphertext only."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from airfoil.store.secrets import SecretStore, new_key
from airfoil.store.sql import SqlRegistryStore
from airfoil.store.sql._secrets import SqlSecretStore
from airfoil.store.sql._server_tables import secrets_table
from airfoil.testing.secret_conformance import VALUE, SecretStoreConformance

pytestmark = pytest.mark.integration


def _opener(url: str) -> Iterator[Callable[[str], SecretStore]]:
    registry = SqlRegistryStore(url)
    try:
        yield lambda key: SqlSecretStore(registry.engine, key)
    finally:
        registry.close()


class TestSqliteSecretStore(SecretStoreConformance):
    @pytest.fixture
    def open_secret_store(self, sqlite_url: str) -> Iterator[Callable[[str], SecretStore]]:
        yield from _opener(sqlite_url)


class TestPostgresSecretStore(SecretStoreConformance):
    @pytest.fixture
    def open_secret_store(
        self, pg_new_schema: Callable[[], str]
    ) -> Iterator[Callable[[str], SecretStore]]:
        yield from _opener(pg_new_schema())


def test_the_table_holds_only_ciphertext(sqlite_url: str) -> None:
    registry = SqlRegistryStore(sqlite_url)
    try:
        SqlSecretStore(registry.engine, new_key()).set("alpha", "token", VALUE)
        with registry.engine.connect() as conn:
            rows = conn.execute(sa.select(secrets_table)).all()
    finally:
        registry.close()
    assert [(r.project, r.name) for r in rows] == [("alpha", "token")]
    assert all(VALUE not in str(cell) for cell in rows[0])
