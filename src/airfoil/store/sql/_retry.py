"""Which database errors are worth retrying, and the retry loop of the SQL store.

A driver error is *transient* when the same call may succeed later without anyone changing
anything: the connection was lost or refused (the server restarted, an administrator killed
the backend, the network blinked), the database does not accept connections right now,
the transaction lost a race (serialization failure, deadlock, lock timeout) or a statement
timed out. Everything else (a syntax error, a missing table, a refused password, a database
that does not exist, a full disk) is *permanent*: retrying would only hide it.

Invariants:

- A transient failure is retried with exponential backoff and jitter until the policy's
  budget is spent; then :class:`~airfoil.core.errors.TransientStoreError` escapes, naming the
  action, how long the store tried and the last error.
- A transaction whose ``COMMIT`` broke on a lost connection is never blindly retried: it may
  have committed. The error says ``outcome_unknown`` and the caller decides (an idempotent
  transaction retries; a batch of events checks whether its first event is stored).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import msgspec

from airfoil.core.backoff import doubling
from airfoil.core.errors import InvalidInputError, TransientStoreError

__all__ = ["RetryPolicy", "is_transient", "nul_refused"]

_T = TypeVar("_T")

# SQLSTATE codes (PostgreSQL) of errors that may go away on their own. Class 08 (connection
# exceptions) is matched by prefix.
_TRANSIENT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown (pg_terminate_backend, fast shutdown)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "53300",  # too_many_connections
        "53400",  # configuration_limit_exceeded
        "55000",  # object_not_in_prerequisite_state (database not accepting connections)
        "25P03",  # idle_in_transaction_session_timeout
    }
)

# Words of a connection failure that retrying cannot fix (libpq gives no SQLSTATE for them).
_PERMANENT_WORDS = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "invalid dsn",
    "invalid connection option",
    "unsupported",
    "certificate",
)

# SQLite: another process holds the write lock past the busy timeout.
_SQLITE_TRANSIENT_WORDS = ("database is locked", "database is busy", "database table is locked")


def is_transient(exc: BaseException, dbapi: object) -> bool:
    """Whether a DBAPI error may succeed if the same call is made again later.

    Args:
        exc: the driver's exception.
        dbapi: the driver module (``sqlite3``, ``psycopg``): its ``OperationalError`` and
            ``InterfaceError`` classes mark connection-level failures.
    """
    state = getattr(exc, "sqlstate", None)
    if state:
        return state in _TRANSIENT_STATES or state.startswith("08")
    operational = getattr(dbapi, "OperationalError", ())
    interface = getattr(dbapi, "InterfaceError", ())
    if not isinstance(exc, (operational, interface)):
        return False
    text = str(exc).lower()
    if getattr(dbapi, "__name__", "") == "sqlite3":
        return any(w in text for w in _SQLITE_TRANSIENT_WORDS)
    return not any(w in text for w in _PERMANENT_WORDS)


def nul_refused(exc: BaseException | None, action: str) -> InvalidInputError | None:
    """The caller's error where the driver refused a NUL character in a text parameter
    (psycopg does, before the statement is sent: no PostgreSQL text holds one), else None.
    A name or filter given with a NUL was a 503 that said the database failed, which a
    client retries; no stored name holds one, on SQLite either."""
    if exc is None or getattr(exc, "sqlstate", None) or "cannot contain NUL" not in str(exc):
        return None
    return InvalidInputError(
        f"{action}: a name or filter given holds a NUL character (\\x00), which no stored "
        "name holds: remove it"
    )


class RetryPolicy(msgspec.Struct, frozen=True):
    """How long, and how often, the store retries a transient failure.

    Attributes:
        budget_s: how long one call keeps trying before it gives up (0: never retry).
        base_s: the first wait; each later wait doubles, up to ``max_s``.
        max_s: the longest wait between two tries.
        jitter: the random share of each wait (0.5: between half and all of it), so many
            threads that failed together do not retry together.
    """

    budget_s: float = 120.0
    base_s: float = 0.05
    max_s: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.budget_s < 0 or self.base_s <= 0 or self.max_s < self.base_s:
            raise ValueError(
                f"invalid retry policy {self}: need budget_s >= 0 and 0 < base_s <= max_s"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid retry policy {self}: jitter must be within 0..1")

    def delay(self, retry: int) -> float:
        """The wait before retry number ``retry`` (0-based), jittered."""
        full = doubling(self.base_s, retry, self.max_s)
        return full * (1.0 - self.jitter * random.random())

    def run(
        self,
        action: str,
        first: TransientStoreError,
        call: Callable[[], _T],
        *,
        resolve: Callable[[TransientStoreError], bool] | None = None,
        on_retry: Callable[[TransientStoreError], None] | None = None,
    ) -> _T | None:
        """Retry ``call`` after it failed with ``first``, until it succeeds or the budget ends.

        Args:
            action: what the call does, for the final error.
            first: the failure that started the retries.
            call: the operation (one try).
            resolve: asked when a failure is ``outcome_unknown``; returns True if the work
                is known to have been done (the loop then returns None), False if it is
                known not to have been (retry). Without it such a failure is raised at once.
            on_retry: called with each failure that is going to be retried.

        Raises:
            TransientStoreError: the budget ran out, or an unknown outcome with no resolver.
        """
        deadline = time.monotonic() + self.budget_s
        exc = first
        unknown = False  # a commit may have happened: ask ``resolve`` before calling again
        retry = 0
        while True:
            unknown = unknown or exc.outcome_unknown
            if unknown:
                if resolve is None:
                    raise exc
                try:
                    if resolve(exc):
                        return None
                    unknown = False
                except TransientStoreError as again:
                    exc = again  # still away: wait, then ask again
            wait = self.delay(retry)
            if time.monotonic() + wait > deadline:
                raise TransientStoreError(
                    f"{action}: the database stayed unavailable for {self.budget_s:g}s of "
                    f"retries (last error: {exc})",
                    outcome_unknown=unknown,
                ) from exc
            if on_retry is not None:
                on_retry(exc)
            time.sleep(wait)
            retry += 1
            if unknown:
                continue
            try:
                return call()
            except TransientStoreError as again:
                exc = again
