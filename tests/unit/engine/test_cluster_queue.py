"""The resource queue over a cluster's real nodes (a fake node list, as an executor reports
it): the policy's placement travels with each grant, gangs are placed worker by worker on
whole nodes, nodes joining and leaving are seen at the next decision, a request no node can
hold is refused at launch naming the nodes, and the snapshot says what runs where."""

from __future__ import annotations

import pytest

from airfoil.core.cluster import ClusterNode
from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.engine._resources import ResourceQueue, work_shape
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.unit

GIB = 2**30


def task(name: str, cpu: float = 1.0, gpu: int = 0, **kw: object) -> TaskSpec:
    return TaskSpec(
        name=name,
        version="v1",
        interface=Interface(),
        module="m",
        qualname=name,
        requests=ResourceSpec(cpu=cpu, mem=GIB, gpu=gpu),
        **kw,  # type: ignore[arg-type]
    )


def gang(name: str, workers: int, cpu: float) -> TaskSpec:
    """A training task as ``@af.training_task`` declares it: requests are the total."""
    config = {"workers": workers, "cpu": cpu, "mem": 0, "gpu": 0, "gang": True}
    return task(name, cpu=cpu * workers, config=config)


def node(name: str, cpu: float = 2.0, gpu: int = 0, alive: bool = True) -> ClusterNode:
    return ClusterNode(
        name, address=f"10.0.0.{name[-1]}", alive=alive,
        capacity=ResourceSpec(cpu=cpu, mem=8 * GIB, gpu=gpu),
    )  # fmt: skip


class Cluster:
    """A fake node list; ``calls`` counts reads."""

    def __init__(self, *nodes: ClusterNode) -> None:
        self.nodes = list(nodes)
        self.calls = 0

    def __call__(self) -> list[ClusterNode]:
        self.calls += 1
        return list(self.nodes)


def make(cluster: Cluster, meta: MemoryMetaStore | None = None) -> ResourceQueue:
    return ResourceQueue(
        ResourceSpec(), meta=meta, owner="me", quota_refresh_s=0, cluster=cluster,
        default_estimate_s=60.0,
    )  # fmt: skip


def test_a_gpu_task_is_placed_on_the_gpu_node_and_the_cluster_picks_the_gpu() -> None:
    q = make(Cluster(node("n1", cpu=4), node("n2", cpu=1, gpu=1)))
    assert q.capacity == ResourceSpec(cpu=5.0, mem=16 * GIB, gpu=1)
    q.submit("e", "gpu", "p", task("g", gpu=1))
    q.submit("e", "cpu", "p", task("c", cpu=3))
    q.decide()
    assert sorted(q.take("e")[0]) == ["cpu", "gpu"]
    assert q.placement_of("e", "gpu") == ("n2",)
    assert q.placement_of("e", "cpu") == ("n1",)
    assert q.gpus_of("e", "gpu") == ()  # Ray numbers the GPUs on the node it was told


def test_a_gang_waits_whole_while_small_work_runs_then_takes_whole_nodes() -> None:
    q = make(Cluster(node("n1"), node("n2"), node("n3", cpu=1)))
    assert work_shape(gang("t", 2, 2.0)) == (ResourceSpec(cpu=2.0), 2)
    q.submit("e", "small0", "p", task("s", cpu=1))
    q.decide()
    assert q.take("e")[0] == ["small0"]
    q.submit("e", "train", "p", gang("t", 2, 2.0))
    for i in range(1, 3):
        q.submit("e", f"small{i}", "p", task("s", cpu=1))
    q.decide()
    granted = q.take("e")[0]
    assert "train" not in granted and granted, "small work runs while the gang waits"
    waiting = {i.node_id: i for i in q.snapshot().items if i.state == "waiting"}
    assert waiting["train"].reason and waiting["train"].workers == 2
    for nid in ["small0", *granted]:
        q.finish("e", nid)
    q.decide()
    assert "train" in q.take("e")[0]
    placement = q.placement_of("e", "train")
    assert sorted(placement) == ["n1", "n2"], "one whole 2-CPU node per rank"


