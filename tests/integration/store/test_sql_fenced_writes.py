"""A driver's batch (written under its lease) on PostgreSQL: one statement, one round trip,
and still written exactly once through a lost connection (the conformance suite checks what
is written; this checks how)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from airfoil.core.errors import ConflictError, StoreError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._pg_arrays import Float8Array, Int8Array, TextArray
from airfoil.testing.conformance import (
    make_attempt,
    make_cache_entry,
    make_event,
    make_execution,
    make_node,
)

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


def test_a_drive_in_another_process_stays_fenced_once_it_has_read_its_execution(
    pg_empty_url: str,
) -> None:
    """Revision 0021: the fenced statement writes no spec. An engine's store that launched
    nothing (the server's engine process: the API launched) writes a batch with the
    execution fenced once it has read the execution, whose spec it then knows is stored;
    before that, through the general path, the lease checked in its transaction."""
    api, engine = SqlMetaStore(pg_empty_url), SqlMetaStore(pg_empty_url)
    try:
        api.write(StoreBatch(execution=make_execution()))
        assert engine.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        counting = _count(engine)
        engine.write(_batch(1, ("e1", "driver")))  # its spec unseen: the general path
        assert counting.sent[0] == "BEGIN" and counting.sent[-1] == "COMMIT"
        assert "SELECT" in counting.sent  # the lease's check
        read = engine.get_execution("e1")
        counting.sent.clear()
        engine.write(
            StoreBatch(execution=read, events=[make_event(seq=21)], lease=("e1", "driver"))
        )
        assert counting.sent == ["WITH"]
        assert api.get_execution("e1") == make_execution(phase="running")
        assert len(api.get_events("e1")) == 21
    finally:
        api.close()
        engine.close()


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


def test_the_batch_arrays_reach_postgresql_as_sent(pg_empty_url: str) -> None:
    """The one-pass binary arrays (``_pg_arrays``) decode in PostgreSQL to what was given:
    multi-byte and quoting characters, bytes taken as UTF-8, 64-bit bounds, floats, empties."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.get_lease("e1")  # opens this thread's connection (the dumpers registered)
        cur = store._conns.local.held.cursor
        texts = ["", 'é✓ "q" {\\"json\\"} \n\t', "x" * 100_000]
        cur.execute("SELECT unnest(%(t)b::text[])", {"t": TextArray(texts)})
        assert [r[0] for r in cur.fetchall()] == texts
        cur.execute("SELECT unnest(%(t)b::text[])", {"t": TextArray([b"{}", "é".encode()])})
        assert [r[0] for r in cur.fetchall()] == ["{}", "é"]
        ints = [-(2**63), -1, 0, 1, 2**63 - 1]
        cur.execute("SELECT unnest(%(i)b::bigint[])", {"i": Int8Array(ints)})
        assert [r[0] for r in cur.fetchall()] == ints
        floats = [0.0, -0.0, 1.5e308, -2.25, 1_700_000_000.123456]
        cur.execute("SELECT unnest(%(f)b::float8[])", {"f": Float8Array(floats)})
        assert [r[0] for r in cur.fetchall()] == floats
        for empty in (TextArray([]), Int8Array([]), Float8Array([])):
            cur.execute("SELECT cardinality(%(x)b), array_length(%(x)b, 1)", {"x": empty})
            assert cur.fetchone() == (0, None)
        with pytest.raises(StoreError, match="does not fit a 64-bit"):
            Int8Array([1, 2**63])  # never sent wrapped around
    finally:
        store.close()


@pytest.mark.parametrize("kinds", ["", "n", "a", "e", "c", "ne", "ac", "naec"])
def test_every_kind_combination_is_one_fenced_statement(pg_empty_url: str, kinds: str) -> None:
    """A batch holding only some record kinds runs the variant without the others' writes
    and stores exactly what it holds."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        nodes = [make_node(node_id=f"n{i}") for i in range(3)] if "n" in kinds else []
        attempts = [make_attempt(node_id=f"n{i}") for i in range(2)] if "a" in kinds else []
        events = [make_event(seq=i + 1, cause_id=i) for i in range(4)] if "e" in kinds else []
        cache = [make_cache_entry(key=f"k{i}") for i in range(2)] if "c" in kinds else []
        running = make_execution(phase="running")
        counting = _count(store)
        store.write(
            StoreBatch(
                execution=running,
                nodes=nodes,
                attempts=attempts,
                events=events,
                cache_puts=cache,
                lease=("e1", "driver"),
            )
        )
        assert counting.sent == ["WITH"]
        assert store.get_execution("e1") == running
        assert store.get_nodes("e1") == nodes
        assert store.get_attempts("e1") == attempts
        assert store.get_events("e1") == events
        assert [store.get_cache(c.key) for c in cache] == cache
        assert store.get_lease("e1") == ("driver", 60.0)
    finally:
        store.close()


def test_a_record_of_another_execution_goes_the_general_way_under_the_fence(
    pg_empty_url: str,
) -> None:
    """The fenced statement writes every record under the lease's execution id; a batch
    holding a record of another execution is written by the checked transaction instead,
    which keeps that record's own id (and still refuses a stale driver)."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        store.write(StoreBatch(execution=make_execution("e2")))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        counting = _count(store)
        other = make_node(execution_id="e2", node_id="child")
        store.write(StoreBatch(nodes=[make_node(), other], lease=("e1", "driver")))
        assert counting.sent[0] == "BEGIN" and counting.sent[-1] == "COMMIT"
        assert store.get_nodes("e2") == [other]
        assert store.get_nodes("e1") == [make_node()]
        with pytest.raises(ConflictError, match="lease"):
            store.write(StoreBatch(nodes=[other], lease=("e1", "someone-else")))
    finally:
        store.close()


def test_the_fenced_tables_carry_no_foreign_key_yet_refuse_unknown_executions(
    pg_empty_url: str,
) -> None:
    """Revision 0018: on PostgreSQL nodes, attempts and events have no foreign key (the
    fenced statement's fence proves their execution exists, row by row it cost ~12% of the
    backends' CPU); a batch of the general path naming an unknown execution is still
    refused whole, and one naming a known one is written."""
    from airfoil.core.errors import NotFoundError

    store = SqlMetaStore(pg_empty_url)
    engine = sa.create_engine(pg_empty_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            keys = {
                t: {fk["name"] for fk in sa.inspect(conn).get_foreign_keys(t)}
                for t in ("nodes", "attempts", "events", "control_messages")
            }
        assert keys == {
            "nodes": set(),
            "attempts": set(),
            "events": set(),
            "control_messages": {"fk_control_messages_execution_id"},
        }
        store.write(StoreBatch(execution=make_execution()))
        ghost = make_node(execution_id="ghost", node_id="n1")
        for batch in (
            StoreBatch(nodes=[make_node(node_id="n9"), ghost]),
            StoreBatch(attempts=[make_attempt(execution_id="ghost")]),
            StoreBatch(events=[make_event(execution_id="ghost", seq=1)]),
        ):
            with pytest.raises(NotFoundError, match="ghost"):
                store.write(batch)
        assert store.get_nodes("e1") == [] and store.get_nodes("ghost") == []
        store.write(StoreBatch(nodes=[make_node()], events=[make_event(seq=1)]))
        assert store.get_nodes("e1") == [make_node()]
    finally:
        engine.dispose()
        store.close()


def _row_version(engine: sa.Engine, eid: str = "e1") -> str:
    """The execution row's version (its ``xmin``: the transaction that wrote it last)."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT xmin FROM executions WHERE id = :i"), {"i": eid}
            ).scalar_one()
        )


def test_a_fenced_batch_without_the_execution_leaves_its_row_unwritten(
    pg_empty_url: str,
) -> None:
    """The fence is a row lock, not a row write: a batch that does not carry the
    execution's record (most of a drive's batches) leaves no new version of the
    execution's row (each was a dead row for vacuum and a row image in the WAL), on the
    one-statement path and on the checked transaction alike; one that carries it writes it."""
    store = SqlMetaStore(pg_empty_url)
    engine = sa.create_engine(pg_empty_url, poolclass=sa.pool.NullPool)
    try:
        store.write(StoreBatch(execution=make_execution()))
        store.write(StoreBatch(execution=make_execution("e2")))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        version = _row_version(engine)
        batch = _batch(1, ("e1", "driver"))
        store.write(StoreBatch(nodes=batch.nodes, events=batch.events, lease=batch.lease))
        assert len(store.get_events("e1")) == 20
        assert _row_version(engine) == version  # one statement: locked, not rewritten
        other = make_node(execution_id="e2", node_id="child")
        store.write(StoreBatch(nodes=[make_node(), other], lease=("e1", "driver")))
        assert store.get_nodes("e2") == [other]
        assert _row_version(engine) == version  # the checked transaction: the same
        store.write(StoreBatch(execution=make_execution(phase="running"), lease=batch.lease))
        assert _row_version(engine) != version
        assert store.get_execution("e1") == make_execution(phase="running")
        assert store.get_lease("e1") == ("driver", 60.0)
    finally:
        engine.dispose()
        store.close()


def _wait_for_lock(admin: sa.Engine, name: str) -> None:
    """Until the session named ``name`` waits for a lock (its statement is blocked)."""
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :n AND wait_event_type = 'Lock'"
                ),
                {"n": name},
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError(f"session {name} never waited for a lock")


@pytest.mark.parametrize("path", ["one statement", "checked transaction"])
def test_a_fence_waits_for_a_lease_take_in_flight_and_then_writes_nothing(
    pg_empty_url: str, pg_admin: sa.Engine, path: str
) -> None:
    """The window a lock-only fence could open: another server takes the lapsed lease in a
    transaction not yet committed when the stale driver's batch arrives. The batch's fence
    waits for that row's lock, reads the new owner and writes nothing (a fence reading the
    row without locking it would see the old owner in its snapshot and write)."""
    import threading

    name = f"airfoil-test-{uuid.uuid4().hex[:8]}"
    store = SqlMetaStore(f"{pg_empty_url}&application_name={name}")
    engine = sa.create_engine(pg_empty_url, poolclass=sa.pool.NullPool)
    try:
        store.write(StoreBatch(execution=make_execution()))
        store.write(StoreBatch(execution=make_execution("e2")))
        assert store.acquire_lease("e1", "server-1", now=0.0, ttl_s=5.0)
        nodes = [make_node()]
        if path == "checked transaction":  # a record of another execution: the general path
            nodes.append(make_node(execution_id="e2", node_id="child"))
        batch = StoreBatch(nodes=nodes, events=[make_event(seq=1)], lease=("e1", "server-1"))
        outcome: list[BaseException | None] = []

        def stale_write() -> None:
            try:
                store.write(batch)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        with engine.connect() as taker:
            taker.execute(
                sa.text(
                    "UPDATE executions SET lease_owner = 'server-2', lease_expires_at = 15 "
                    "WHERE id = 'e1'"
                )
            )  # the second server's take, its transaction still open
            writer = threading.Thread(target=stale_write)
            writer.start()
            _wait_for_lock(pg_admin, name)
            taker.commit()
        writer.join(20)
        assert len(outcome) == 1 and isinstance(outcome[0], ConflictError), outcome
        assert store.get_events("e1") == [] and store.get_nodes("e1") == []
        assert store.get_nodes("e2") == []
        assert store.get_lease("e1") == ("server-2", 15.0)
    finally:
        engine.dispose()
        store.close()


def test_a_lease_take_waits_for_a_fenced_batch_in_flight(
    pg_empty_url: str, pg_admin: sa.Engine
) -> None:
    """The other half: while a batch's fence holds the execution's row (its transaction not
    yet committed), another server's take of the lapsed lease waits, and takes it only
    once the batch is durable: the batch was written under a lease still held."""
    import threading

    name = f"airfoil-test-{uuid.uuid4().hex[:8]}"
    store = SqlMetaStore(pg_empty_url)
    second = SqlMetaStore(f"{pg_empty_url}&application_name={name}")
    engine = sa.create_engine(pg_empty_url, poolclass=sa.pool.NullPool)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "server-1", now=0.0, ttl_s=5.0)
        taken: list[bool] = []
        with engine.connect() as driver:
            fence = store._s.check_lease  # the checked transaction's fence, as it runs
            assert driver.exec_driver_sql(fence, {"id": "e1", "owner": "server-1"}).rowcount == 1
            taker = threading.Thread(
                target=lambda: taken.append(second.acquire_lease("e1", "server-2", 10.0, 5.0))
            )
            taker.start()
            _wait_for_lock(pg_admin, name)
            assert taken == []
            driver.exec_driver_sql(
                "INSERT INTO events (execution_id, seq, cause_id, record) VALUES ('e1', 1, 0, '{}')"
            )
            driver.commit()
        taker.join(20)
        assert taken == [True]
        assert [e for (e,) in second._read("SELECT seq FROM events", {}, "t")] == [1]
    finally:
        engine.dispose()
        second.close()
        store.close()


def test_a_fenced_batch_with_a_record_given_twice_is_left_as_its_last(pg_empty_url: str) -> None:
    """One upsert may not touch a row twice ("ON CONFLICT DO UPDATE command cannot affect row
    a second time" failed the whole batch): the fenced statement keeps each node's, attempt's
    and cache key's last record, as the general path's arrays do."""
    store = SqlMetaStore(pg_empty_url)
    try:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        given = (("a", "queued"), ("b", "queued"), ("a", "running"))
        store.write(
            StoreBatch(
                nodes=[make_node(node_id=n, phase=p) for n, p in given],
                attempts=[make_attempt(node_id="a", phase=p) for p in ("running", "succeeded")],
                events=[make_event(seq=1), make_event(seq=2)],
                cache_puts=[make_cache_entry(created_at=5.0), make_cache_entry(created_at=9.0)],
                lease=("e1", "driver"),
            )
        )
        assert [(n.node_id, n.phase) for n in store.get_nodes("e1")] == [
            ("a", "running"),
            ("b", "queued"),
        ]
        assert [a.phase for a in store.get_attempts("e1")] == ["succeeded"]
        assert len(store.get_events("e1")) == 2
        cached = store.get_cache("k1")
        assert cached is not None and cached.created_at == 9.0
    finally:
        store.close()
