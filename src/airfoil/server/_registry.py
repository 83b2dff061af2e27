"""The server's own tables, beside the metadata store's in the same database.

The registry store (projects, code packages, registered task/workflow and launch plan
versions) is :class:`airfoil.store.sql.SqlRegistryStore`, behind the abstract
:class:`airfoil.store.registry.RegistryStore`; :class:`Registry` adds what only a server
keeps: API keys (hashed). Terminate requests travel through the metadata store's control
inbox (``store._control``), like signals.

Invariants:

- Only the SHA-256 of an API key's secret is stored; the secret is shown once, at creation.
- The tables (``server_*`` names, so they never collide with the store's) are part of the
  store's Alembic schema (revision 0004); opening a registry migrates the database to the
  newest revision. The table objects are in :mod:`airfoil.store.sql._server_tables`, where a
  new database's schema is created from them.
  Every call is its own short transaction, safe from any thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.store.registry import EntityRow, LaunchPlanRow, VersionConflict
from airfoil.store.sql._registry import SqlRegistryStore
from airfoil.store.sql._server_tables import api_keys

__all__ = [
    "KEYS_IDLE_AFTER_S",
    "KEYS_MAX_AGE_S",
    "KEYS_REFRESH_S",
    "ApiKey",
    "EntityRow",
    "LaunchPlanRow",
    "Registry",
    "VersionConflict",
    "hash_secret",
]

log = logging.getLogger("airfoil.server")

#: How often a server's key check re-reads the API keys, in a thread of its own (off the
#: requests' path: the read is two round trips to the database, a pool checkout's ping and
#: the select, each a wait for a core under load), while keys are being checked.
KEYS_REFRESH_S = 1.0
#: How long after the last key check the refresh goes on; then it waits for the next check
#: (an idle server reads nothing: the first check after the pause reads its key itself, as
#: every check does once the last read is older than :data:`KEYS_MAX_AGE_S`, and wakes it).
KEYS_IDLE_AFTER_S = 10.0
#: The oldest read of the keys the check answers from: a key revoked by another process
#: (``airfoil auth revoke-key``, another server) stops working within this long of the
#: revocation's commit; past it (the refresh failing or late) each request reads the key
#: itself, as without the refresh. A key revoked through this registry stops at once.
KEYS_MAX_AGE_S = 2.0


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored (never its secret)."""

    id: str
    project: str
    role: str
    created_at: float
    revoked: bool


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret (keys are 32 random bytes: a fast hash suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _db_url(database_url: str | None, home: str) -> str:
    if database_url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        return "sqlite:///" + path
    return database_url


class Registry(SqlRegistryStore):
    """The server's tables: the registry store (projects, packages, registered versions),
    API keys and control requests, on the metadata store's database.

    Args:
        database_url: the same URL as the metadata store (None: SQLite in ``home``).
        home: the Airfoil home folder.
        durability: ``process`` or ``power`` (every commit on disk before it returns).
    """

    def __init__(self, database_url: str | None, home: str, durability: str = "process") -> None:
        super().__init__(_db_url(database_url, home), durability)
        self._lock = threading.Lock()
        #: (time.monotonic() before the read, {id: (key, its secret's hash)}) of the last
        #: read of all keys (None: none, or forgotten after a change made here)
        self._keys: tuple[float, dict[str, tuple[ApiKey, str]]] | None = None
        self._keys_changes = 0  # a read that began before a change made here is not kept
        self._refresh_stop: threading.Event | None = None
        self._refresh_thread: threading.Thread | None = None
        #: set by a key check while the refresh waits for one (see _refresh_keys)
        self._refresh_wanted = threading.Event()
        self._read_lock = threading.Lock()  # one read of the keys on the requests' path
        self._last_check = time.monotonic()  # of the key check: the refresh runs near it
        self.keys_refresh_s = KEYS_REFRESH_S
        self.keys_max_age_s = KEYS_MAX_AGE_S
        self.keys_idle_after_s = KEYS_IDLE_AFTER_S

    def close(self) -> None:
        self.stop_key_refresh()
        super().close()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # --- API keys ---------------------------------------------------------------------------

    def create_key(self, project: str, role: str, now: float | None = None) -> tuple[str, str]:
        """Create a key; returns ``(key_id, full_key)``. The full key is never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    project=project,
                    role=role,
                    secret_hash=hash_secret(secret),
                    created_at=now or time.time(),
                    revoked=False,
                )
            )
        self._forget_keys()
        return key_id, f"af_{key_id}_{secret}"

    def revoke_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            res = conn.execute(
                api_keys.update().where(api_keys.c.id == key_id).values(revoked=True)
            )
        self._forget_keys()
        if res.rowcount == 0:
            raise NotFoundError(f"no API key {key_id!r}")

    def reopen(self) -> int:
        """Open the server again (loopback clients are admins) by forgetting its revoked keys;
        returns how many were forgotten.

        Raises:
            ConflictError: a live key exists (revoke every key first).
        """
        with self.engine.begin() as conn:
            live = conn.execute(
                sa.select(api_keys.c.id).where(api_keys.c.revoked.is_(False)).limit(1)
            ).first()
            if live is not None:
                raise ConflictError(
                    f"key {live.id} is still live: revoke every key before reopening the server"
                )
            gone = conn.execute(api_keys.delete()).rowcount
        self._forget_keys()
        return int(gone)

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_key_of(r) for r in rows]

    def lookup_key(self, key_id: str, secret: str) -> ApiKey | None:
        """The live key with this id and secret, or None: from the keys read at most
        :attr:`keys_max_age_s` ago (:meth:`start_key_refresh`), else (no such read, or a key
        it does not hold: one created since) from the database."""
        found = self._keys_now().get(key_id)
        if found is None:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
            if row is None:
                return None
            found = (_key_of(row), row.secret_hash)
        key, secret_hash = found
        if key.revoked or not secrets.compare_digest(secret_hash, hash_secret(secret)):
            return None
        return key

    # --- the key check's refresh --------------------------------------------------------

    def start_key_refresh(self) -> None:
        """Read every key now and then every :attr:`keys_refresh_s` in a thread of this
        registry's (a server's API: its key check then reads no key on a request's path)
        while keys are checked: :attr:`keys_idle_after_s` after the last check it waits for
        the next one. :meth:`close` stops it. Reads that fail are logged and retried at the
        next turn (requests read the keys themselves meanwhile, once the last read is too
        old)."""
        if self._refresh_thread is not None:
            return
        stop = threading.Event()
        self._refresh_stop = stop
        self._refresh_thread = threading.Thread(
            target=self._refresh_keys, args=(stop,), name="airfoil-key-refresh", daemon=True
        )
        self._refresh_thread.start()

    def stop_key_refresh(self) -> None:
        if self._refresh_stop is not None and self._refresh_thread is not None:
            self._refresh_stop.set()
            self._refresh_wanted.set()
            self._refresh_thread.join(timeout=10)
        self._refresh_stop = self._refresh_thread = None

    def _refresh_keys(self, stop: threading.Event) -> None:
        failing = False
        wanted = self._refresh_wanted
        while not stop.is_set():
            if time.monotonic() - self._last_check >= self.keys_idle_after_s:
                wanted.clear()
                # A check after the clear sets it; one before it is seen here.
                if time.monotonic() - self._last_check >= self.keys_idle_after_s:
                    wanted.wait()
                    continue
            try:
                with self._read_lock:  # a check that woke this turn may be reading them
                    if not self._read_since(self.keys_refresh_s):
                        self.read_keys()
                failing = False
            except Exception:  # the database away: requests read keys themselves meanwhile
                if not failing:
                    log.warning("reading the API keys failed; retrying", exc_info=True)
                failing = True
            stop.wait(self.keys_refresh_s)

    def read_keys(self) -> dict[str, tuple[ApiKey, str]]:
        """Read every key (what the key check answers from for :attr:`keys_max_age_s`);
        returns them, ``{id: (key, its secret's hash)}``."""
        with self._lock:
            changes = self._keys_changes
        began = time.monotonic()  # before the read: the age bound counts from here
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys)).all()
        keys = {r.id: (_key_of(r), r.secret_hash) for r in rows}
        with self._lock:
            if changes == self._keys_changes:  # no change made here since it began
                self._keys = (began, keys)
        return keys

    def _read_since(self, age_s: float) -> bool:
        """Whether a read of the keys began less than ``age_s`` ago."""
        with self._lock:
            read = self._keys
        return read is not None and time.monotonic() - read[0] < age_s

    def _keys_now(self) -> dict[str, tuple[ApiKey, str]]:
        """The keys read at most :attr:`keys_max_age_s` ago, or read now: one read at a
        time, whose result the checks waiting for it use (the first requests after a pause
        of the refresh share one read and one connection of the pool)."""
        known = self._fresh_keys()
        if known is not None:
            return known
        with self._read_lock:
            known = self._fresh_keys()
            return known if known is not None else self.read_keys()

    def _fresh_keys(self) -> dict[str, tuple[ApiKey, str]] | None:
        self._last_check = time.monotonic()
        if not self._refresh_wanted.is_set():
            self._refresh_wanted.set()  # the refresh may be waiting for a check
        with self._lock:
            read = self._keys
        if read is None or time.monotonic() - read[0] >= self.keys_max_age_s:
            return None
        return read[1]

    def _forget_keys(self) -> None:
        """After a change of the keys made here: no earlier read is answered from."""
        with self._lock:
            self._keys = None
            self._keys_changes += 1

    def open_connections(self, n: int) -> None:
        """Open ``n`` of the pool's connections now (at most its size; checked out
        together, each running the key check once, then returned to the pool idle), so
        that a new server's first requests at once find them: each would open its own
        otherwise (the key check reads a request's key itself while the refresh's read of
        the keys is missing or older than :attr:`keys_max_age_s`, e.g. a key created since).
        """
        size = getattr(self.engine.pool, "size", None)  # a QueuePool's; SQLite's has none
        if callable(size):
            n = min(n, int(size()))
        with contextlib.ExitStack() as held:
            for _ in range(n):
                conn = held.enter_context(self.engine.connect())
                conn.execute(sa.select(api_keys.c.id).limit(1)).first()

    def keys_configured(self) -> bool:
        """Whether the server is closed: a key was ever created, live or revoked. Answered
        from the one read of the keys the key check uses (the refresh's; while it is missing
        or older than :attr:`keys_max_age_s`, a new one, which the key check then answers
        from too). Revoking every key leaves it closed; only :meth:`reopen` opens it."""
        return bool(self._keys_now())

    def keys_configured_known(self) -> bool | None:
        """:meth:`keys_configured` from the last read if it is fresh enough; None where it
        would read the database (an event loop's caller then asks on a thread)."""
        known = self._fresh_keys()
        return None if known is None else bool(known)


def _key_of(row: Any) -> ApiKey:
    return ApiKey(row.id, row.project, row.role, row.created_at, bool(row.revoked))


def _mask(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)
