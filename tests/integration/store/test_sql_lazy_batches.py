"""Lazy batches on a PostgreSQL of the test's own (``_own_postgres``), its WAL writer held
still, so a commit that did not wait for its flush is certainly not on disk: a driver's
batch is kept in the store's memory until PostgreSQL reports its WAL flushed, and after
PostgreSQL crashes (``pg_ctl stop -m immediate``) the store writes the batches it lost again,
before anything else, fenced on their lease (``airfoil.store.sql._unflushed``)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from _own_postgres import OwnPostgres, own_postgres

from airfoil.core.errors import ConflictError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import RetryPolicy, SqlMetaStore
from airfoil.testing.conformance import make_event, make_execution, make_node

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOW_WAL_WRITER = {"wal_writer_delay": "10s"}  # nothing flushes the WAL but a commit


def _wal(pg: OwnPostgres, *sql: str) -> list[tuple[object, ...]]:
    """The rows of the last of ``sql``, run in one transaction (synchronous)."""
    engine = sa.create_engine(pg.url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for one in sql:
                result = conn.execute(sa.text(one))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _on_disk(pg: OwnPostgres) -> bool:
    """Whether all the WAL written so far is flushed."""
    return bool(_wal(pg, "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()")[0][0])


def _flush(pg: OwnPostgres) -> None:
    """Another session's synchronous commit: PostgreSQL flushes the WAL up to it."""
    _wal(pg, "CREATE TABLE IF NOT EXISTS flusher (x int)", "INSERT INTO flusher VALUES (1)")
    assert _on_disk(pg)


def _seqs(pg: OwnPostgres, eid: str = "e1") -> list[int]:
    rows = _wal(pg, f"SELECT seq FROM events WHERE execution_id = '{eid}' ORDER BY seq")
    return [int(r[0]) for r in rows]  # type: ignore[call-overload]


def _step(seq: int, phase: str = "running", owner: str = "driver") -> StoreBatch:
    """A driver's batch: node ``n<seq>`` in ``phase`` and event ``seq``."""
    return StoreBatch(
        nodes=[make_node(node_id=f"n{seq}", phase=phase)],
        events=[make_event(seq=seq)],
        lease=("e1", owner),
    )


def _ending(batch: StoreBatch) -> StoreBatch:
    """``batch`` with the execution's record in a terminal phase: the run's last batch."""
    return msgspec.structs.replace(batch, execution=make_execution(phase="succeeded"))


def _launched(pg: OwnPostgres, **kw: object) -> SqlMetaStore:
    """A store on ``pg`` with execution e1 launched, its lease taken by ``driver`` (lazily),
    the WAL writer held still, and the lease's first batch (event 2) written: it waits for
    its flush, so the take is on disk with it."""
    store = SqlMetaStore(pg.url, retry=RetryPolicy(budget_s=60), **kw)  # type: ignore[arg-type]
    store.write(StoreBatch(execution=make_execution(), events=[make_event(seq=1)]))
    assert store.acquire_lease("e1", "driver", now=0.0, ttl_s=60.0)
    pg.hold_wal_writer()
    store.write(_step(2))
    assert _on_disk(pg)
    assert store.unflushed.batches() == []
    return store


def test_a_batch_is_kept_until_postgresql_reports_its_wal_flushed(tmp_path: Path) -> None:
    with own_postgres(tmp_path, **SLOW_WAL_WRITER) as pg:
        store = _launched(pg)
        try:
            store.write(_step(3))
            assert not _on_disk(pg)  # it committed without waiting for its flush
            assert [b.events[0].seq for b in store.unflushed.batches()] == [3]
            store.write(_step(4))  # bounds 3 by the WAL position it reads
            _flush(pg)
            store.write(_step(5))  # reads a flush position past 3's bound, not past 4's
            assert [b.events[0].seq for b in store.unflushed.batches()] == [4, 5]
            store.write(_ending(_step(6)))  # the end waits for its flush
            assert _on_disk(pg)
            assert store.unflushed.batches() == []  # and flushed every batch before it
        finally:
            store.close()


def test_under_power_a_batch_waits_for_its_flush(tmp_path: Path) -> None:
    with own_postgres(tmp_path, **SLOW_WAL_WRITER) as pg:
        store = _launched(pg, durability="power")
        try:
            store.write(_step(3))
            assert _on_disk(pg)
            assert store.unflushed.batches() == []
        finally:
            store.close()


@pytest.mark.parametrize("then", ["write", "release"])
def test_batches_lost_in_a_postgresql_crash_are_written_again_in_order(
    tmp_path: Path, then: str
) -> None:
    """PostgreSQL crashes with batches 3-6 committed but unflushed: they are gone after its
    recovery; the store's next write (or the lease's release) writes them again first, in
    order, so every result is there, once, and the nodes hold their last records."""
    with own_postgres(tmp_path, **SLOW_WAL_WRITER) as pg:
        store = _launched(pg)
        try:
            for seq in (3, 4, 5, 6):
                store.write(_step(seq, "succeeded" if seq % 2 else "running"))
            assert _seqs(pg) == [1, 2, 3, 4, 5, 6]  # committed, visible ...
            pg.crash()
            pg.start()
            assert _seqs(pg) == [1, 2]  # ... and lost: the premise of this test
            assert store.get_lease("e1") == ("driver", 60.0)  # flushed by batch 2
            if then == "write":
                store.write(_ending(_step(7)))
                assert _seqs(pg) == [1, 2, 3, 4, 5, 6, 7]
            else:
                store.release_lease("e1", "driver")
                assert _seqs(pg) == [1, 2, 3, 4, 5, 6]
                assert store.get_lease("e1") is None
            nodes = {n.node_id: n.phase for n in store.get_nodes("e1")}
            assert nodes == {
                "n2": "running",
                "n3": "succeeded",
                "n4": "running",
                "n5": "succeeded",
                "n6": "running",
            } | ({"n7": "running"} if then == "write" else {})
            assert store.unflushed.batches() == []  # written again synchronously
            assert store.retries >= 1  # the broken connection was retried
        finally:
            store.close()


def test_a_lost_batch_whose_lease_passed_on_is_not_written_again(tmp_path: Path) -> None:
    """The lease passes to another driver after the crash, before this store writes again:
    the fence refuses the lost batches (nothing of them is written) and this driver's next
    batch fails as a lost lease; the new holder finds the node as it was before them, so it
    runs that task again."""
    with own_postgres(tmp_path, **SLOW_WAL_WRITER) as pg:
        store = _launched(pg)
        other = SqlMetaStore(pg.url)
        try:
            store.write(_step(3, "succeeded"))
            pg.crash()
            pg.start()
            assert other.acquire_lease("e1", "other", now=120.0, ttl_s=60.0)  # expired
            with pytest.raises(ConflictError, match="lost the lease on execution e1"):
                store.write(_step(4))
            assert _seqs(pg) == [1, 2]
            # n3's success is not there: the new holder runs n3 again
            assert {n.node_id: n.phase for n in other.get_nodes("e1")} == {"n2": "running"}
            assert store.unflushed.batches() == []
            other.write(_step(3, "succeeded", owner="other"))  # the new holder's run of it
            assert _seqs(pg) == [1, 2, 3]
        finally:
            other.close()
            store.close()
