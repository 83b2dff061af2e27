"""A driver's batch (written under its lease) on PostgreSQL: one statement, one round trip,
and still written exactly once through a lost connection (the conformance suite checks what
is written; this checks how)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from airfoil.core.errors import ConflictError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_attempt, make_event, make_execution, make_node

pytestmark = pytest.mark.integration


class _Counting:
    """A DBAPI cursor that counts the statements sent through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[str] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(sql.split(None, 1)[0])
        return self.inner.execute(sql, *args, **kw)

    def executemany(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(sql.split(None, 1)[0])
        return self.inner.executemany(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _count(store: SqlMetaStore) -> _Counting:
    store.get_lease("e1")  # opens this thread's connection
    held = store._conns.local.held
    counting = _Counting(held.cursor)
    held.cursor = counting
    return counting


def _batch(seq: int, lease: tuple[str, str] | None) -> StoreBatch:
    nodes = [make_node(node_id=f"n{i}", phase="succeeded") for i in range(10)]
    attempts = [make_attempt(node_id=f"n{i}", phase="succeeded") for i in range(10)]
    events = [make_event(seq=seq + i) for i in range(20)]
    return StoreBatch(
        execution=make_execution(phase="running"),
        nodes=nodes,
        attempts=attempts,
        events=events,
        lease=lease,
    )


def test_a_fenced_batch_is_one_statement(pg_empty_url: str) -> None:
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        counting = _count(store)
        store.write(_batch(1, ("e1", "driver")))
        assert counting.sent == ["WITH"]  # the fence and every write: one round trip
        assert len(store.get_events("e1")) == 20
        counting.sent.clear()
        store.write(_batch(21, None))  # no lease (a launch): the general transaction
        assert counting.sent[0] == "BEGIN" and counting.sent[-1] == "COMMIT"
        assert len(store.get_events("e1")) == 40
    finally:
        store.close()


def test_a_fenced_batch_through_a_killed_connection_is_written_once(
    pg_empty_url: str, pg_admin: sa.Engine
) -> None:
    name = f"airfoil-test-{uuid.uuid4().hex[:8]}"
    store = SqlMetaStore(f"{pg_empty_url}&application_name={name}")
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        with pg_admin.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name},
            ).all()
            assert pids
            for (pid,) in pids:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        # The statement meets a dead connection: its outcome is unknown, so the store looks
        # for the batch's first event before writing it again on a fresh connection.
        store.write(_batch(1, ("e1", "driver")))
        assert store.retries == 1
        assert [e.seq for e in store.get_events("e1")] == list(range(1, 21))
        assert len(store.get_nodes("e1")) == 10
        assert store.get_lease("e1") == ("driver", 60.0)
    finally:
        store.close()


def test_a_driver_whose_lease_was_taken_over_writes_nothing(pg_empty_url: str) -> None:
    """Two servers: the first one's lease lapsed and the second claimed the execution; the
    first one's next batch (a stale driver waking up) is refused whole."""
    first, second = SqlMetaStore(pg_empty_url), SqlMetaStore(pg_empty_url)
    try:
        first.write(StoreBatch(execution=make_execution()))
        assert first.acquire_lease("e1", "server-1", now=0.0, ttl_s=5.0)
        assert second.acquire_lease("e1", "server-2", now=10.0, ttl_s=5.0)  # lapsed: taken
        with pytest.raises(ConflictError, match="lease"):
            first.write(_batch(1, ("e1", "server-1")))
        assert second.get_events("e1") == []
        assert second.get_nodes("e1") == []
        assert second.get_execution("e1") == make_execution()
        second.write(_batch(1, ("e1", "server-2")))
        assert len(second.get_events("e1")) == 20
    finally:
        first.close()
        second.close()