def test_nodes_joining_and_leaving_are_seen_at_the_next_decision() -> None:
    cluster = Cluster(node("n1", cpu=1))
    q = make(cluster)
    for i in range(3):
        q.submit("e", f"i{i}", "p", task("s", cpu=1))
    q.decide()
    assert q.take("e")[0] == ["i0"]
    cluster.nodes.append(node("n2", cpu=2))  # a node joins
    q.decide()
    assert sorted(q.take("e")[0]) == ["i1", "i2"]
    assert q.placement_of("e", "i1") == ("n2",)
    cluster.nodes[1] = node("n2", cpu=2, alive=False)  # ...and is lost with two attempts
    q.submit("e", "i3", "p", task("s", cpu=1))
    q.finish("e", "i1")  # its attempt was lost: its room there is not given back
    q.decide()
    assert q.take("e")[0] == []
    snap = q.snapshot()
    by_name = {n.node.name: n for n in snap.nodes}
    assert not by_name["n2"].node.alive and by_name["n2"].running == ("e/i2",)
    assert by_name["n2"].used.cpu == 1.0, "what drains there is still held"
    assert by_name["n1"].running == ("e/i0",) and by_name["n1"].used.cpu == 1.0
    assert snap.capacity.cpu == 1.0
    q.finish("e", "i0")
    q.decide()
    assert q.take("e")[0] == ["i3"] and q.placement_of("e", "i3") == ("n1",)


def test_a_request_no_node_can_hold_is_refused_at_launch_naming_the_nodes() -> None:
    q = make(Cluster(node("n1", cpu=2), node("n2", cpu=2)))
    with pytest.raises(UnschedulableTaskError, match=r"no node of the cluster.*10\.0\.0\.1"):
        q.check(task("big", cpu=3), "big", "p")  # 4 CPUs in all, but 2 per node
    with pytest.raises(UnschedulableTaskError, match="on 3 workers"):
        q.check(gang("t", 3, 2.0), "t", "p")
    q.check(gang("t", 2, 2.0), "t", "p")


def test_a_failing_node_list_keeps_the_last_one_and_snapshots_carry_the_nodes() -> None:
    cluster = Cluster(node("n1"))
    meta = MemoryMetaStore()
    q = make(cluster, meta)
    q.submit("e", "a", "p", task("s", cpu=1))

    def broken() -> list[ClusterNode]:
        raise ConnectionError("the head is away")

    q.cluster = broken
    q.decide()
    assert q.take("e")[0] == ["a"] and q.placement_of("e", "a") == ("n1",)
    q.persist()
    (snap,) = meta.list_queue_snapshots()
    assert [n.node.name for n in snap.nodes] == ["n1"]
    assert snap.nodes[0].running == ("e/a",)
    assert [i.placement for i in snap.items] == [("n1",)]


def test_a_queue_over_one_machine_places_nothing() -> None:
    q = ResourceQueue(ResourceSpec(cpu=4.0, mem=4 * GIB, gpu=1), ["0"], owner="me")
    q.submit("e", "a", "p", task("g", gpu=1))
    q.decide()
    assert q.take("e")[0] == ["a"]
    assert q.placement_of("e", "a") == () and q.gpus_of("e", "a") == ("0",)
    assert q.snapshot().nodes == ()


def test_a_gang_on_one_machine_gets_a_gpu_index_per_worker() -> None:
    q = ResourceQueue(ResourceSpec(cpu=8.0, mem=8 * GIB, gpu=4), ["0", "1", "2", "3"], owner="me")
    config = {"workers": 2, "cpu": 1.0, "mem": 0, "gpu": 2, "gang": True}
    q.submit("e", "ddp", "p", task("t", cpu=2.0, gpu=4, config=config))
    q.decide()
    assert q.take("e")[0] == ["ddp"]
    assert q.gpus_of("e", "ddp") == ("0", "1", "2", "3")
    (item,) = q.snapshot().items
    assert (item.workers, item.requests.gpu) == (2, 2)


def test_a_preferred_node_carries_into_the_placement_softly() -> None:
    """The executor's preference (the node caching the inputs) decides among nodes with
    room; a queue over one machine ignores it."""
    q = make(Cluster(node("n1", cpu=4), node("n2", cpu=4)))
    q.submit("e", "a", "p", task("a", cpu=1), prefer=("n2",))
    q.submit("e", "b", "p", task("b", cpu=4), prefer=("n2",))  # n2 has 3 left: n1
    q.decide()
    assert sorted(q.take("e")[0]) == ["a", "b"]
    assert (q.placement_of("e", "a"), q.placement_of("e", "b")) == (("n2",), ("n1",))
