"""Engines and driver errors as store errors, for the SQL stores that talk to SQLAlchemy
directly (the registry, the artifact store, the admission tables)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from airfoil.core.errors import StoreError, TransientStoreError
from airfoil.store.sql._connect import private_sqlite_file
from airfoil.store.sql._engines import new_engine
from airfoil.store.sql._retry import is_transient, nul_refused

__all__ = ["at_head", "guarded_connection", "masked_url", "store_engine"]


def masked_url(url: str | sa.URL) -> str:
    """``url`` as it may be shown: without its password or credential query parameters."""
    from airfoil.store.sql._connect import safe_url

    return safe_url(sa.engine.make_url(url))


def store_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> sa.Engine:
    """An engine for a store at ``url``: on SQLite, its folder made and a 30 s busy wait; on
    PostgreSQL, a pool that pings (an unanswering database fails a ping -- ``/readyz`` -- in
    seconds, not minutes: a 5 s connect timeout). Safe across ``fork`` (:func:`new_engine`)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            private_sqlite_file(os.path.abspath(path))
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
        kwargs["connect_args"] = {"connect_timeout": 5}
    return new_engine(url, **kwargs)


def at_head(engine: sa.Engine) -> bool:
    """Whether the database is at the newest revision already (one query, no Alembic:
    importing and running it cost a service start a quarter of a second)."""
    from airfoil.store.sql._migrate import read_revision
    from airfoil.store.sql._revision import HEAD_REVISION

    try:
        raw = engine.raw_connection()
    except sa.exc.DBAPIError:
        return False  # migrating says why
    try:
        cursor = raw.cursor()
        try:
            return bool(read_revision(cursor, engine.dialect.name) == HEAD_REVISION)
        finally:
            cursor.close()
    except Exception:
        return False
    finally:
        raw.rollback()
        raw.close()


@contextlib.contextmanager
def guarded_connection(
    engine: sa.Engine, what: str, *, write: bool = False
) -> Iterator[sa.Connection]:
    """A connection (in a transaction if ``write``) whose driver errors are raised as
    :class:`StoreError` naming ``what`` and the database (transient ones as
    :class:`TransientStoreError`). Integrity errors pass through for the caller to read."""
    try:
        with engine.begin() if write else engine.connect() as conn:
            yield conn
    except sa.exc.IntegrityError:
        raise
    except sa.exc.DBAPIError as exc:
        action = "writing to" if write else "reading from"
        refused = nul_refused(exc.orig, f"{action} {what}")
        if refused is not None:
            raise refused from exc
        message = f"{action} {what} failed on {masked_url(engine.url)}: {exc.orig}"
        if exc.orig is not None and is_transient(exc.orig, engine.dialect.dbapi):
            raise TransientStoreError(message) from exc
        raise StoreError(message) from exc
