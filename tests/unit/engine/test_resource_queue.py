"""The process-wide resource queue on its own: grants with GPU indices, quotas and
priorities from the store, preemption handed to the owning execution, run-time history
from the store, snapshots with reasons, and the launch-time check."""

from __future__ import annotations

import pytest

from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import LOCAL_RESOURCES_KEY, ResourceSpec
from airfoil.engine._resources import ResourceQueue, asks_for_resources
from airfoil.store._scheduling import ProjectQuota
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.unit

GIB = 2**30


def task(name: str = "m.train", gpu: int = 1, cpu: float = 1.0, **kw: object) -> TaskSpec:
    return TaskSpec(
        name=name,
        version="v1",
        interface=Interface(),
        module="m",
        qualname=name,
        requests=ResourceSpec(cpu=cpu, mem=GIB, gpu=gpu),
        **kw,  # type: ignore[arg-type]
    )


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_queue(meta: MemoryMetaStore | None = None, gpus: int = 4) -> tuple[ResourceQueue, Clock]:
    clock = Clock()
    cap = ResourceSpec(cpu=16.0, mem=64 * GIB, gpu=gpus)
    q = ResourceQueue(
        cap, [str(i) for i in range(gpus)], meta=meta, owner="me", clock=clock, quota_refresh_s=0
    )
    return q, clock


def test_only_tasks_that_ask_for_something_use_the_queue() -> None:
    assert asks_for_resources(task(gpu=1, cpu=0))
    assert asks_for_resources(task(gpu=0, cpu=0.5))
    nothing = TaskSpec(name="t", version="v", interface=Interface(), module="m", qualname="t")
    assert not asks_for_resources(nothing)
    assert not asks_for_resources(None)


def test_grants_go_to_their_execution_with_exclusive_gpu_indices() -> None:
    q, _ = make_queue()
    q.submit("e1", "n0", "p", task())
    q.submit("e1", "n1", "p", task())
    q.submit("e2", "n0", "p", task(gpu=2))
    q.decide()
    assert sorted(q.take("e1")[0]) == ["n0", "n1"] and q.take("e2")[0] == ["n0"]
    assert q.take("e1") == ([], [])  # each grant is handed out once
    held = [q.gpus_of("e1", "n0"), q.gpus_of("e1", "n1"), q.gpus_of("e2", "n0")]
    assert [len(g) for g in held] == [1, 1, 2]
    assert sorted(g for gpus in held for g in gpus) == ["0", "1", "2", "3"]
    # A 2-GPU request waits, then gets exactly the indices the 2-GPU attempt gave back.
    q.submit("e1", "n2", "p", task(gpu=2))
    q.decide()
    assert q.take("e1") == ([], [])
    q.finish("e2", "n0", succeeded=True, duration=1.0)
    q.decide()
    assert q.take("e1")[0] == ["n2"]
    assert q.gpus_of("e1", "n2") == held[2]


def test_a_hard_quota_caps_a_project_and_the_reason_says_so() -> None:
    meta = MemoryMetaStore()
    meta.put_quota(ProjectQuota("small", gpu=1, borrow=False))
    q, _ = make_queue(meta)
    for i in range(3):
        q.submit("e1", f"n{i}", "small", task())
    q.decide()
    granted, _ = q.take("e1")
    assert len(granted) == 1
    snap = meta.list_queue_snapshots()[0]
    waiting = [i for i in snap.items if i.state == "waiting"]
    assert len(waiting) == 2 and all("quota" in i.reason and "small" in i.reason for i in waiting)
    assert [i.gpus for i in snap.items if i.state == "running"] == [("0",)]


def test_priorities_come_from_the_store() -> None:
    meta = MemoryMetaStore()
    meta.put_quota(ProjectQuota("urgent", priority=5))
    q, _ = make_queue(meta, gpus=1)
    q.submit("e1", "n0", "urgent", task())
    snap = q.snapshot()
    assert snap.items[0].priority == 5


