"""Which leases a PostgreSQL store lets commit lazily (``_unflushed.FlushedTakes``): only a
lease whose take a synchronous batch flushed, held without a break since, and never more
than a bounded number of them.

On the shared test PostgreSQL: whether a batch committed lazily is read from the store's list
of unflushed batches, which a lazy batch joins as its commit returns (a synchronous one never
does), so no WAL has to be held still.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._unflushed import FlushedTakes
from airfoil.testing.conformance import make_event, make_execution, make_node

pytestmark = pytest.mark.integration


@pytest.fixture
def store(pg_new_schema: Callable[[], str]) -> Iterator[SqlMetaStore]:
    s = SqlMetaStore(pg_new_schema())
    yield s
    s.close()


def _step(eid: str, seq: int, owner: str) -> StoreBatch:
    return StoreBatch(
        nodes=[make_node(eid, node_id=f"n{seq}")],
        events=[make_event(eid, seq=seq)],
        lease=(eid, owner),
    )


def _lazy(store: SqlMetaStore, eid: str, seq: int, owner: str = "a") -> bool:
    """Write a driver's batch; whether it committed lazily."""
    store.write(_step(eid, seq, owner))
    return any(
        b.lease == (eid, owner) and b.events[0].seq == seq for b in store.unflushed.batches()
    )


def test_a_lease_retaken_after_its_hold_lapsed_waits_for_its_flush_again(
    store: SqlMetaStore, pg_new_schema: Callable[[], str]
) -> None:
    """On main the store remembered (e1, a) as flushed for the process's life: after a's
    hold lapsed, b took the lease and released it, and a took it again (a new take, committed
    lazily), a's next batch was lazy too, so a PostgreSQL crash could lose the take and the
    batches after it, and the rewrite of those batches was then fenced out."""
    store.write(StoreBatch(execution=make_execution("e1"), events=[make_event("e1", seq=1)]))
    assert store.acquire_lease("e1", "a", now=0.0, ttl_s=10.0)
    assert not _lazy(store, "e1", 2)  # the lease's first batch flushes its take
    assert _lazy(store, "e1", 3)
    assert store.acquire_lease("e1", "a", now=5.0, ttl_s=10.0)  # renewed in time
    assert _lazy(store, "e1", 4)
    other = SqlMetaStore(store.url)  # another server
    try:
        assert other.acquire_lease("e1", "b", now=30.0, ttl_s=10.0)  # a's hold lapsed at 15
        other.release_lease("e1", "b")
    finally:
        other.close()
    assert store.acquire_lease("e1", "a", now=31.0, ttl_s=10.0)  # a new take
    assert not _lazy(store, "e1", 5), "the new take must be flushed with this batch"
    assert _lazy(store, "e1", 6)


def test_a_lost_renewal_forgets_the_lease(store: SqlMetaStore) -> None:
    store.write(StoreBatch(execution=make_execution("e1"), events=[make_event("e1", seq=1)]))
    assert store.acquire_lease("e1", "a", now=0.0, ttl_s=10.0)
    assert not _lazy(store, "e1", 2)
    assert _lazy(store, "e1", 3)
    assert store.acquire_lease("e1", "b", now=20.0, ttl_s=10.0)
    assert not store.acquire_lease("e1", "a", now=21.0, ttl_s=10.0)  # a's beat: lost
    store.release_lease("e1", "b")
    assert store.acquire_lease("e1", "a", now=22.0, ttl_s=10.0)
    assert not _lazy(store, "e1", 4)


def test_leases_never_released_are_not_remembered_without_bound(store: SqlMetaStore) -> None:
    """On main every lease whose first batch was written stayed in the store's memory until
    released: a server's engine whose drivers gave up on executions (lost, stopped, crashed
    slots) grew it for its whole life."""
    limit = FlushedTakes().limit
    for i in range(limit + 40):
        eid = f"e{i}"
        store.write(StoreBatch(execution=make_execution(eid), events=[make_event(eid, seq=1)]))
        assert store.acquire_lease(eid, "a", now=0.0, ttl_s=60.0)
        assert not _lazy(store, eid, 2)
    assert len(store._leases_on_disk) == limit
    assert _lazy(store, f"e{limit + 39}", 3), "the newest leases are remembered"
    assert not _lazy(store, "e0", 3), "a forgotten lease's next batch is synchronous"
    assert _lazy(store, "e0", 4)
