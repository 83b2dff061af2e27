"""Open the metadata store a URL names: the one place that maps URLs to backends.

Invariant: importing this module imports no backend; SQLAlchemy is imported only when a SQL
store is opened.
"""

from __future__ import annotations

import os

from airfoil.core.errors import ConfigError
from airfoil.settings import masked_url
from airfoil.store.base import MetaStore

__all__ = ["open_meta_store"]

_FORMS = (
    "memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql+psycopg://user:password@host:5432/database"
)


def open_meta_store(
    url: str | None,
    home: str,
    durability: str = "process",
    *,
    retry_budget_s: float | None = None,
) -> MetaStore:
    """Open the metadata store at ``url``.

    Args:
        url: ``None`` for the embedded default (SQLite at ``{home}/airfoil.db``),
            ``memory://`` for an in-process store, ``sqlite:///...`` or
            ``postgresql+psycopg://...`` for a SQL store.
        home: the Airfoil home directory (``$AIRFOIL_HOME``).
        durability: ``process`` or ``power`` (SQLite fsyncs every commit).
        retry_budget_s: how long a SQL store retries a transient database failure
            (connection lost, deadlock...) before raising it (None: the store's default).

    Raises:
        ConfigError: the URL names no supported backend.
        StoreError: the database cannot be reached.
    """
    if url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        url = "sqlite:///" + path
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if url == "memory://":
        from airfoil.store.memory import MemoryMetaStore

        return MemoryMetaStore()
    if scheme in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        from airfoil.store.sql import SqlMetaStore
        from airfoil.store.sql._retry import RetryPolicy

        retry = None if retry_budget_s is None else RetryPolicy(budget_s=retry_budget_s)
        return SqlMetaStore(url, durability=durability, retry=retry)
    if scheme in ("postgresql", "postgres"):
        raise ConfigError(
            f"unsupported metadata store URL {masked_url(url)!r}: name the driver, "
            "postgresql+psycopg://user:password@host:5432/database"
        )
    raise ConfigError(f"unsupported metadata store URL {masked_url(url)!r}: expected {_FORMS}")
