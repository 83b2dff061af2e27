"""The concurrency half of the metadata store conformance suite: threads and processes
racing one store (no event lost, one winner per lease and reservation, conflicts instead of
overwrites). :class:`~airfoil.testing.conformance.MetaStoreConformance` includes it; see
that module for how a backend runs the suite.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from airfoil.core.errors import ConflictError
from airfoil.core.records import StoreBatch
from airfoil.store.base import MetaStore
from airfoil.testing.records import make_event, make_execution, make_node

__all__ = ["MetaStoreConcurrencyConformance"]


def _contend(url: str, home: str, owner: str, keys: list[str], barrier: Any, out: Any) -> None:
    """Child process: race for the leases of ``keys`` and the cache reservations of ``keys``,
    then append events with this owner's own seq numbers; report what it saw."""
    from airfoil.store._open import open_meta_store

    store = open_meta_store(url, home)
    try:
        barrier.wait(timeout=120)
        leases = [store.acquire_lease(k, owner, 1000.0, 60.0) for k in keys]
        holders = [store.reserve_cache(k, owner, 1000.0, 60.0) for k in keys]
        base = int(owner.rsplit("-", 1)[1]) * 1000 + 1
        for i in range(10):
            store.write(StoreBatch(events=[make_event(keys[0], base + i, owner)]))
        out.put((owner, leases, holders))
    except BaseException as exc:
        out.put((owner, repr(exc), None))
    finally:
        store.close()


def _in_threads(n: int, fn: Callable[[int], None]) -> None:
    with ThreadPoolExecutor(n) as pool:
        for f in [pool.submit(fn, t) for t in range(n)]:
            f.result(timeout=120)


class MetaStoreConcurrencyConformance:
    """Concurrency tests every :class:`MetaStore` backend passes (part of
    :class:`~airfoil.testing.conformance.MetaStoreConformance`, whose ``store`` and
    ``store_url`` fixtures they use)."""

    def test_concurrent_writers_lose_no_events(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))

        def writer(t: int) -> None:
            for i in range(20):
                seq = t * 1000 + i + 1
                store.write(
                    StoreBatch(nodes=[make_node(node_id=f"n{t}")], events=[make_event(seq=seq)])
                )

        _in_threads(6, writer)
        want = sorted(t * 1000 + i + 1 for t in range(6) for i in range(20))
        assert [e.seq for e in store.get_events("e1")] == want
        assert len(store.get_nodes("e1")) == 6

    def test_concurrent_appenders_conflict_instead_of_overwriting(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        wins: list[int] = []

        def appender(t: int) -> None:
            done = 0
            while done < 10:
                events = store.get_events("e1")
                seq = events[-1].seq + 1 if events else 1
                try:
                    store.write(StoreBatch(events=[make_event(seq=seq, cause=f"t{t}")]))
                except ConflictError:
                    continue
                done += 1
            wins.append(done)

        _in_threads(4, appender)
        events = store.get_events("e1")
        assert [e.seq for e in events] == list(range(1, 41))
        assert sum(wins) == 40
        assert sorted(e.cause for e in events) == sorted(
            f"t{t}" for t in range(4) for _ in range(10)
        )

    def test_concurrent_lease_and_reservation_have_one_winner(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        barrier = threading.Barrier(6)
        leases: dict[str, bool] = {}
        holders: dict[str, str] = {}

        def contender(t: int) -> None:
            barrier.wait(timeout=60)
            leases[f"o{t}"] = store.acquire_lease("e1", f"o{t}", now=0.0, ttl_s=60.0)
            holders[f"o{t}"] = store.reserve_cache("k", f"o{t}", now=0.0, ttl_s=60.0)

        _in_threads(6, contender)
        assert sum(leases.values()) == 1
        assert len(set(holders.values())) == 1
        assert next(iter(holders.values())) in holders

    def test_processes_contending_have_one_winner(
        self, store: MetaStore, store_url: str | None, tmp_path: Any
    ) -> None:
        if store_url is None:
            pytest.skip("this backend is not shared between processes")
        keys = [f"x{i}" for i in range(15)]
        store.write(StoreBatch(execution=make_execution(keys[0])))
        for k in keys[1:]:
            store.write(StoreBatch(execution=make_execution(k)))
        ctx = multiprocessing.get_context("spawn")
        n = 3
        barrier, out = ctx.Barrier(n), ctx.Queue()
        owners = [f"owner-{i}" for i in range(n)]
        procs = [
            ctx.Process(target=_contend, args=(store_url, str(tmp_path), o, keys, barrier, out))
            for o in owners
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        errors = [r for r in results if r[2] is None]
        assert not errors, errors
        for i, key in enumerate(keys):
            winners = [owner for owner, leases, _ in results if leases[i]]
            assert len(winners) == 1, (key, winners)
            seen = {holders[i] for _, _, holders in results}
            assert len(seen) == 1 and seen <= set(owners), (key, seen)
        want = sorted(int(o.rsplit("-", 1)[1]) * 1000 + 1 + i for o in owners for i in range(10))
        assert [e.seq for e in store.get_events(keys[0])] == want
