"""The scheduling store conformance suite: tests every :class:`SchedulingStore` backend passes.

Subclass :class:`SchedulingStoreConformance` and provide the ``scheduling_store`` fixture (an
empty store)::

    class TestMyScheduling(SchedulingStoreConformance):
        @pytest.fixture
        def scheduling_store(self) -> Iterator[SchedulingStore]:
            s = MyStore()
            yield s
            s.close()

Invariants checked are those of :mod:`airfoil.store._scheduling`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from airfoil.core.errors import ConfigError
from airfoil.core.resources import ResourceSpec
from airfoil.store._scheduling import ProjectQuota, QueuedItem, QueueSnapshot, SchedulingStore

__all__ = ["SchedulingStoreConformance", "make_quota", "make_snapshot"]


def make_quota(project: str = "vision", **changes: object) -> ProjectQuota:
    """A quota with every field set."""
    fields: dict[str, object] = {
        "project": project,
        "cpu": 8.5,
        "mem": 4 * 2**30,
        "gpu": 2,
        "priority": 3,
        "weight": 2.0,
        "borrow": False,
        "updated_at": 1_700_000_000.25,
    }
    fields.update(changes)
    return ProjectQuota(**fields)  # type: ignore[arg-type]


def make_snapshot(owner: str = "host:1:abc", n: int = 2, at: float = 1.5) -> QueueSnapshot:
    """A snapshot with every field set and ``n`` items (the first running)."""
    items = tuple(
        QueuedItem(
            execution_id=f"ex{i}",
            node_id=f"n{i}",
            project="vision" if i % 2 else "nlp",
            task="mod.train",
            requests=ResourceSpec(cpu=1.5, mem=2**30, gpu=1),
            state="running" if i == 0 else "waiting",
            submit_time=100.0 + i,
            priority=i,
            interruptible=bool(i % 2),
            reason="" if i == 0 else "waiting for 1 GPU",
            gpus=("0",) if i == 0 else (),
            estimate=12.5,
        )
        for i in range(n)
    )
    return QueueSnapshot(
        owner=owner,
        updated_at=at,
        policy="airfoil",
        capacity=ResourceSpec(cpu=16.0, mem=64 * 2**30, gpu=4),
        items=items,
    )


class SchedulingStoreConformance:
    """Tests of the scheduling store contract."""

    @pytest.fixture
    def scheduling_store(self) -> SchedulingStore:
        raise NotImplementedError("provide the scheduling_store fixture")

    # --- quotas -------------------------------------------------------------------------

    def test_quota_round_trip(self, scheduling_store: SchedulingStore) -> None:
        quota = make_quota()
        scheduling_store.put_quota(quota)
        assert scheduling_store.get_quota("vision") == quota
        assert scheduling_store.get_quota("nlp") is None

    def test_put_quota_replaces_whole_row(self, scheduling_store: SchedulingStore) -> None:
        scheduling_store.put_quota(make_quota())
        fresh = ProjectQuota(project="vision", gpu=1)
        scheduling_store.put_quota(fresh)
        assert scheduling_store.get_quota("vision") == fresh
        assert scheduling_store.list_quotas() == [fresh]

    def test_quotas_listed_by_project(self, scheduling_store: SchedulingStore) -> None:
        for name in ("zeta", "Alpha", "beta"):
            scheduling_store.put_quota(make_quota(name))
        assert [q.project for q in scheduling_store.list_quotas()] == ["Alpha", "beta", "zeta"]

    def test_delete_quota(self, scheduling_store: SchedulingStore) -> None:
        scheduling_store.put_quota(make_quota("a"))
        scheduling_store.put_quota(make_quota("b"))
        assert scheduling_store.delete_quota("a") is True
        assert scheduling_store.delete_quota("a") is False
        assert [q.project for q in scheduling_store.list_quotas()] == ["b"]

    # --- queue snapshots ------------------------------------------------------------------

    def test_snapshot_round_trip_and_replace(self, scheduling_store: SchedulingStore) -> None:
        first = make_snapshot("b:1:x", n=3)
        scheduling_store.put_queue_snapshot(first)
        scheduling_store.put_queue_snapshot(make_snapshot("a:2:y", n=0))
        assert [s.owner for s in scheduling_store.list_queue_snapshots()] == ["a:2:y", "b:1:x"]
        assert scheduling_store.list_queue_snapshots()[1] == first
        later = make_snapshot("b:1:x", n=1, at=9.0)
        scheduling_store.put_queue_snapshot(later)
        assert scheduling_store.list_queue_snapshots()[1] == later

    def test_delete_snapshot(self, scheduling_store: SchedulingStore) -> None:
        scheduling_store.put_queue_snapshot(make_snapshot("o"))
        scheduling_store.delete_queue_snapshot("o")
        scheduling_store.delete_queue_snapshot("never")
        assert scheduling_store.list_queue_snapshots() == []

    def test_concurrent_snapshot_writers_never_mix(self, scheduling_store: SchedulingStore) -> None:
        def write(i: int) -> None:
            scheduling_store.put_queue_snapshot(make_snapshot("same", n=i % 4, at=float(i)))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(40)))
        (snap,) = scheduling_store.list_queue_snapshots()
        assert snap == make_snapshot("same", n=int(snap.updated_at) % 4, at=snap.updated_at)

    # --- run times --------------------------------------------------------------------------

    def test_task_runtimes_newest_first_and_limited(
        self, scheduling_store: SchedulingStore
    ) -> None:
        for i, duration in enumerate((5.0, 7.5, 6.0, 9.25)):
            scheduling_store.record_task_runtime(
                "mod.train",
                execution_id=f"ex{i}",
                node_id="n0",
                attempt=1,
                duration=duration,
                ended_at=1000.0 + i,
            )
        scheduling_store.record_task_runtime(
            "mod.other", execution_id="ex9", node_id="n0", attempt=1, duration=1.0, ended_at=2e3
        )
        assert scheduling_store.task_runtimes("mod.train") == [9.25, 6.0, 7.5, 5.0]
        assert scheduling_store.task_runtimes("mod.train", limit=2) == [9.25, 6.0]
        assert scheduling_store.task_runtimes("mod.none") == []

    def test_recording_an_attempt_twice_keeps_one_row(
        self, scheduling_store: SchedulingStore
    ) -> None:
        for duration in (3.0, 4.0):
            scheduling_store.record_task_runtime(
                "t", execution_id="e", node_id="n", attempt=2, duration=duration, ended_at=5.0
            )
        assert scheduling_store.task_runtimes("t") == [4.0]

    def test_negative_limit_is_refused(self, scheduling_store: SchedulingStore) -> None:
        with pytest.raises(ConfigError):
            scheduling_store.task_runtimes("t", limit=-1)
