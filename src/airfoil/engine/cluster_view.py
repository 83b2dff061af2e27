"""The cluster as ``airfoil nodes``, ``airfoil queue``, the API and the console show it.

Built from the queue snapshots admitting processes write to the store (what each placed
where, what waits and why) and, where the caller can read them, the cluster's live nodes
(an executor's :meth:`~airfoil.executors.base.Executor.cluster_nodes`). Several processes
admitting on one cluster each account what they placed: a node's ``used`` is their sum. A
process admitting on one machine (no cluster) shows as one node named after it.

Pure: records in, a record out; no store, no cluster is touched here.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from airfoil.core.cluster import ClusterNode
from airfoil.core.resources import ResourceSpec
from airfoil.store._scheduling import QueuedItem, QueueSnapshot

__all__ = ["ClusterView", "NodeRow", "QueueRow", "cluster_view"]


class NodeRow(msgspec.Struct, frozen=True):
    """A node with what Airfoil's admitting processes hold on it and run there."""

    node: ClusterNode
    used: ResourceSpec = ResourceSpec()
    running: tuple[str, ...] = ()  # execution/node of each attempt there
    machine: bool = False  # a process admitting on its own machine, not a cluster node


class QueueRow(msgspec.Struct, frozen=True):
    """A waiting or running attempt, with the process that admits it."""

    item: QueuedItem
    owner: str
    policy: str


class ClusterView(msgspec.Struct, frozen=True):
    """Nodes (the head first, then by address) and the queue (waiting first, in order)."""

    nodes: tuple[NodeRow, ...] = ()
    queue: tuple[QueueRow, ...] = ()
    live: bool = False  # the node list was read from the cluster itself


def cluster_view(
    snapshots: Sequence[QueueSnapshot], live: Sequence[ClusterNode] | None = None
) -> ClusterView:
    """The nodes and queue of ``snapshots``, on the ``live`` node list when given."""
    records: dict[str, ClusterNode] = {}
    for snap in sorted(snapshots, key=lambda s: s.updated_at):  # the newest record wins
        for usage in snap.nodes:
            if usage.node.address or usage.node.name not in records:
                records[usage.node.name] = usage.node
    if live is not None:
        known = {n.name for n in live}
        # a node that left still shows while work placed there drains
        records = {
            **{k: v for k, v in records.items() if k not in known},
            **{n.name: n for n in live},
        }
    used: dict[str, list[float]] = {}
    running: dict[str, list[str]] = {}
    machines: list[NodeRow] = []
    for snap in snapshots:
        for usage in snap.nodes:
            u = used.setdefault(usage.node.name, [0.0, 0.0, 0.0])
            u[0] += usage.used.cpu
            u[1] += usage.used.mem
            u[2] += usage.used.gpu
            running.setdefault(usage.node.name, []).extend(usage.running)
        if not snap.nodes:
            machines.append(_machine(snap))
    rows = [
        NodeRow(
            node=node,
            used=_spec(used.get(name, [0.0, 0.0, 0.0])),
            running=tuple(running.get(name, ())),
        )
        for name, node in records.items()
        if node.alive or running.get(name)
    ]
    rows.sort(key=lambda r: (not r.node.head, not r.node.alive, r.node.address, r.node.name))
    queue = [
        QueueRow(item=item, owner=snap.owner, policy=snap.policy)
        for snap in snapshots
        for item in snap.items
    ]
    queue.sort(key=lambda r: (r.item.state != "waiting", r.item.submit_time))
    return ClusterView(nodes=(*rows, *machines), queue=tuple(queue), live=live is not None)


def _machine(snap: QueueSnapshot) -> NodeRow:
    host = snap.owner.split(":")[0]
    u = [0.0, 0.0, 0.0]
    names = []
    for item in snap.items:
        if item.state != "running":
            continue
        u[0] += item.requests.cpu * item.workers
        u[1] += item.requests.mem * item.workers
        u[2] += item.requests.gpu * item.workers
        names.append(f"{item.execution_id}/{item.node_id}")
    node = ClusterNode(name=snap.owner, address=host, capacity=snap.capacity)
    return NodeRow(node=node, used=_spec(u), running=tuple(names), machine=True)


def _spec(u: list[float]) -> ResourceSpec:
    return ResourceSpec(cpu=round(u[0], 3), mem=int(u[1]), gpu=int(u[2]))
