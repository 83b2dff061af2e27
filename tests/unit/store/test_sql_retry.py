"""Classifying database errors as transient or permanent, and the store's retry loop."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from airfoil.core.errors import StoreError, TransientStoreError
from airfoil.store.sql import RetryPolicy
from airfoil.store.sql._retry import is_transient


def _with_state(state: str) -> Exception:
    """The driver's own error class for a SQLSTATE, as the server would send it."""
    error: Exception = psycopg.errors.lookup(state)("boom")
    return error


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (_with_state("57P01"), True),  # pg_terminate_backend
        (_with_state("40001"), True),  # serialization failure
        (_with_state("40P01"), True),  # deadlock
        (_with_state("57014"), True),  # statement timeout
        (_with_state("08006"), True),  # connection failure
        (_with_state("42P01"), False),  # undefined table
        (_with_state("42601"), False),  # syntax error
        (psycopg.OperationalError('password authentication failed for user "x"'), False),
        (psycopg.OperationalError('database "nope" does not exist'), False),
        (psycopg.ProgrammingError("syntax error"), False),
    ],
)
def test_postgres_errors(exc: Exception, transient: bool) -> None:
    assert is_transient(exc, psycopg) is transient


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: events"), False),
        (sqlite3.OperationalError("disk I/O error"), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
    ],
)
def test_sqlite_errors(exc: Exception, transient: bool) -> None:
    assert is_transient(exc, sqlite3) is transient


def _flaky(failures: int, unknown: bool = False) -> tuple[list[int], object]:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        if len(calls) <= failures:
            raise TransientStoreError("lost", outcome_unknown=unknown)
        return 42

    return calls, call


FAST = RetryPolicy(budget_s=5, base_s=0.001, max_s=0.01)


def test_retries_until_success() -> None:
    calls, call = _flaky(3)
    seen: list[TransientStoreError] = []
    got = FAST.run("x", TransientStoreError("first"), call, on_retry=seen.append)  # type: ignore[arg-type]
    assert got == 42 and len(calls) == 4 and len(seen) == 4


def test_budget_spent_raises_naming_the_action() -> None:
    policy = RetryPolicy(budget_s=0.05, base_s=0.01, max_s=0.01)
    calls, call = _flaky(10_000)
    with pytest.raises(TransientStoreError, match=r"reading things: .*unavailable for 0.05s"):
        policy.run("reading things", TransientStoreError("first"), call)  # type: ignore[arg-type]
    assert 1 <= len(calls) < 20


def test_zero_budget_never_retries() -> None:
    calls, call = _flaky(1)
    with pytest.raises(TransientStoreError):
        RetryPolicy(budget_s=0).run("x", TransientStoreError("first"), call)  # type: ignore[arg-type]
    assert calls == []


def test_unknown_outcome_without_resolver_is_raised_at_once() -> None:
    calls, call = _flaky(0)
    with pytest.raises(TransientStoreError):
        FAST.run("x", TransientStoreError("commit", outcome_unknown=True), call)  # type: ignore[arg-type]
    assert calls == []  # never written twice


def test_unknown_outcome_is_resolved_before_any_retry() -> None:
    calls, call = _flaky(0)
    asked: list[int] = []

    def committed(_exc: TransientStoreError) -> bool:
        asked.append(1)
        if len(asked) < 3:
            raise TransientStoreError("still away")
        return True

    first = TransientStoreError("commit", outcome_unknown=True)
    assert FAST.run("x", first, call, resolve=committed) is None  # type: ignore[arg-type]
    assert calls == [] and len(asked) == 3  # it had committed: not written again

    def not_committed(_exc: TransientStoreError) -> bool:
        return False

    assert FAST.run("x", first, call, resolve=not_committed) == 42  # type: ignore[arg-type]
    assert calls == [1]


def test_jittered_backoff_is_bounded() -> None:
    policy = RetryPolicy(budget_s=10, base_s=0.1, max_s=1.0, jitter=0.5)
    delays = [policy.delay(i) for i in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(0.5 <= d <= 1.0 for d in delays[4:])


@pytest.mark.parametrize(
    "kwargs", [{"budget_s": -1}, {"base_s": 0}, {"base_s": 2, "max_s": 1}, {"jitter": 2}]
)
def test_bad_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(**kwargs)


def test_transient_is_a_store_error() -> None:
    assert issubclass(TransientStoreError, StoreError)
