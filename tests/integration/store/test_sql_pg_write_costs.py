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

from airfoil.core.errors import NotFoundError
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
        # execution, its spec (once an execution, revision 0021), nodes, event: four
        # statements, none run once per row
        assert sent.calls == [
            "execute BEGIN",
            "execute INSERT",
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
    """A DBAPI cursor that records the ``synchronous_commit`` each writing statement commits
    with: a transaction's, read before its statement (its ``SET LOCAL`` came with the
    ``BEGIN``); a fenced batch's (one statement in autocommit, which may set it for its own
    commit), read after the statement, which runs here in a transaction of its own."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str]] = []
        self.rows: list[Any] | None = None

    def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        words = sql.split(None, 2)
        self.rows = None
        if words[0] == "WITH":
            self.inner.execute("BEGIN")
            self.inner.execute(sql, *args, **kw)
            self.rows = list(self.inner.fetchall())
            self.inner.execute("SHOW synchronous_commit")
            self.seen.append((" ".join(words[:2]), self.inner.fetchone()[0]))
            self.inner.execute("COMMIT")
            return self
        if words[0] in ("UPDATE", "INSERT"):
            self.inner.execute("SHOW synchronous_commit")
            self.seen.append((" ".join(words[:2]), self.inner.fetchone()[0]))
        return self.inner.execute(sql, *args, **kw)

    def fetchone(self) -> Any:
        return self.rows.pop(0) if self.rows is not None else self.inner.fetchone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _show(store: SqlMetaStore) -> _Showing:
    store.get_lease("e1")  # opens this thread's connection
    held = store._conns.local.held
    showing = _Showing(held.cursor)
    held.cursor = showing
    return showing


def test_a_lease_and_a_batch_commit_without_waiting_for_their_flush_and_an_end_waits(
    pg_empty_url: str,
) -> None:
    """Below ``power``, a lease's take, renewal and claim and a driver's fenced batch commit
    lazily (a batch is kept in the store's memory until its WAL is flushed: ``_unflushed``);
    the batch that ends its execution, a lease's release and writes outside a lease wait for
    their flush."""
    store = SqlMetaStore(pg_empty_url)
    try:
        for eid in ("e1", "e2"):
            store.write(StoreBatch(execution=make_execution(eid), events=[make_event(eid)]))
        showing = _show(store)
        assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
        assert store.acquire_lease("e1", "driver", now=1.0, ttl_s=60.0)  # a renewal
        for seq in (2, 3):  # the lease's first batch waits: it flushes the take with it
            store.write(
                StoreBatch(
                    nodes=[make_node(phase="succeeded")],
                    attempts=[make_attempt(phase="succeeded")],
                    events=[make_event(seq=seq)],
                    lease=("e1", "driver"),
                )
            )
        assert len(store.unflushed) == 1  # 3, until PostgreSQL says its WAL is flushed
        store.write(
            StoreBatch(
                execution=make_execution(phase="succeeded"),
                events=[make_event(seq=4)],
                lease=("e1", "driver"),
            )
        )
        assert len(store.unflushed) == 0  # the end's synchronous commit flushed it
        store.release_lease("e1", "driver")
        assert store.claim_execution("other", now=2.0, ttl_s=60.0) == "e2"
        store.write(StoreBatch(events=[make_event(seq=5)]))  # a write outside a lease
        assert showing.seen == [
            ("WITH took", "off"),  # the take and the renewal: one statement each
            ("WITH took", "off"),
            ("WITH fence", "on"),
            ("WITH fence", "off"),
            ("WITH fence", "on"),
            ("UPDATE executions", "on"),  # the release
            ("WITH claimed", "off"),
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
        batch = StoreBatch(events=[make_event(seq=1)], lease=("e1", "driver"))
        store.write(batch)
        assert len(store.unflushed) == 0
        store.release_lease("e1", "driver")
        assert showing.seen == [
            ("WITH took", "on"),
            ("WITH fence", "on"),
            ("UPDATE executions", "on"),
        ]
    finally:
        store.close()


def test_a_drives_store_calls_besides_its_batches_are_one_statement_each(
    pg_empty_url: str,
) -> None:
    """A server's claim, a lease's take, a drive's load (``view_execution``: record, nodes,
    attempts and the newest event's seq, not the event log), a batch of task runs and a
    release are one statement each, in autocommit (no BEGIN and COMMIT round trips).
    main: BEGIN, UPDATE, COMMIT for the claim and the take (and a SELECT where the take
    found the lease held), four reads, BEGIN, INSERT, COMMIT and BEGIN, UPDATE, COMMIT."""
    from airfoil.core.history import TaskRun
    from airfoil.engine.launcher import load_state

    store = SqlMetaStore(pg_empty_url)
    try:
        # (no dynamic spec: the state machine would expand it into the test spec's graph)
        nodes = [
            msgspec.structs.replace(make_node(node_id=f"n{i}"), dynamic_spec=None) for i in range(3)
        ]
        events = [make_event(seq=seq) for seq in (1, 2, 3)]
        store.write(StoreBatch(execution=make_execution(), nodes=nodes, events=events))
        store.write(StoreBatch(attempts=[make_attempt(node_id="n1")]))
        store.write(StoreBatch(execution=make_execution("e2"), events=[make_event("e2")]))
        sent = _record(store)
        assert store.claim_execution("server", now=0.0, ttl_s=60.0) == "e1"
        assert store.acquire_lease("e1", "server", now=1.0, ttl_s=60.0)  # a renewal
        assert not store.acquire_lease("e1", "other", now=2.0, ttl_s=60.0)  # held
        with pytest.raises(NotFoundError):
            store.acquire_lease("e9", "server", now=2.0, ttl_s=60.0)
        state = load_state(store, "e1", 1.0)
        run = TaskRun("e1", "n1", 1, "mod.t", "v1", 1.0, 2.0, True)
        store.put_task_runs([run])
        store.release_lease("e1", "server")
        assert [c.split()[0] for c in sent.calls] == ["execute"] * 7
        assert "BEGIN" not in str(sent.calls) and "COMMIT" not in str(sent.calls)
        assert state.execution == store.get_execution("e1")
        assert [state.records[n.node_id] for n in nodes] == nodes and state.seq == 3
        assert list(state.attempts) == [("n1", 1)]
        assert store.get_lease("e1") is None and store.get_lease("e2") is None
        assert [r.node_id for r in store.task_runs("proj", "mod.t")] == ["n1"]
    finally:
        store.close()
