"""The cluster view from queue snapshots (and the live node list): nodes merged across the
processes admitting on one cluster (their holdings summed), a node that left shown while
work drains there and dropped after, a process on its own machine shown as one node, and the
queue with waiting attempts first."""

from __future__ import annotations

import pytest

from airfoil.core.cluster import ClusterNode
from airfoil.core.resources import ResourceSpec
from airfoil.engine.cluster_view import cluster_view
from airfoil.store._scheduling import NodeUsage, QueuedItem, QueueSnapshot

pytestmark = pytest.mark.unit


def node(name: str, cpu: float = 2.0, alive: bool = True, head: bool = False) -> ClusterNode:
    return ClusterNode(name, f"10.0.0.{len(name)}", alive, ResourceSpec(cpu=cpu), head=head)


def item(nid: str, state: str, at: float, placement: tuple[str, ...] = ()) -> QueuedItem:
    return QueuedItem(
        execution_id="e", node_id=nid, project="p", task="t", requests=ResourceSpec(cpu=1.0),
        state=state, submit_time=at, placement=placement,
    )  # fmt: skip


def snap(owner: str, nodes: tuple[NodeUsage, ...], *items: QueuedItem) -> QueueSnapshot:
    return QueueSnapshot(owner, 1.0, "airfoil", ResourceSpec(cpu=4.0), items, nodes)


def test_two_processes_on_one_cluster_sum_what_they_hold() -> None:
    a = snap(
        "h:1:x",
        (
            NodeUsage(node("hd", 0.0, head=True)),
            NodeUsage(node("n1"), ResourceSpec(cpu=1.0), ("e/a",)),
        ),
        item("a", "running", 5.0, ("n1",)),
        item("w", "waiting", 9.0),
    )
    b = snap("h:2:y", (NodeUsage(node("n1"), ResourceSpec(cpu=1.0), ("f/b",)),))
    view = cluster_view([a, b])
    assert [r.node.name for r in view.nodes] == ["hd", "n1"]
    n1 = view.nodes[1]
    assert n1.used.cpu == 2.0 and n1.running == ("e/a", "f/b")
    assert [q.item.node_id for q in view.queue] == ["w", "a"] and not view.live


def test_live_nodes_win_and_a_node_that_left_shows_only_while_work_drains() -> None:
    s = snap("h:1:x", (NodeUsage(node("n1")), NodeUsage(node("gone"), running=("e/x",))))
    live = [node("n1"), node("gone", alive=False), node("new")]
    view = cluster_view([s], live)
    assert [(r.node.name, r.node.alive) for r in view.nodes] == [
        ("n1", True), ("new", True), ("gone", False),
    ]  # fmt: skip
    assert view.live
    s = snap("h:1:x", (NodeUsage(node("n1")),))
    assert [r.node.name for r in cluster_view([s], live).nodes] == ["n1", "new"]


def test_a_process_on_its_own_machine_is_one_node() -> None:
    s = snap("box:7:z", (), item("a", "running", 1.0), item("b", "waiting", 2.0))
    (row,) = cluster_view([s]).nodes
    assert row.machine and row.node.address == "box" and row.node.capacity.cpu == 4.0
    assert row.used.cpu == 1.0 and row.running == ("e/a",)
