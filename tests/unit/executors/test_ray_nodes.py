"""The ray executor's view of the cluster's nodes and its room-making on a placed node, on a
fake of Ray's node list (no Ray is started): nodes are read from ``ray.nodes()`` into
``ClusterNode`` records (capacity, custom resources, head, alive) and cached briefly; idle
warm workers sitting on what the policy gave an attempt on its node are stopped, least
recently used first, and only as many as needed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.executors._ray_pool import Worker
from airfoil.executors.base import AttemptRequest
from airfoil.executors.ray import RayExecutor, environment_key

pytestmark = pytest.mark.unit

GIB = 2**30


def ray_node(
    node_id: str, alive: bool = True, custom: dict[str, float] | None = None, **res: float
) -> dict[str, Any]:
    """A node as ``ray.nodes()`` lists it; ``custom``: resources whose names are no
    identifiers (``node:__internal_head__``, ``accelerator_type:T4``)."""
    return {
        "NodeID": node_id,
        "Alive": alive,
        "NodeManagerAddress": "10.0.0.1",
        "Resources": {"memory": 8.0 * GIB, "object_store_memory": 1e8, f"node:{node_id}": 1.0}
        | res
        | (custom or {}),
    }


class FakeRay:
    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.node_list = nodes
        self.reads = 0
        self.killed: list[str] = []

    def nodes(self) -> list[dict[str, Any]]:
        self.reads += 1
        return self.node_list

    def kill(self, handle: str, no_restart: bool = True) -> None:
        self.killed.append(handle)


def executor(ray: FakeRay) -> RayExecutor:
    ex = RayExecutor("memory://", runtime=lambda: None)  # type: ignore[arg-type, return-value]
    ex._ray = ray
    return ex


def request(name: str, cpu: float, placement: tuple[str, ...] = (), **kw: Any) -> AttemptRequest:
    task = TaskSpec(
        name=name, version="v", interface=Interface(), module="m", qualname=name,
        requests=ResourceSpec(cpu=cpu), **kw,
    )  # fmt: skip
    return AttemptRequest("e", name, 1, task, {}, "memory://", placement=placement)


def idle(ex: RayExecutor, handle: str, req: AttemptRequest, used: float) -> None:
    ex._idle.append(Worker(handle=handle, key=environment_key(req), last_used=used))


def test_nodes_are_read_into_records_and_cached() -> None:
    ray = FakeRay(
        [
            ray_node("h", CPU=0.0, custom={"node:__internal_head__": 1.0}),
            ray_node("g", CPU=1.0, GPU=1.0, custom={"accelerator_type:T4": 1.0}),
            ray_node("x", alive=False, CPU=2.0),
        ]
    )
    ex = executor(ray)
    nodes = ex.cluster_nodes()
    assert [(n.name, n.alive, n.head) for n in nodes] == [
        ("h", True, True),
        ("g", True, False),
        ("x", False, False),
    ]
    g = nodes[1]
    assert g.capacity == ResourceSpec(cpu=1.0, mem=8 * GIB, gpu=1)
    assert g.custom == {"accelerator_type:T4": 1.0}
    ex.cluster_nodes()
    assert ray.reads == 1, "read once within the cache's lifetime"


def test_idle_workers_on_the_placed_node_make_room_oldest_first_and_no_more() -> None:
    ex = executor(FakeRay([ray_node("a", CPU=4.0), ray_node("b", CPU=4.0)]))
    idle(ex, "old-a", request("t1", 1.0, ("a",)), used=1.0)
    idle(ex, "new-a", request("t2", 1.0, ("a",)), used=2.0)
    idle(ex, "mid-a", request("t3", 1.0, ("a",)), used=1.5)
    idle(ex, "on-b", request("t4", 2.0, ("b",)), used=0.0)
    idle(ex, "free", request("t5", 0.0), used=0.0)  # asks nothing: holds nothing
    ex._free_room(request("big", 2.0, ("a",)))  # 4 - 3 idle = 1 free: one must go
    assert ex._ray.killed == ["old-a"]
    ex._free_room(request("small", 1.0, ("b",)))  # b has 2 free: nothing to stop
    assert ex._ray.killed == ["old-a"]


def test_a_gang_makes_room_for_each_rank_on_its_nodes() -> None:
    ex = executor(FakeRay([ray_node("a", CPU=2.0), ray_node("b", CPU=2.0)]))
    idle(ex, "on-a", request("t1", 1.0, ("a",)), used=1.0)
    idle(ex, "on-b", request("t2", 1.0, ("b",)), used=1.0)
    config = {"gang": True, "workers": 2, "cpu": 2.0, "mem": 0, "gpu": 0}
    gang = request("train", 4.0, ("a", "b"), config=config)
    ex._free_room(gang)
    assert sorted(ex._ray.killed) == ["on-a", "on-b"]


def test_a_closed_executor_answers_with_the_last_list_it_read() -> None:
    ray = FakeRay([ray_node("a", CPU=2.0)])
    ex = executor(ray)
    assert [n.name for n in ex.cluster_nodes()] == ["a"]
    ex._closed = True  # as after close(): its Ray connection may be shut down
    ex._nodes = (0.0, ex._nodes[1]) if ex._nodes else None  # long past the cache's lifetime
    ray.node_list = []
    assert [n.name for n in ex.cluster_nodes()] == ["a"] and ray.reads == 1


def test_an_unplaced_attempt_goes_softly_near_its_inputs_and_a_lost_node_is_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Data locality for attempts the policy does not place (they ask for nothing): a soft
    node affinity to the node caching their inputs, and an idle warm worker there first."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from airfoil.core.records import Value
    from airfoil.executors import _ray_placement
    from airfoil.executors import ray as ray_module
    from airfoil.executors._blob_cache import BlobLocality, FetchReport

    a, b = "a" * 56, "b" * 56  # node ids as Ray writes them (hex)
    index = BlobLocality()
    monkeypatch.setattr(ray_module, "LOCALITY", index)
    monkeypatch.setattr(_ray_placement, "LOCALITY", index)
    fake = FakeRay([ray_node(a, CPU=2.0), ray_node(b, CPU=2.0)])
    ex = executor(fake)
    uri = "s3://bucket/values/ab/abc"
    big = Value(hash="abc", format="bytes", uri=uri, size=50 * 2**20)
    plain = request("t", 0.0)
    near = msgspec.structs.replace(plain, inputs={"data": big})
    assert ex._node_strategy(near) is None  # nobody caches it yet: Ray places it
    index.record(FetchReport(node=b, held={uri: 50 * 2**20}))
    assert ex.preferred_nodes(near.inputs) == (b,)
    strategy = ex._node_strategy(near)
    assert isinstance(strategy, NodeAffinitySchedulingStrategy)
    assert (strategy.node_id, strategy.soft) == (b, True)
    assert ex._node_strategy(plain) is None  # no offloaded input: no preference
    idle(ex, "on-a", plain, used=2.0)  # the most recently used
    idle(ex, "on-b", plain, used=1.0)
    ex._idle[0].node, ex._idle[1].node = a, b
    chosen = ex._idle_worker(near)
    assert chosen is not None and chosen.handle == "on-b"
    fake.node_list = [ray_node(a, CPU=2.0), ray_node(b, alive=False, CPU=2.0)]
    ex._nodes = None
    ex.cluster_nodes()  # b left: its cache with it
    assert ex.preferred_nodes(near.inputs) == ()


def gpu_request(name: str, node: str) -> AttemptRequest:
    task = TaskSpec(
        name=name, version="v", interface=Interface(), module="m", qualname=name,
        requests=ResourceSpec(gpu=1),
    )  # fmt: skip
    return AttemptRequest("e", name, 1, task, {}, "memory://", placement=(node,))


def test_a_waiting_worker_stops_another_executors_idle_worker_on_an_over_held_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two executors of one process (a server's slots), one fake cluster of two 1-GPU nodes.
    The policy gave node a's GPU to executor 2 after executor 1's attempt there ended; executor
    1's warm worker still holds it in Ray. Once executor 2's new worker has waited, that idle
    worker is stopped (and executor 1 forgets it, never reusing it); an idle worker on a node
    with room is left warm."""
    from airfoil.executors import ray as ray_module
    from airfoil.executors._ray_idle import WorkerHoldings

    holdings = WorkerHoldings()
    monkeypatch.setattr(ray_module, "HOLDINGS", holdings)
    fake = FakeRay([ray_node("a", CPU=2.0, GPU=1.0), ray_node("b", CPU=2.0, GPU=1.0)])
    one, two = executor(fake), executor(fake)
    on_a, on_b = gpu_request("t", "a"), gpu_request("t", "b")
    for ex, handle, req in ((one, "one-a", on_a), (one, "one-b", on_b)):
        w = Worker(handle=handle, key=environment_key(req), node=req.placement[0])
        holdings.started(w, ex._token, w.node, (0.0, 0.0, 1.0))
        holdings.idle(w, 1.0)
        ex._idle.append(w)
    waiting = Worker(handle="two-a", key=environment_key(on_a), node="a", room_at=0.5)
    holdings.started(waiting, two._token, "a", (0.0, 0.0, 1.0))
    two._starting.append(waiting)
    assert two._next_wake(0.2) == 0.5  # it waits on an over-held node: look then

    two._make_room(0.1)  # not yet waited long enough
    assert fake.killed == []
    two._make_room(0.6)
    assert fake.killed == ["one-a"], "the idle worker holding node a's GPU was stopped"
    assert two._next_wake(0.7) is None  # node a is no longer over-held
    two._make_room(1.2)
    assert fake.killed == ["one-a"], "node b has room: its idle worker stays warm"
    # Executor 1 never reuses the worker taken from it, and keeps the other one.
    assert one._idle_worker(on_a) is None
    one._drop_taken()
    assert [w.handle for w in one._idle] == ["one-b"]
    reused = one._idle_worker(on_b)
    assert reused is not None and reused.handle == "one-b"


