"""What PostgreSQL pays for the general write path's rows (a launch: an execution, all its
nodes pending, its first event) and for large records: several nodes or attempts are one
statement from arrays (not one execution per row), and values PostgreSQL compresses are
compressed with lz4 where the server has it. The conformance suite checks what is written;
this checks how."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_attempt, make_event, make_execution, make_node

pytestmark = pytest.mark.integration


class _Sent:
    """A DBAPI cursor that records each call: ``execute`` or ``executemany`` and its verb."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.calls.append(f"execute {sql.split(None, 1)[0]}")
        return self.inner.execute(sql, *args, **kw)

    def executemany(self, sql: str, *args: Any, **kw: Any) -> Any:
        self.calls.append(f"executemany {sql.split(None, 1)[0]}")
        return self.inner.executemany(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _record(store: SqlMetaStore) -> _Sent:
    store.get_lease("e1")  # opens this thread's connection
    held = store._conns.local.held
    sent = _Sent(held.cursor)
    held.cursor = sent
    return sent


def test_a_launchs_nodes_are_one_statement(pg_empty_url: str) -> None:
    store = SqlMetaStore(pg_empty_url)
    try:
        sent = _record(store)
        nodes = [make_node(node_id=f"n{i:03}", phase="pending") for i in range(101)]
        store.write(StoreBatch(execution=make_execution(), nodes=nodes, events=[make_event()]))
        # execution, nodes, event: three statements, none run once per row
        assert sent.calls == [
            "execute BEGIN",
            "execute INSERT",
            "execute INSERT",
            "execute INSERT",
            "execute COMMIT",
        ]
        assert store.get_nodes("e1") == nodes
    finally:
        store.close()


def test_several_attempts_outside_a_lease_are_one_statement(pg_empty_url: str) -> None:
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        sent = _record(store)
        attempts = [make_attempt(node_id=f"n{i}", phase="succeeded") for i in range(3)]
        store.write(StoreBatch(attempts=attempts))
        assert [c for c in sent.calls if c.endswith("INSERT")] == ["execute INSERT"]
        assert store.get_attempts("e1") == attempts
    finally:
        store.close()


def test_a_node_or_attempt_given_twice_in_a_batch_is_left_as_its_last_record(
    pg_empty_url: str,
) -> None:
    """One upsert may not touch a row twice: the arrays keep each key's last record, what
    writing the rows one by one leaves."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        store.write(
            StoreBatch(
                nodes=[
                    make_node(node_id="a", phase="queued"),
                    make_node(node_id="b", phase="queued"),
                    make_node(node_id="a", phase="running"),
                ],
                attempts=[
                    make_attempt(node_id="a", phase="running"),
                    make_attempt(node_id="a", phase="succeeded"),
                ],
            )
        )
        assert [(n.node_id, n.phase) for n in store.get_nodes("e1")] == [
            ("a", "running"),
            ("b", "queued"),
        ]
        assert [a.phase for a in store.get_attempts("e1")] == ["succeeded"]
    finally:
        store.close()


def _lz4_offered(url: str) -> bool:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                        "WHERE name = 'default_toast_compression'"
                    )
                ).scalar()
            )
    finally:
        engine.dispose()


def test_a_large_execution_record_is_compressed_with_lz4(pg_empty_url: str) -> None:
    if not _lz4_offered(pg_empty_url):
        pytest.skip("this PostgreSQL server was built without lz4")
    store = SqlMetaStore(pg_empty_url)
    try:
        # a record PostgreSQL compresses (over ~2 KB), like a fan-out's spec
        labels = {f"label-{i}": f"value-{i % 7}" for i in range(400)}
        ex = msgspec.structs.replace(make_execution(), labels=labels)
        store.write(StoreBatch(execution=ex))
        engine = sa.create_engine(pg_empty_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                method, stored, length = conn.execute(
                    sa.text(
                        "SELECT pg_column_compression(record), pg_column_size(record), "
                        "octet_length(record) FROM executions WHERE id = 'e1'"
                    )
                ).one()
        finally:
            engine.dispose()
        assert method == "lz4"
        assert stored < length  # compressed, not only stored out of line
        assert store.get_execution("e1") == ex
    finally:
        store.close()


class _Showing:
    """A DBAPI cursor that reads ``synchronous_commit`` in effect before each statement."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        words = sql.split(None, 2)
        if words[0] in ("UPDATE", "WITH", "INSERT"):
            self.inner.execute("SHOW synchronous_commit")
            self.seen.append((" ".join(words[:2]), self.inner.fetchone()[0]))
        return self.inner.execute(sql, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _show(store: SqlMetaStore) -> _Showing:
    store.get_lease("e1")  # opens this thread's connection
    held = store._conns.local.held
    showing = _Showing(held.cursor)
    held.cursor = showing
    return showing


def test_a_lease_commits_without_waiting_for_its_flush_and_a_batch_waits(
    pg_empty_url: str,
) -> None:
    """Below ``power``, a lease's take, renewal, release and claim commit asynchronously
    (every batch is fenced on the lease, so a lease lost with a crash only fails a batch);
    the batches themselves, finished results among them, keep the synchronous commit."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution(), events=[make_event(seq=1)]))
        showing = _show(store)
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        assert store.acquire_lease("e1", "driver", now=1.0, ttl_s=60.0)  # a renewal
        store.write(
            StoreBatch(
                nodes=[make_node(phase="succeeded")],
                attempts=[make_attempt(phase="succeeded")],
                events=[make_event(seq=2)],
                lease=("e1", "driver"),
            )
        )
        store.release_lease("e1", "driver")
        assert store.claim_execution("other", now=2.0, ttl_s=60.0) == "e1"
        store.write(StoreBatch(events=[make_event(seq=3)]))  # a write outside a lease
        assert showing.seen == [
            ("UPDATE executions", "off"),
            ("UPDATE executions", "off"),
            ("WITH fence", "on"),
            ("UPDATE executions", "off"),
            ("UPDATE executions", "off"),
            ("INSERT INTO", "on"),
        ]
    finally:
        store.close()


def test_under_power_a_lease_commits_synchronously(pg_empty_url: str) -> None:
    store = SqlMetaStore(pg_empty_url, durability="power")
    try:
        store.write(StoreBatch(execution=make_execution()))
        showing = _show(store)
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        store.release_lease("e1", "driver")
        assert showing.seen == [("UPDATE executions", "on"), ("UPDATE executions", "on")]
    finally:
        store.close()
