"""Driver errors as store errors, for the SQL stores that talk to SQLAlchemy directly (the
registry, the artifact store)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from airfoil.core.errors import StoreError, TransientStoreError
from airfoil.store.sql._retry import is_transient

__all__ = ["guarded_connection", "masked_url"]


def masked_url(url: str | sa.URL) -> str:
    """``url`` as it may be shown: without its password."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


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
        message = f"{action} {what} failed on {masked_url(engine.url)}: {exc.orig}"
        if exc.orig is not None and is_transient(exc.orig, engine.dialect.dbapi):
            raise TransientStoreError(message) from exc
        raise StoreError(message) from exc
