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
