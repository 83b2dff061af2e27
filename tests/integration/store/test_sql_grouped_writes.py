"""Several executions' driver batches in one fenced statement on PostgreSQL (a server's driver
slots committing together, ``store.sql._fenced_many``): each execution fenced on its own,
all or nothing otherwise, and every batch written exactly once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from airfoil.core.errors import ConflictError
from airfoil.core.records import StoreBatch
from airfoil.server._commits import SharedCommits
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_attempt, make_event, make_execution, make_node

pytestmark = pytest.mark.integration

IDS = ("e1", "e2", "e3")


class _Counting:
    """A DBAPI cursor that counts the statements sent through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[str] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(sql.split(None, 1)[0])
        return self.inner.execute(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _count(store: SqlMetaStore) -> _Counting:
    store.get_lease("e1")  # opens this thread's connection
    held = store._conns.local.held
    counting = _Counting(held.cursor)
    held.cursor = counting
    return counting


def _batch(eid: str, seq: int, owner: str = "driver") -> StoreBatch:
    """A task's end and its successor's start, as a driver slot commits them."""
    return StoreBatch(
        nodes=[
            make_node(eid, f"n{seq}", phase="succeeded"),
            make_node(eid, f"n{seq + 1}", phase="running"),
        ],
        attempts=[make_attempt(eid, f"n{seq}", phase="succeeded")],
        events=[make_event(eid, seq=seq), make_event(eid, seq=seq + 1)],
        lease=(eid, owner),
    )


@pytest.fixture
def store(pg_empty_url: str) -> Any:
    s = SqlMetaStore(pg_empty_url)
    for eid in IDS:
        s.write(StoreBatch(execution=make_execution(eid)))
        assert s.acquire_lease(eid, "driver", now=0.0, ttl_s=60.0)
    yield s
    s.close()


def test_batches_of_several_executions_are_one_statement(store: SqlMetaStore) -> None:
    counting = _count(store)
    assert store.write_many([_batch(eid, 1) for eid in IDS]) == [None, None, None]
    assert counting.sent == ["WITH"]  # the fences and every write: one round trip
    for eid in IDS:
        assert [e.seq for e in store.get_events(eid)] == [1, 2]
        assert {n.node_id: n.phase for n in store.get_nodes(eid)} == {
            "n1": "succeeded",
            "n2": "running",
        }
        assert [(a.node_id, a.phase) for a in store.get_attempts(eid)] == [("n1", "succeeded")]
        assert store.get_lease(eid) == ("driver", 60.0)  # the fence keeps the lease


def test_a_lost_lease_fails_only_its_own_batch(store: SqlMetaStore, pg_empty_url: str) -> None:
    other = SqlMetaStore(pg_empty_url)
    try:
        assert other.acquire_lease("e2", "server-2", now=100.0, ttl_s=5.0)  # lapsed: taken
    finally:
        other.close()
    counting = _count(store)
    got = store.write_many([_batch(eid, 1) for eid in IDS])
    assert counting.sent == ["WITH"]
    assert got[0] is None and got[2] is None
    assert isinstance(got[1], ConflictError) and "lease" in str(got[1])
    assert store.get_events("e2") == [] and store.get_nodes("e2") == []
    assert [e.seq for e in store.get_events("e1")] == [1, 2]
    assert [e.seq for e in store.get_events("e3")] == [1, 2]


def test_one_bad_batch_writes_nothing_of_the_group_then_each_on_its_own(
    store: SqlMetaStore,
) -> None:
    """A duplicate event seq fails the whole statement; every batch is then written alone,
    so the bad one gets its own ConflictError and the others are written once."""
    store.write(_batch("e2", 1))
    got = store.write_many([_batch("e1", 1), _batch("e2", 1), _batch("e3", 1)])
    assert got[0] is None and got[2] is None
    assert isinstance(got[1], ConflictError) and "seq" in str(got[1])
    for eid in IDS:
        assert [e.seq for e in store.get_events(eid)] == [1, 2]


def test_a_group_through_a_killed_connection_is_written_once(
    pg_empty_url: str, pg_admin: sa.Engine
) -> None:
    name = f"airfoil-test-{uuid.uuid4().hex[:8]}"
    store = SqlMetaStore(f"{pg_empty_url}&application_name={name}")
    try:
        for eid in IDS:
            store.write(StoreBatch(execution=make_execution(eid)))
            assert store.acquire_lease(eid, "driver", now=0.0, ttl_s=60.0)
        with pg_admin.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name},
            ).all()
            assert pids
            for (pid,) in pids:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        assert store.write_many([_batch(eid, 1) for eid in IDS]) == [None, None, None]
        for eid in IDS:
            assert [e.seq for e in store.get_events(eid)] == [1, 2]
    finally:
        store.close()


def test_slots_committing_at_once_share_writes_and_each_returns_once_committed(
    store: SqlMetaStore,
) -> None:
    """Three slots commit 40 batches each through SharedCommits: batches group while a
    write is in flight (fewer writes than batches), every batch is in the store when its
    write returns, and a lost lease fails only that slot."""
    commits = SharedCommits(store)
    errors: dict[str, Exception] = {}
    seen_missing: list[str] = []

    def slot(eid: str) -> None:
        try:
            for k in range(40):
                seq = 1 + 2 * k
                commits.write(_batch(eid, seq))
                if [e.seq for e in store.get_events(eid, after_seq=seq - 1)][:2] != [seq, seq + 1]:
                    seen_missing.append(f"{eid}:{seq}")
        except Exception as exc:
            errors[eid] = exc

    threads = [threading.Thread(target=slot, args=(eid,)) for eid in IDS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not seen_missing
    assert commits.batches == 120
    assert commits.writes < commits.batches
    for eid in IDS:
        assert [e.seq for e in store.get_events(eid)] == list(range(1, 81))
    store.release_lease("e3", "driver")
    with pytest.raises(ConflictError, match="lease"):
        commits.write(_batch("e3", 81))
    commits.write(_batch("e1", 81))
    assert len(store.get_events("e1")) == 82
