"""Two replicas' admission through one authority (two AuthorityQueues over one admission
store, as two server processes over one database): quotas, fair shares and GPU indices hold
across them; a dead holder is replaced within its lease and what it granted stays counted;
a clean close hands the authority over at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from airfoil.core.errors import StoreError
from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.engine._authority import AuthorityQueue
from airfoil.engine._resources import ResourceQueue
from airfoil.store._scheduling import ProjectQuota
from airfoil.store.admission import MemoryAdmissionStore
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.unit

LEASE = 0.6


def task(cpu: float = 1.0, gpu: int = 0) -> TaskSpec:
    return TaskSpec(
        name="m.train",
        version="v1",
        interface=Interface(),
        module="m",
        qualname="train",
        requests=ResourceSpec(cpu=cpu, gpu=gpu),
    )


class Cluster:
    """Replicas over one admission store and one metadata store."""

    def __init__(self, cpu: float = 4.0, gpus: int = 0) -> None:
        self.store = MemoryAdmissionStore()
        self.meta = MemoryMetaStore()
        self.cpu, self.gpus = cpu, gpus
        self.quota_refresh_s = 0.0
        self.replicas: list[AuthorityQueue] = []

    def replica(self, name: str) -> AuthorityQueue:
        def make() -> ResourceQueue:
            cap = ResourceSpec(cpu=self.cpu, mem=2**40, gpu=self.gpus)
            return ResourceQueue(
                cap, meta=self.meta, owner=name, quota_refresh_s=self.quota_refresh_s
            )

        q = AuthorityQueue(
            self.store, "machine:test", name, make, meta=self.meta, lease_s=LEASE, poll_s=0.01
        )
        self.replicas.append(q)
        return q

    def close(self) -> None:
        for q in self.replicas:
            q.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    yield c
    c.close()


def until(what: str, check: Callable[[], bool], timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.01)
    return time.monotonic() - start


class Loop:
    """What a drive loop keeps: the nodes it was granted (taken from its replica's queue)."""

    def __init__(self, queue: AuthorityQueue, execution_id: str) -> None:
        self.q, self.e = queue, execution_id
        self.running: list[str] = []

    def poll(self) -> list[str]:
        self.q.decide()
        granted, preempted = self.q.take(self.e)
        self.running += granted
        for n in preempted:
            self.running.remove(n)
        return self.running

    def end(self, node_id: str) -> None:
        self.running.remove(node_id)
        self.q.finish(self.e, node_id, succeeded=True, duration=1.0)


def die(q: AuthorityQueue) -> None:
    """Stop a replica as a SIGKILL would: its agent stops, nothing is given up or deleted."""
    q._stop.set()
    q._wake.set()
    q._agent.join(5)
    q.close = lambda: None  # type: ignore[method-assign]


def test_a_project_quota_holds_across_replicas(cluster: Cluster) -> None:
    cluster.cpu = 8.0
    cluster.meta.put_quota(ProjectQuota("p", cpu=2.0, borrow=False))
    a, b = cluster.replica("a"), cluster.replica("b")
    la, lb = Loop(a, "ea"), Loop(b, "eb")
    for i in range(3):
        a.submit("ea", f"n{i}", "p", task())
        b.submit("eb", f"n{i}", "p", task())
    until("two grants", lambda: len(la.poll()) + len(lb.poll()) == 2)
    time.sleep(0.3)  # nothing more starts: the quota is the project's, not each replica's
    assert len(la.poll()) + len(lb.poll()) == 2
    assert [a.holding, b.holding].count(True) == 1
    done = (la if la.running else lb).running[0]
    (la if done in la.running else lb).end(done)
    until("the freed CPU given", lambda: len(la.poll()) + len(lb.poll()) == 2)
    time.sleep(0.2)
    assert len(la.poll()) + len(lb.poll()) == 2


def test_gpu_indices_are_exclusive_across_replicas(cluster: Cluster) -> None:
    cluster.gpus = 2
    a, b = cluster.replica("a"), cluster.replica("b")
    la, lb = Loop(a, "ea"), Loop(b, "eb")
    for i in range(2):
        a.submit("ea", f"n{i}", "p", task(gpu=1))
        b.submit("eb", f"n{i}", "p", task(gpu=1))
    until("two grants", lambda: len(la.poll()) + len(lb.poll()) == 2)
    held = [a.gpus_of("ea", n) for n in la.running] + [b.gpus_of("eb", n) for n in lb.running]
    assert sorted(held) == [("0",), ("1",)]
    loop = la if la.running else lb
    freed = loop.q.gpus_of(loop.e, loop.running[0])
    loop.end(loop.running[0])
    until("the freed GPU given", lambda: len(la.poll()) + len(lb.poll()) == 2)
    held = [a.gpus_of("ea", n) for n in la.running] + [b.gpus_of("eb", n) for n in lb.running]
    assert sorted(held) == [("0",), ("1",)] and freed in held


def test_fair_shares_hold_across_replicas(cluster: Cluster) -> None:
    for project in ("p1", "p2"):  # half the machine each, borrowing what the other leaves
        cluster.meta.put_quota(ProjectQuota(project, cpu=2.0))
    a, b = cluster.replica("a"), cluster.replica("b")
    la, lb = Loop(a, "ea"), Loop(b, "eb")
    for i in range(8):  # p1 floods the 4 CPUs through replica a
        a.submit("ea", f"n{i}", "p1", task())
    until("p1 on every CPU", lambda: len(la.poll()) == 4)
    for i in range(4):  # then p2 asks through replica b
        b.submit("eb", f"n{i}", "p2", task())
    time.sleep(0.2)
    assert lb.poll() == []  # the cluster is full: b's replica does not admit on its own
    for n in list(la.running[:2]):
        la.end(n)
    # the freed CPUs go to p2 (below its share), not to p1's older waiting attempts, as
    # one process's queue decides
    until("p2 given its share", lambda: len(lb.poll()) == 2)
    time.sleep(0.2)
    assert (len(la.poll()), len(lb.poll())) == (2, 2)


def test_a_dead_authority_is_replaced_within_its_lease(cluster: Cluster) -> None:
    a = cluster.replica("a")
    until("a holds the authority", lambda: a.holding)
    b = cluster.replica("b")
    la, lb = Loop(a, "ea"), Loop(b, "eb")
    b.submit("eb", "x", "p", task(cpu=3.0))
    until("x granted by a", lambda: lb.poll() == ["x"])
    a.submit("ea", "y", "p", task(cpu=1.0))
    until("y granted", lambda: la.poll() == ["y"])
    b.submit("eb", "z", "p", task(cpu=1.0))
    time.sleep(0.1)
    assert lb.poll() == ["x"]  # z waits: x and y hold the 4 CPUs
    die(a)
    taken = until("b takes the authority", lambda: b.holding, timeout=3 * LEASE)
    assert taken <= LEASE * 4 / 3 + 0.25
    # a's attempt died with it: its request expires and z starts; x stays counted (adopted)
    until("z granted", lambda: lb.poll() == ["x", "z"], timeout=3 * LEASE)
    assert {i.node_id: i.state for i in b.snapshot().items} == {"x": "running", "z": "running"}
    # the queue view is the new holder's alone: the dead holder's snapshot went with it
    assert [s.owner for s in cluster.meta.list_queue_snapshots()] == ["b"]
    b.submit("eb", "w", "p", task(cpu=1.0))
    time.sleep(0.2)
    assert lb.poll() == ["x", "z"]  # x (3 CPUs, granted by a) still counts
    lb.end("x")
    until("w granted", lambda: lb.poll() == ["z", "w"])


def test_a_clean_close_hands_the_authority_over(cluster: Cluster) -> None:
    a = cluster.replica("a")
    until("a holds the authority", lambda: a.holding)
    b = cluster.replica("b")
    time.sleep(0.05)
    a.close()
    took = until("b takes over", lambda: b.holding, timeout=2 * LEASE)
    assert took <= LEASE / 3 + 0.2  # at b's next try, not at the lease's end


def test_requests_taken_for_dead_are_put_back_as_they_are(cluster: Cluster) -> None:
    a = cluster.replica("a")
    until("a holds the authority", lambda: a.holding)
    b = cluster.replica("b")
    lb = Loop(b, "eb")
    b.submit("eb", "x", "p", task(cpu=3.0))
    until("x granted", lambda: lb.poll() == ["x"])
    b.submit("eb", "y", "p", task(cpu=3.0))
    # b's requests vanish (as if b had missed renewing them for twice the lease)
    cluster.store.delete_requests(
        "machine:test", [(r.item_id, r.ticket) for r in cluster.store.requests("machine:test", "b")]
    )
    until("put back", lambda: len(cluster.store.requests("machine:test", "b")) == 2)
    states = {r.item_id: r.state for r in cluster.store.requests("machine:test", "b")}
    assert states == {"eb/x": "running", "eb/y": "waiting"}  # x is counted, not re-granted
    time.sleep(0.3)
    assert lb.poll() == ["x"]  # y still waits for x's CPUs
    lb.end("x")
    until("y granted", lambda: lb.poll() == ["y"])


def test_preemption_reaches_the_replica_that_runs_the_attempt(cluster: Cluster) -> None:
    for project in ("p1", "p2"):
        cluster.meta.put_quota(ProjectQuota(project, cpu=2.0))
    a, b = cluster.replica("a"), cluster.replica("b")
    la, lb = Loop(a, "ea"), Loop(b, "eb")
    interruptible = msgspec.structs.replace(task(), interruptible=True)
    for i in range(4):  # p1 borrows the whole machine through replica a
        a.submit("ea", f"n{i}", "p1", interruptible)
    until("p1 on every CPU", lambda: len(la.poll()) == 4)
    time.sleep(0.3)  # some service attained
    for i in range(2):  # p2's guaranteed share, asked through replica b
        b.submit("eb", f"m{i}", "p2", task())
    # the policy takes back what p1 borrowed: a's loop is told to stop two attempts
    until("two of p1 preempted", lambda: len(la.poll()) == 2)
    stopped = sorted({f"n{i}" for i in range(4)} - set(la.running))
    until("p2 given its share", lambda: len(lb.poll()) == 2)
    rows = {r.item_id: r for r in cluster.store.requests("machine:test")}
    for node in stopped:
        row = rows[f"ea/{node}"]
        assert row.state == "preempted"
        assert msgspec.json.decode(row.item)["attained"] > 0  # its service carries over
        a.submit("ea", node, "p1", interruptible)  # the retry queues it again: it waits
    time.sleep(0.3)
    assert (len(la.poll()), len(lb.poll())) == (2, 2)
    assert {r.item_id: r.state for r in cluster.store.requests("machine:test", "a")} == {
        **{f"ea/{n}": "running" for n in la.running},
        **{f"ea/{n}": "waiting" for n in stopped},
    }


class FlakyStore(MemoryAdmissionStore):
    """An admission store whose database can be taken away."""

    down = False

    def claim_authority(self, *args: Any) -> Any:
        if self.down:
            raise StoreError("the database is away")
        return super().claim_authority(*args)

    def requests(self, *args: Any) -> Any:
        if self.down:
            raise StoreError("the database is away")
        return super().requests(*args)


def test_a_database_outage_is_logged_once_and_admission_resumes(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    store = cluster.store = FlakyStore()
    a = cluster.replica("a")
    until("a holds the authority", lambda: a.holding)
    la = Loop(a, "ea")
    store.down = True
    a.submit("ea", "x", "p", task())
    time.sleep(0.5)  # tens of failed cycles
    assert la.poll() == []
    failed = [r for r in caplog.records if "failed a cycle" in r.getMessage()]
    assert len(failed) == 1, failed
    store.down = False
    until("x granted once the database is back", lambda: la.poll() == ["x"])
    # the agent logs its recovery once the cycle that granted x has returned: after the grant
    until(
        "the recovery logged", lambda: any("works again" in r.getMessage() for r in caplog.records)
    )


def test_a_quota_set_just_before_a_launch_holds_for_its_first_decision(cluster: Cluster) -> None:
    cluster.quota_refresh_s = 2.0  # the server's: quotas are re-read every 2 s
    a = cluster.replica("a")
    la = Loop(a, "ea")
    a.submit("ea", "warm", "p", task())  # the holder's policy has read the quotas (none)
    until("warm granted", lambda: la.poll() == ["warm"])
    la.end("warm")
    cluster.meta.put_quota(ProjectQuota("p", cpu=1.0, borrow=False))
    for i in range(2):
        a.submit("ea", f"n{i}", "p", task())
    until("one granted", lambda: len(la.poll()) == 1)
    time.sleep(0.3)
    assert len(la.poll()) == 1  # the quota counted at once, not 2 s later


def test_take_is_written_once() -> None:
    """The authority's replicas and the in-process queue hand their decisions out through one
    ``take`` (it was written twice, adv21)."""
    from airfoil.engine._authority import AuthorityQueue
    from airfoil.engine._resources import Outcomes, ResourceQueue

    assert AuthorityQueue.take is ResourceQueue.take is Outcomes.take