def test_the_holdings_registry_takes_own_idle_workers_first_and_only_what_is_short() -> None:
    from airfoil.executors._ray_idle import WorkerHoldings

    h = WorkerHoldings()
    me, other = object(), object()
    mine, theirs, cpu_only, waiting = "mine", "theirs", "cpu-only", "waiting"
    h.started(theirs, other, "a", (0.0, 0.0, 1.0))
    h.idle(theirs, 1.0)  # the least recently used
    h.started(mine, me, "a", (0.0, 0.0, 1.0))
    h.idle(mine, 2.0)
    h.started(cpu_only, other, "a", (1.0, 0.0, 0.0))
    h.idle(cpu_only, 0.5)
    h.started(waiting, me, "a", (0.0, 0.0, 1.0))
    cap = (4.0, 0.0, 2.0)  # 3 GPUs held on a 2-GPU node; CPUs are not short
    assert h.over_held("a", cap, me)
    assert h.take("a", cap, me) == mine, "its own first, though another's idled longer"
    assert not h.over_held("a", cap, me) and h.take("a", cap, me) is None
    assert h.claim(theirs), "not taken: its owner may reuse it"
    assert not h.was_taken(cpu_only)
    h.started("more", other, "a", (0.0, 0.0, 1.0))  # over-held again, nothing idle with a GPU
    assert h.take("a", cap, me) is None
    h.idle(theirs, 3.0)
    assert h.take("a", cap, me) == theirs
    assert h.was_taken(theirs) and not h.was_taken(theirs)  # told once
    h.idle(cpu_only, 4.0)
    assert h.take("", None, me) is None, "a worker Ray places stops only its own's idle ones"
    assert h.take("", None, other) == cpu_only
    h.started("again", other, "a", (1.0, 0.0, 0.0))
    h.idle("again", 5.0)
    h.drop_owner(other)
    assert h.take("", None, other) is None, "a closed executor's workers are forgotten"


def test_a_worker_asking_for_gpus_only_holds_no_cpu_in_ray() -> None:
    """Ray gives an actor that asks for any resource 1 CPU for its lifetime unless told
    otherwise; the policy counts none for a GPU-only task, so its worker must ask for 0 CPUs
    (a GPU task's idle or busy worker held the only CPU of a 1-CPU GPU node that the policy
    had given to CPU work). A worker asking for nothing keeps Ray's defaults."""
    asked: list[dict[str, Any]] = []

    class Handle:
        class ready:  # Ray's method handle
            @staticmethod
            def remote() -> str:
                return "ready-ref"

    class ActorClass:
        def options(self, **options: Any) -> ActorClass:
            asked.append(options)
            return self

        def remote(self, *args: Any) -> Handle:
            return Handle()

    g = "c" * 56  # a node id as Ray writes it (hex)
    ex = executor(FakeRay([ray_node(g, CPU=1.0, GPU=1.0)]))
    ex._actor_cls = ActorClass()
    ex._start_worker(gpu_request("on_gpu", g))
    ex._start_worker(request("plain", 0.0))
    assert asked[0]["num_cpus"] == 0 and asked[0]["num_gpus"] == 1
    assert "num_cpus" not in asked[1]
