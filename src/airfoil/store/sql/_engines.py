"""Every SQLAlchemy engine of the stores, made safe across ``fork`` in one place.

A child forked without exec holds copies of the engine's pool and of its connections, and the
fork frees the thread-locals of the parent's *other* threads there, in C, before any fork
hook runs: a connection such a thread had checked out goes back to the pool in the child,
whose reset rolls back -- on the PostgreSQL socket the child shares with the parent (the
parent's transaction is gone), or on the SQLite file and its shared WAL index (the parent's
next statement fails with a disk I/O error) -- and whose close ends the parent's session.

:func:`new_engine` builds each engine with SQLAlchemy's pattern for ``os.fork``
("Using Connection Pools with Multiprocessing or os.fork()"): every driver connection
records the process that opened it; a connection of another process is never rolled back,
closed nor handed out (a checkout of one is a disconnect: the pool opens a fresh one); and the
child disposes of every engine without closing (``dispose(close=False)``), so it opens its
own. That clean-up runs under :mod:`airfoil.core.forks`' rule (the engine is kept past the
fork, with no collection until it is done); the parent's pool and connections are abandoned
there (kept for the child's life): released, a SQLite connection would roll back in the
shared WAL index (psycopg checks the process before it ends a session).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from airfoil.core.forks import abandon, forked_from, keep_past_fork

__all__ = ["new_engine"]

_PID = "airfoil_pid"


def new_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """``sqlalchemy.create_engine(url, **kwargs)``, safe across ``fork`` (see the module)."""
    engine = sa.create_engine(url, pool_reset_on_return=None, **kwargs)
    sa.event.listen(engine, "connect", _stamp)
    sa.event.listen(engine, "checkout", _checkout)
    sa.event.listen(engine, "reset", functools.partial(_reset, engine.dialect))
    sa.event.listen(engine, "close", _close)
    keep_past_fork(engine, _dispose_in_child)
    return engine


def _dispose_in_child(engine: sa.Engine) -> None:
    """In a forked child: a fresh pool, the parent's kept for the child's life, unclosed."""
    abandon(engine.pool)
    engine.dispose(close=False)


def _foreign(record: ConnectionPoolEntry | None) -> bool:
    """Whether ``record``'s connection was opened by another process (the parent)."""
    pid = record.info.get(_PID) if record is not None else None
    return pid is not None and forked_from(pid)


def _stamp(_dbapi: Any, record: ConnectionPoolEntry) -> None:
    record.info[_PID] = os.getpid()


# The pool passes its _ConnectionRecord and _ConnectionFairy (typed Any: their public
# protocols declare ``dbapi_connection`` read-only, and the documented pattern assigns it).
def _checkout(dbapi: Any, record: Any, proxy: Any) -> None:
    if _foreign(record):
        abandon(dbapi)
        record.dbapi_connection = proxy.dbapi_connection = None  # the pool closes nothing
        raise sa.exc.DisconnectionError(
            f"connection record belongs to pid {record.info[_PID]}, "
            f"attempting to check out in pid {os.getpid()}"
        )


def _reset(
    dialect: sa.Dialect, dbapi: Any, record: ConnectionPoolEntry | None, state: PoolResetState
) -> None:
    # What the pool's default reset does (the engine has pool_reset_on_return=None), but
    # never on the parent's connection: the rollback would be the parent's.
    if not state.transaction_was_reset and not _foreign(record):
        dialect.do_rollback(dbapi)


def _close(dbapi: Any, record: Any) -> None:
    if _foreign(record):
        abandon(dbapi)
        record.dbapi_connection = _Closed()  # what the pool closes next


class _Closed:
    """Stands for an abandoned connection in the pool that closes it: closing does nothing."""

    def close(self) -> None:
        pass
