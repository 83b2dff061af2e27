"""Database URLs, engines and the per-thread connections of the SQL store.

The store keeps one DBAPI connection (and one cursor) per thread and store, opened through
a connector on first use and reused for every later call, so a call pays no pool checkout.
A plain SQLite URL (the embedded default) is opened with :mod:`sqlite3` straight
(:class:`SqliteConnector`: SQLAlchemy is not even imported, which keeps a short
``airfoil run`` fast); PostgreSQL and unusual SQLite URLs go through a SQLAlchemy engine
(:class:`EngineConnector`). Transactions are explicit: the driver runs in autocommit
mode and the store sends ``BEGIN IMMEDIATE`` (SQLite: take the write lock up front, so
concurrent writers in other processes queue on ``busy_timeout`` instead of failing on a
stale snapshot) or ``BEGIN`` (PostgreSQL) itself.

Invariants:

- Nothing here connects or touches a file at import; :func:`create_engine` does neither.
- Both connectors configure a SQLite connection identically (:func:`configure_sqlite`).
- A connection is used only by one thread at a time. When its thread ends it is kept idle for
  the store's next new thread (at most :data:`IDLE_KEPT` of them, each for at most
  :data:`IDLE_REUSE_S`, and only if it is not inside a transaction): a server's API threads come
  and go (anyio ends one idle for 10 s) and a burst after a pause would otherwise pay a new
  connection and a new backend's first statement per thread (~20-60 ms on PostgreSQL). It is
  closed when the store is closed, after a driver error that may have broken it, or when it
  is not kept.
- After ``fork`` a child never uses (nor closes) its parent's connections: it opens its own,
  and its copies of the parent's sockets point at ``/dev/null``. Every connection and every
  store's :class:`Connections` is kept past the fork (:func:`airfoil.core.forks.keep_past_fork`,
  whose rule also keeps the collector off until this clean-up is done): in the child each
  connection is abandoned and each store forgets them (in either order: the parent's are all
  referenced until it is done). A connection's finalizer that runs in the child anyway (one
  made as the fork began) abandons it too (``forked_from``).
- Every SQLAlchemy engine made here is made by :func:`airfoil.store.sql._engines.new_engine`,
  which keeps its pool off the parent's connections in a forked child.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from airfoil.core.errors import ConfigError, StoreError, TransientStoreError
from airfoil.core.forks import abandon, forked_from, keep_past_fork
from airfoil.settings import masked_url
from airfoil.store.sql._pg_arrays import register as register_arrays
from airfoil.store.sql._retry import is_transient

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "Connections",
    "Connector",
    "EngineConnector",
    "Held",
    "SqliteConnector",
    "configure_sqlite",
    "create_engine",
    "integrity_kind",
    "parse_url",
    "private_sqlite_file",
    "safe_url",
    "sqlite_path",
]

_EXPECTED = (
    "expected sqlite:///relative/path/airfoil.db, sqlite:////absolute/path/airfoil.db or "
    "postgresql+psycopg://user:password@host:5432/database"
)


# sqlite:///path (relative) or sqlite:////path (absolute), with no query, host or options.
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///([^?#]+)")


def sqlite_path(url: str) -> str | None:
    """The absolute database path of a plain SQLite URL, or None for any other URL.

    A plain URL is ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` with no query
    string; anything else (PostgreSQL, query options, odd forms) is left to
    :func:`parse_url`, which also gives the errors.
    """
    found = _PLAIN_SQLITE.fullmatch(url)
    if found is None:
        return None
    database = found.group(1)
    if database == ":memory:" or database.startswith("file:"):
        return None  # parse_url explains why this is refused
    return os.path.abspath(os.path.expanduser(database))


def parse_url(url: str) -> sa.URL:
    """Parse and check a metadata store URL.

    Raises:
        ConfigError: the URL is malformed, names another database or driver, or asks for an
            in-memory SQLite database (use ``memory://`` for an in-memory store).
    """
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        shown = masked_url(url)  # also where the parser's message quotes the URL
        why = str(exc).replace(url, shown)
        raise ConfigError(f"invalid database URL {shown!r}: {why}; {_EXPECTED}") from None
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:") or parsed.host:
            raise ConfigError(
                f"invalid SQLite URL {masked_url(url)!r}: give a file path ({_EXPECTED}); an "
                "in-memory SQLite database lives only as long as one connection, use "
                "memory:// instead"
            )
        return parsed
    if parsed.drivername == "postgresql+psycopg":
        return parsed
    raise ConfigError(f"unsupported database URL {safe_url(parsed)!r}: {_EXPECTED}")


def safe_url(url: sa.URL) -> str:
    """The URL with its password and credential query parameters (libpq's ``?password=``)
    masked, for messages and reprs."""
    return masked_url(url.render_as_string(hide_password=True))


def create_engine(url: sa.URL, timeout_s: float, durability: str = "process") -> sa.Engine:
    """Build (without connecting) the engine for ``url``.

    SQLite connections get WAL journaling, ``synchronous=NORMAL`` (a commit survives a crash
    of the process; a power loss may lose the last ones), a busy timeout of ``timeout_s`` and
    enforced foreign keys; the database's parent directory is created. PostgreSQL
    connections time out after ``timeout_s`` when the server does not answer; under ``power``
    they commit with ``synchronous_commit=on`` whatever the server's default.

    Raises:
        ConfigError: the driver is not installed or the SQLite directory cannot be created.
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from airfoil.store.sql._engines import new_engine

    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url, timeout_s, durability)
        engine = new_engine(
            url,
            poolclass=NullPool,
            connect_args={"connect_timeout": max(1, round(timeout_s))},
        )
        sa.event.listen(engine, "connect", compress_with_lz4)
        if durability == "power":
            sa.event.listen(engine, "connect", commit_synchronously)
        return engine
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"cannot use {safe_url(url)!r}: the driver is not installed ({exc}); "
            "install it with: pip install 'airfoil[postgres]'"
        ) from None


#: Sets the session's TOAST compression to lz4 where the server offers it (PostgreSQL 14+
#: built with lz4; elsewhere it matches no row and changes nothing): one round trip.
_LZ4 = (
    "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def compress_with_lz4(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL (a SQLAlchemy ``connect`` listener): values this session writes that
    PostgreSQL compresses (TOAST: an execution's record holds its workflow's spec, ~60 KB
    for a fan-out of 100) are compressed with lz4, not the default pglz, where the server
    has lz4. pglz took ~4x the CPU of lz4 per record write here, for about the same size;
    rows written before keep their method (each value records its own) and read as before.
    """
    _run_on_connect(dbapi_connection, _LZ4)


def commit_synchronously(dbapi_connection: Any, _record: Any) -> None:
    """``power`` (a SQLAlchemy ``connect`` listener): a commit returns only once it is on
    disk. PostgreSQL: ``synchronous_commit=on``, even if the server (or the role, or the
    database) defaults it to off; SQLite: ``synchronous=FULL``."""
    import sqlite3

    sql = (
        "PRAGMA synchronous = FULL"
        if isinstance(dbapi_connection, sqlite3.Connection)
        else "SET synchronous_commit = on"
    )
    _run_on_connect(dbapi_connection, sql)


def _run_on_connect(dbapi_connection: Any, sql: str) -> None:
    """Run one session-setting statement on a new driver connection and commit it."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
    dbapi_connection.commit()


def private_sqlite_file(path: str) -> None:
    """Create the SQLite database file ``path`` for this user alone, if it is new: its
    directory (an Airfoil home, made here) ``0700``, the file ``0600`` (SQLite gives its
    ``-wal`` and ``-shm`` files the database's mode). The database holds every project's
    runs, keys' hashes and encrypted secrets: no other user of the machine reads it. An
    existing file or folder keeps the mode its owner gave it.

    Raises:
        ConfigError: the directory or the file cannot be created.
    """
    parent = os.path.dirname(path)
    try:
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
    except OSError as exc:
        raise ConfigError(f"cannot create the SQLite database {path}: {exc}") from None
    os.close(fd)  # an empty file is an empty database


def configure_sqlite(dbapi_connection: Any, busy_ms: int, durability: str = "process") -> None:
    """Set up a new SQLite connection: autocommit driver, WAL, busy timeout, foreign keys,
    and ``synchronous`` by durability: ``NORMAL`` for ``process`` (a commit survives a crash
    of the process), ``FULL`` for ``power`` (the WAL is fsynced at every commit, so a commit
    also survives a power loss)."""
    # The driver must not open transactions on its own: we send BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
    _wal(cur, busy_ms / 1000)
    cur.execute(
        "PRAGMA synchronous = FULL" if durability == "power" else "PRAGMA synchronous = NORMAL"
    )
    # Checkpoint (and fsync) every 4000 WAL pages (16 MiB) instead of every 1000: fewer
    # fsyncs per write, measured ~15% faster writes of typical batches.
    cur.execute("PRAGMA wal_autocheckpoint = 4000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _wal(cur: Any, timeout_s: float) -> None:
    """Put the database in WAL mode (once per file: the mode is stored in it).

    Switching modes needs the database to itself and SQLite answers "database is locked" at
    once, without its busy handler, while another process holds it (opening a fresh file
    together with a migrating process): so look first, and retry until ``timeout_s``.
    """
    import sqlite3

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_engine(url: sa.URL, timeout_s: float, durability: str = "process") -> sa.Engine:
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool

    from airfoil.store.sql._engines import new_engine

    path = os.path.abspath(os.path.expanduser(url.database or ""))
    private_sqlite_file(path)
    engine = new_engine(
        url.set(database=path),
        poolclass=NullPool,
        paramstyle="named",
        connect_args={"check_same_thread": False, "timeout": timeout_s},
    )
    busy_ms = int(timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        configure_sqlite(dbapi_connection, busy_ms, durability)

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # SQLAlchemy-managed transactions (migrations) also take the write lock up front,
        # so concurrent migrators queue instead of interleaving DDL.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def integrity_kind(exc: BaseException) -> str:
    """Classify a driver integrity error: ``"foreign_key"``, ``"unique"`` or ``"other"``."""
    name = getattr(exc, "sqlite_errorname", "")
    state = getattr(exc, "sqlstate", "")
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY" or state == "23503":
        return "foreign_key"
    if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE") or state == "23505":
        return "unique"
    return "other"


class Connector(Protocol):
    """Opens the store's DBAPI connections: the seam between the store and its driver."""

    #: ``"sqlite"`` or ``"postgresql"``.
    dialect: str
    #: The URL with its password masked, for messages.
    url: str
    #: The DBAPI module (its ``Error``, ``IntegrityError``... classes).
    dbapi: Any
    #: Whether the driver connection must run in autocommit mode (set after connecting).
    autocommit: bool

    def connect(self) -> tuple[Any, Any]:
        """A new ``(closable handle, driver connection)``; raises StoreError if unreachable."""
        ...

    def dispose(self) -> None:
        """Release whatever the connector holds beyond its connections."""
        ...


class SqliteConnector:
    """Opens SQLite connections with :mod:`sqlite3` itself (no SQLAlchemy import).

    Raises:
        ConfigError: the database's directory cannot be created.
    """

    dialect = "sqlite"
    autocommit = False

    def __init__(self, path: str, timeout_s: float, durability: str = "process") -> None:
        import sqlite3

        private_sqlite_file(path)
        self._durability = durability
        self.path = path
        self.url = f"sqlite:///{path}"
        self.dbapi: Any = sqlite3
        self._timeout_s = timeout_s

    def connect(self) -> tuple[Any, Any]:
        try:
            conn = self.dbapi.connect(
                self.path, timeout=self._timeout_s, check_same_thread=False, isolation_level=None
            )
        except self.dbapi.Error as exc:
            raise _unreachable(f"cannot connect to {self.url}: {exc}", exc, self.dbapi) from exc
        try:
            configure_sqlite(conn, int(self._timeout_s * 1000), self._durability)
        except self.dbapi.Error as exc:
            conn.close()
            raise StoreError(f"cannot set up a connection to {self.url}: {exc}") from exc
        return conn, conn

    def dispose(self) -> None:
        """Nothing to release: each connection is closed on its own."""


class EngineConnector:
    """Opens connections through a SQLAlchemy engine (PostgreSQL, unusual SQLite URLs)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.url = safe_url(engine.url)
        self.dbapi: Any = engine.dialect.dbapi
        self.autocommit = self.dialect == "postgresql"

    def connect(self) -> tuple[Any, Any]:
        import sqlalchemy as sa

        driver_error: Any = getattr(self.dbapi, "Error", sa.exc.DBAPIError)
        try:
            proxy = self.engine.raw_connection()
        except (sa.exc.DBAPIError, driver_error) as exc:
            reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            raise _unreachable(
                f"cannot connect to {self.url}: {reason}; check that the "
                "database server is running and the URL is right",
                reason,
                self.dbapi,
            ) from exc
        return proxy, proxy.driver_connection

    def dispose(self) -> None:
        self.engine.dispose()


def _unreachable(message: str, reason: BaseException | None, dbapi: Any) -> StoreError:
    """The error of a failed connect: transient (retried) or permanent (bad URL, password)."""
    if reason is not None and is_transient(reason, dbapi):
        return TransientStoreError(message)
    return StoreError(message)


#: How many connections of threads that ended a store keeps for its next new threads.
IDLE_KEPT = 8
#: How long a kept connection may wait for a thread (seconds); older ones are closed.
IDLE_REUSE_S = 300.0


class Held:
    """One thread's connection: the pool's proxy, the driver connection and a cursor."""

    __slots__ = ("__weakref__", "_finalizer", "cursor", "dbapi", "proxy", "reused")

    def __init__(
        self, proxy: Any, dbapi: Any, source: Connections | None = None, *, reused: bool = False
    ) -> None:
        self.proxy = proxy
        self.dbapi = dbapi
        #: taken from the kept idle connections (not a new backend)
        self.reused = reused
        self.cursor = dbapi.cursor()
        # Collected (its thread ended): kept idle for the source's next thread, or closed.
        ref = weakref.ref(source) if source is not None else None
        self._finalizer = weakref.finalize(self, _retire, ref, proxy, dbapi, os.getpid())
        # Kept in a forked child, even unreachable (another thread's, or garbage in a cycle
        # after its store was dropped unclosed): collected there, it would close the parent's.
        keep_past_fork(self, Held.abandon)

    def close(self) -> None:
        """Close the connection now (idempotent; never kept for another thread)."""
        if self._finalizer.detach() is not None:
            _close_quietly(self.proxy)

    def abandon(self) -> None:
        """Forget the connection without closing it (a forked child's copy of the parent's,
        which the child keeps for its life: see ``keep_past_fork``).

        A socket's descriptor is pointed at ``/dev/null`` in this process, so nothing the
        child does with its copy (or a finalizer does at its exit) reaches the server.
        """
        _point_at_devnull(self.dbapi)
        self._finalizer.detach()


def _point_at_devnull(dbapi: Any) -> None:
    fileno = getattr(dbapi, "fileno", None)
    if fileno is not None:
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(devnull, fileno())
            finally:
                os.close(devnull)
        except Exception:  # already closed: nothing to protect
            pass


def _close_quietly(proxy: Any) -> None:
    try:
        proxy.close()
    except Exception:  # already broken; nothing more to release
        pass


def _idle_now(dbapi: Any) -> bool:
    """Whether a driver connection is open and outside a transaction (no round trip)."""
    try:
        info = getattr(dbapi, "info", None)  # psycopg
        if info is not None:
            return not dbapi.closed and int(info.transaction_status) == 0  # IDLE
        return not dbapi.in_transaction  # sqlite3 (a closed one raises)
    except Exception:
        return False


def _retire(source: weakref.ref[Connections] | None, proxy: Any, dbapi: Any, pid: int) -> None:
    """A collected :class:`Held`'s connection: kept idle by its store if it can, else closed.

    In a forked child (``pid`` is the parent's) it is abandoned instead: every connection is
    kept past the fork, but one another thread was making as the fork began is freed in the
    child (with that thread's locals) before any fork hook runs; closing it there would roll
    back (or end) the parent's session on the socket both share, and wait on a lock the
    parent's thread may have held at the fork.
    """
    if forked_from(pid):
        _point_at_devnull(dbapi)
        abandon((proxy, dbapi))  # referenced: the pool's own finalizer waits
        return
    owner = source() if source is not None else None
    if owner is None or not owner.keep_idle(proxy, dbapi):
        _close_quietly(proxy)


class Connections:
    """The per-thread connections of one store.

    ``local.held`` is the calling thread's :class:`Held` once it has one; callers read it
    directly (the fast path) and call :meth:`open` when it is missing.
    """

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.local = threading.local()
        self._all: weakref.WeakSet[Held] = weakref.WeakSet()
        # Re-entrant: a collection run while it is held may retire a connection into _idle.
        self._lock = threading.RLock()
        self._idle: list[tuple[Any, Any, float]] = []  # (proxy, driver connection, since)
        self._closed = False
        keep_past_fork(self, Connections.forget_after_fork)

    def open(self) -> Held:
        """Open the calling thread's connection.

        Raises:
            StoreError: the store is closed or the database cannot be reached.
        """
        if self._closed:
            raise StoreError("the metadata store is closed")
        reused = self._take_idle()
        if reused is not None:
            return reused
        connector = self.connector
        proxy, dbapi = connector.connect()
        try:
            if connector.autocommit:
                dbapi.rollback()  # the dialect's first-connect queries may have left one open
                dbapi.autocommit = True
            if connector.dialect == "postgresql":
                register_arrays(dbapi)  # the fenced batch's arrays, dumped in one pass
            held = Held(proxy, dbapi, self)
        except connector.dbapi.Error as exc:
            _close_quietly(proxy)
            raise _unreachable(
                f"cannot set up a connection to {connector.url}: {exc}", exc, connector.dbapi
            ) from exc
        except BaseException:
            _close_quietly(proxy)
            raise
        with self._lock:
            self._all.add(held)
        self.local.held = held
        return held

    def keep_idle(self, proxy: Any, dbapi: Any) -> bool:
        """Keep the connection of a thread that ended for the next new thread; False (the
        caller closes it) when the store is closed, enough are kept, or it is not idle."""
        if self._closed or not _idle_now(dbapi):
            return False
        with self._lock:
            if self._closed or len(self._idle) >= IDLE_KEPT:
                return False
            self._idle.append((proxy, dbapi, time.monotonic()))
            return True

    def _take_idle(self) -> Held | None:
        """The newest kept connection still fit to use, as the calling thread's; those kept
        too long are closed."""
        stale: list[Any] = []
        found: tuple[Any, Any] | None = None
        with self._lock:
            too_old = time.monotonic() - IDLE_REUSE_S
            while self._idle and found is None:
                proxy, dbapi, since = self._idle.pop()
                if since >= too_old and _idle_now(dbapi):
                    found = proxy, dbapi
                else:
                    stale.append(proxy)
        for proxy in stale:
            _close_quietly(proxy)
        if found is None:
            return None
        held = Held(found[0], found[1], self, reused=True)
        with self._lock:
            self._all.add(held)
        self.local.held = held
        return held

    def release(self) -> None:
        """Hand the calling thread's connection back: kept idle for the next thread that
        needs one (this one's next call included), or closed if it cannot be kept. For a
        thread that uses the store briefly between long waits (a lease's heartbeat)."""
        held = getattr(self.local, "held", None)
        if held is not None:
            del self.local.held
            with self._lock:
                self._all.discard(held)
            held._finalizer()  # what its collection would do: keep it idle, or close it

    def discard(self) -> None:
        """Close the calling thread's connection (after an error that may have broken it)."""
        held = getattr(self.local, "held", None)
        if held is not None:
            del self.local.held
            held.close()

    def close(self) -> None:
        """Close every thread's connection; later calls raise :class:`StoreError`."""
        self._closed = True
        self.local = threading.local()
        with self._lock:
            doomed = list(self._all)
            self._all = weakref.WeakSet()
            idle, self._idle = self._idle, []
        for held in doomed:
            held.close()
        for proxy, _dbapi, _since in idle:
            _close_quietly(proxy)
        self.connector.dispose()

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's connections without closing them (each
        :class:`Held` is kept past the fork and abandoned by its own clean-up)."""
        for entry in self._idle:  # the parent's idle connections: never used nor closed here
            _point_at_devnull(entry[1])
            abandon(entry)
        self._idle = []
        self._all = weakref.WeakSet()
        self._lock = threading.RLock()
        self.local = threading.local()