def test_preemption_is_handed_to_the_owner_and_the_retry_keeps_its_place() -> None:
    meta = MemoryMetaStore()
    meta.put_quota(ProjectQuota("owner", gpu=2))
    q, clock = make_queue(meta, gpus=2)
    hog = task("m.hog", interruptible=True)
    q.submit("h", "a", "hog", hog)
    q.submit("h", "b", "hog", hog)
    q.decide()
    assert sorted(q.take("h")[0]) == ["a", "b"]
    clock.t += 10
    q.submit("o", "x", "owner", task("m.own"))
    q.decide()
    granted, preempted = q.take("h")
    assert granted == [] and len(preempted) == 1
    assert q.take("o")[0] == ["x"]
    # The preempted node is queued again by its retry; it keeps its first submit time.
    (victim,) = preempted
    q.submit("h", victim, "hog", hog)
    item = next(i for i in q.snapshot().items if i.node_id == victim)
    assert item.state == "waiting" and item.submit_time == 1000.0


def test_estimates_are_the_median_of_the_tasks_history_in_the_store() -> None:
    meta = MemoryMetaStore()
    for i, d in enumerate((10.0, 30.0, 20.0)):
        meta.record_task_runtime(
            "m.train", execution_id=f"old{i}", node_id="n", attempt=1, duration=d, ended_at=i
        )
    q, _ = make_queue(meta, gpus=0)
    q.submit("e", "n0", "p", task(gpu=0))
    q.submit("e", "n1", "p", task("m.new", gpu=0))
    est = {i.node_id: i.estimate for i in q.snapshot().items}
    assert est == {"n0": 20.0, "n1": 3600.0}  # no history: the documented default
    q.decide()
    q.finish("e", "n0", succeeded=True, attempt=1, duration=50.0)
    assert meta.task_runtimes("m.train") == [50.0, 20.0, 30.0, 10.0]


def test_forget_releases_everything_of_an_execution() -> None:
    meta = MemoryMetaStore()
    q, _ = make_queue(meta, gpus=1)
    q.submit("e", "n0", "p", task())
    q.submit("e", "n1", "p", task())
    q.decide()
    q.forget("e")
    assert q.snapshot().items == ()
    assert meta.list_queue_snapshots()[0].items == ()
    q.submit("f", "n0", "p", task())
    q.decide()
    assert q.take("f")[0] == ["n0"] and q.gpus_of("f", "n0") == ("0",)
    q.close()
    assert meta.list_queue_snapshots() == []


def test_a_request_larger_than_the_machine_fails_the_check() -> None:
    q, _ = make_queue(gpus=2)
    with pytest.raises(UnschedulableTaskError, match=r"gpu=3.*at most cpu=16, mem=65536Mi, gpu=2"):
        q.check(task(gpu=3), "n0", "p")
    q.check(task(gpu=2), "n0", "p")


HINTS = {LOCAL_RESOURCES_KEY: "best_effort"}


def test_a_local_run_admits_a_hinted_request_with_what_the_machine_has() -> None:
    # flytekit-style tasks: a local run (no GPU here) runs them, warning once per task
    cap = ResourceSpec(cpu=16.0, mem=64 * GIB, gpu=0)
    q = ResourceQueue(cap, [], owner="me", quota_refresh_s=0, local_run=True)
    hinted = task(gpu=1, cpu=32.0, config=HINTS)
    with pytest.warns(UserWarning, match=r"'m.train' requests cpu=32, mem=1024Mi, gpu=1.*not "):
        q.check(hinted, "n0", "p")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per task, not one per attempt
        q.check(hinted, "n1", "p")
        q.submit("e1", "n0", "p", hinted)
    q.decide()
    assert q.take("e1")[0] == ["n0"] and q.gpus_of("e1", "n0") == ()
    q.close()


def test_hints_apply_only_to_marked_tasks_on_a_local_run() -> None:
    cap = ResourceSpec(cpu=16.0, mem=64 * GIB, gpu=0)
    local = ResourceQueue(cap, [], owner="me", quota_refresh_s=0, local_run=True)
    with pytest.raises(UnschedulableTaskError, match="gpu=1"):
        local.check(task(gpu=1), "n0", "p")  # Airfoil's own tasks: as strict as before
    server = ResourceQueue(cap, [], owner="me", quota_refresh_s=0)
    with pytest.raises(UnschedulableTaskError, match="gpu=1"):
        server.check(task(gpu=1, config=HINTS), "n0", "p")  # a server honours requests
