"""Where the ray executor's workers go, read from the cluster's node list (``ray.nodes()``):
the nodes as Airfoil shows them, whether any node could ever start a task, Ray's scheduling
strategy for the node the engine's policy chose, and the idle workers to stop for it.

Split from :mod:`airfoil.executors.ray`; plain functions of the node list it caches. Imports
Ray only inside functions.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.cluster import ClusterNode
from airfoil.core.records import TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.executors._blob_cache import LOCALITY
from airfoil.executors._ray_pool import Worker, holds_resources, places_own_workers
from airfoil.executors.base import AttemptRequest

__all__ = ["cluster_nodes_of", "infeasible", "node_strategy", "room_to_free"]

_NOT_CUSTOM = ("CPU", "GPU", "memory", "object_store_memory")


def cluster_nodes_of(nodes: list[dict[str, Any]]) -> list[ClusterNode]:
    """The cluster's nodes (alive and dead), the head first."""
    out = []
    for n in nodes:
        res = n.get("Resources") or {}
        custom = {
            k: float(v)
            for k, v in res.items()
            if k not in _NOT_CUSTOM and not k.startswith("node:")
        }
        out.append(
            ClusterNode(
                name=str(n.get("NodeID", "")),
                address=str(n.get("NodeManagerAddress", "")),
                alive=bool(n.get("Alive")),
                capacity=ResourceSpec(
                    cpu=float(res.get("CPU", 0.0)),
                    mem=int(res.get("memory", 0)),
                    gpu=int(res.get("GPU", 0)),
                ),
                custom=custom,
                head="node:__internal_head__" in res,
            )
        )
    return sorted(out, key=lambda c: (not c.head, c.address, c.name))


def infeasible(task: TaskSpec, nodes: list[dict[str, Any]]) -> str:
    """Why no node of the cluster, as it is now, could ever start ``task`` ("" if one
    could): Ray would keep such a worker pending forever."""
    if places_own_workers(task):
        return ""  # its gang waits for its placement group (with its own start timeout)
    r = task.requests
    need = {"CPU": r.cpu, "GPU": float(r.gpu), "memory": float(r.mem)}
    need.update(task.custom_resources)
    if task.accelerator:
        need[f"accelerator_type:{task.accelerator}"] = 0.001
    need = {k: v for k, v in need.items() if v > 0}
    if not need:
        return ""
    alive = [n.get("Resources") or {} for n in nodes if n.get("Alive")]
    if any(all(node.get(k, 0.0) >= v for k, v in need.items()) for node in alive):
        return ""
    asked = ", ".join(f"{k}={v:g}" for k, v in sorted(need.items()))
    return (
        f"task {task.name!r} asks for {asked}, which no node of the Ray cluster has "
        f"({len(alive)} alive node(s)): lower its requests, or add a node that has them "
        "(ray start --num-gpus / --resources)"
    )


def node_strategy(request: AttemptRequest, nodes: list[dict[str, Any]]) -> Any:
    """Ray's scheduling strategy for the node the policy placed the attempt on, or None
    (no placement; or the node lacks a custom resource or accelerator the task asks
    for, which the policy does not count: Ray picks, among the nodes that have it)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if not request.placement:  # Ray places it: near its inputs if a node caches them
        near = LOCALITY.rank(request.inputs)
        return NodeAffinitySchedulingStrategy(near[0], soft=True) if near else None
    node = request.placement[0]
    task = request.task
    wants = dict(task.custom_resources)
    if task.accelerator:
        wants[f"accelerator_type:{task.accelerator}"] = 0.001
    if wants:
        res = next((n.get("Resources") or {} for n in nodes if n.get("NodeID") == node), {})
        if not all(res.get(k, 0.0) >= v for k, v in wants.items()):
            return None
    return NodeAffinitySchedulingStrategy(node, soft=False)


def room_to_free(
    request: AttemptRequest,
    nodes: list[dict[str, Any]],
    workers: list[Worker],
    idle: list[Worker],
) -> list[Worker]:
    """The idle warm workers (of ``idle``; ``workers`` are all of the executor's) that sit on
    what the engine's policy gave ``request`` on its node(s), least recently used first. The
    policy counts only attempts, so an idle worker holding CPUs there is a cache it did not
    count: left alone, the new worker (or the gang's placement group, pinned to those nodes)
    would wait for it."""
    task = request.task
    need: dict[str, list[float]] = {}
    if places_own_workers(task):
        c = task.config
        per = [float(c.get("cpu", 0) or 0), float(c.get("mem", 0) or 0), c.get("gpu", 0)]
    else:
        r = task.requests
        per = [r.cpu, float(r.mem), r.gpu]
    for node in request.placement:
        have = need.setdefault(node, [0.0, 0.0, 0.0])
        for i in range(3):
            have[i] += float(per[i] or 0)
    caps = {str(n.get("NodeID")): n.get("Resources") or {} for n in nodes if n.get("Alive")}
    out: list[Worker] = []
    for node, want in need.items():
        res = caps.get(node)
        if res is None:
            continue  # the node is gone: the worker will fail to start (a system error)
        free = [float(res.get(k, 0.0)) for k in ("CPU", "memory", "GPU")]
        for w in workers:
            if w.key[7] == node:
                for i, held in enumerate((w.key[2], w.key[3], w.key[4])):
                    free[i] -= float(held)
        left = sorted(
            (w for w in idle if w.key[7] == node and holds_resources(w.key)),
            key=lambda x: x.last_used,
        )
        while left and any(f < n - 1e-9 for f, n in zip(free, want, strict=True)):
            w = left.pop(0)
            for i, held in enumerate((w.key[2], w.key[3], w.key[4])):
                free[i] += float(held)
            out.append(w)
    return out
