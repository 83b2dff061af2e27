"""The bookkeeping of a PostgreSQL store's lazy batches (``_unflushed``), with the database's
answers given: which batches leave the list on which WAL positions, and what settling after
a possible crash writes again, in which order."""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConflictError, TransientStoreError
from airfoil.core.records import StoreBatch
from airfoil.store.sql._unflushed import UnflushedBatches
from airfoil.testing.conformance import make_event

pytestmark = pytest.mark.unit


def _batch(eid: str, seq: int) -> StoreBatch:
    return StoreBatch(events=[make_event(eid, seq=seq)], lease=(eid, "driver"))


def _seqs(unflushed: UnflushedBatches) -> list[tuple[str, int]]:
    return [(b.events[0].execution_id, b.events[0].seq) for b in unflushed.batches()]


def test_a_batch_leaves_once_a_flush_position_passes_a_later_statements_insert_position() -> None:
    u = UnflushedBatches()
    u.join(_batch("e1", 1))
    mark = u.mark()  # a statement begins after batch 1 committed ...
    u.join(_batch("e1", 2))  # ... and batch 2 commits meanwhile: not bounded by it
    u.seen(mark, inserted=500, flushed=400, synchronous=False)
    assert _seqs(u) == [("e1", 1), ("e1", 2)]  # 1's bound (500) is not flushed yet
    u.seen(u.mark(), inserted=700, flushed=500, synchronous=False)
    assert _seqs(u) == [("e1", 2)]  # 1 is on disk; 2's bound is 700
    u.seen(u.mark(), inserted=800, flushed=699, synchronous=False)
    assert _seqs(u) == [("e1", 2)]
    u.seen(u.mark(), inserted=900, flushed=700, synchronous=False)
    assert _seqs(u) == []


def test_a_synchronous_commit_flushes_the_batches_that_committed_before_it_began() -> None:
    u = UnflushedBatches()
    u.join(_batch("e1", 1))
    mark = u.mark()
    u.join(_batch("e2", 1))  # committed while the synchronous statement ran
    u.seen(mark, inserted=10, flushed=0, synchronous=True)
    assert _seqs(u) == [("e2", 1)]
    u.flushed(u.mark())  # a lease's release
    assert _seqs(u) == []


def test_settling_writes_the_missing_batches_again_in_order_and_skips_lost_leases() -> None:
    u = UnflushedBatches()
    for eid, seq in [("e1", 1), ("e2", 1), ("e1", 2), ("e3", 1), ("e3", 2), ("e1", 3)]:
        u.join(_batch(eid, seq))
    written: list[tuple[str, int]] = []

    def rewrite(batch: StoreBatch) -> None:
        first = batch.events[0]
        if first.execution_id == "e3":
            raise ConflictError("lost the lease on execution e3")
        written.append((first.execution_id, first.seq))

    u.settle(lambda _b: {("e1", 1)}, rewrite)
    assert written == []  # nothing is suspected: nothing is looked up
    u.suspect = True
    u.settle(lambda _b: {("e1", 1)}, rewrite)
    assert written == [("e2", 1), ("e1", 2), ("e1", 3)]  # e3's first refused: e3 skipped
    assert _seqs(u) == []  # written synchronously, the rest flushed by those commits
    assert not u.suspect


def test_settling_that_meets_the_database_away_stays_suspect_and_keeps_the_batches() -> None:
    u = UnflushedBatches()
    u.join(_batch("e1", 1))
    u.suspect = True

    def away(_batches: list[StoreBatch]) -> set[tuple[str, int]]:
        raise TransientStoreError("connection refused", outcome_unknown=True)

    with pytest.raises(TransientStoreError) as got:
        u.settle(away, lambda _b: None)
    assert not got.value.outcome_unknown  # the caller's own write has not begun
    assert u.suspect
    assert _seqs(u) == [("e1", 1)]
    written: list[StoreBatch] = []
    u.settle(lambda _b: set(), written.append)  # back: written again
    assert [b.events[0].seq for b in written] == [1]
    assert _seqs(u) == []
