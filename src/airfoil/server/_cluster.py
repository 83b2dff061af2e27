"""``GET /api/v1/cluster``: the cluster's nodes, what runs where, and the admission queue.

The view comes from the queue snapshots admitting processes write to the store (every
driver of every replica on this database) and, when this server drives on a cluster (Ray),
from the cluster's live node list. Any key may read it; attempts of projects the key may not
read are counted, not named (a node shows how much they hold, not whose they are).
Without a key on a server that has keys, it is 401 like every route.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request

from airfoil.engine._drive_support import holder_is_dead
from airfoil.engine.cluster_view import ClusterView, cluster_view
from airfoil.server._auth import Principal, authenticate, may_read
from airfoil.server._routes import _ERRORS, ROUTE_ROLES, Deps
from airfoil.server._services import Deps as ServiceDeps
from airfoil.store.base import MetaStore
from airfoil.store.naming import ExecutionNames
from airfoil.wire import API_PREFIX, ClusterNodeOut, ClusterOut, QueueItemOut

__all__ = ["cluster", "router"]

log = logging.getLogger("airfoil.server")

router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)


def cluster(d: ServiceDeps, who: Principal) -> ClusterOut:
    """The cluster as ``who`` may see it."""
    snapshots = [s for s in d.meta.list_queue_snapshots() if not holder_is_dead(s.owner)]
    live = None
    if d.driver is not None:  # a server that only serves the API never joins the cluster
        try:
            live = d.runtime.cluster_nodes()
        except Exception:  # the snapshots still tell the story
            log.exception("reading the cluster's nodes failed")
    return to_wire(cluster_view(snapshots, live), who, d.meta)


def to_wire(view: ClusterView, who: Principal, meta: MetaStore | None = None) -> ClusterOut:
    """The wire form of the cluster view as ``who`` may see it (``meta``: names each queued
    attempt's execution as its project does)."""
    readable = may_read(who)
    names: dict[str, ExecutionNames] = {}
    queue = []
    unnamed: set[str] = set()  # the attempts of projects ``who`` may not read
    hidden = 0
    for row in view.queue:
        if not readable(row.item.project):
            unnamed.add(f"{row.item.execution_id}/{row.item.node_id}")
            hidden += 1
    for row in view.queue:
        item = row.item
        if not readable(item.project):
            continue
        if meta is not None and item.project not in names:
            names[item.project] = ExecutionNames(meta, item.project)
        queue.append(
            QueueItemOut(
                state=item.state,
                project=item.project,
                execution_id=item.execution_id,
                execution_name=(
                    names[item.project].shown(item.execution_id) if meta is not None else ""
                ),
                execution_domain=(
                    names[item.project].domain(item.execution_id) if meta is not None else ""
                ),
                node_id=item.node_id,
                task=item.task,
                cpu=item.requests.cpu,
                mem=item.requests.mem,
                gpu=item.requests.gpu,
                workers=item.workers,
                priority=item.priority,
                interruptible=item.interruptible,
                submit_time=item.submit_time,
                estimate_s=item.estimate,
                reason=_unnamed(item.reason, unnamed),
                gpus=list(item.gpus),
                placement=list(item.placement),
                owner=row.owner,
                policy=row.policy,
            )
        )
    shown = {f"{q.execution_id}/{q.node_id}" for q in queue}
    nodes = []
    for r in view.nodes:
        n = r.node
        mine = [x for x in r.running if x in shown]
        nodes.append(
            ClusterNodeOut(
                name=n.name,
                address=n.address,
                alive=n.alive,
                head=n.head,
                machine=r.machine,
                cpu=n.capacity.cpu,
                mem=n.capacity.mem,
                gpu=n.capacity.gpu,
                custom=n.custom,
                used_cpu=r.used.cpu,
                used_mem=r.used.mem,
                used_gpu=r.used.gpu,
                running=mine,
                hidden=len(r.running) - len(mine),
            )
        )
    return ClusterOut(nodes=nodes, queue=queue, live=view.live, hidden=hidden)


#: What a reason says in place of an attempt of a project the key may not read.
_OTHERS = "another project's attempt"


#: A name a reason quotes: the scheduler writes each attempt it names with ``!r``.
_NAMED = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


def _unnamed(reason: str, hidden: set[str]) -> str:
    """``reason`` without the attempts of ``hidden`` (the scheduler names the head an
    attempt waits behind, or the gang it keeps room for, whichever project's it is): one
    pass over the names it quotes, whatever the length of the queue."""
    if not hidden or ("'" not in reason and '"' not in reason):
        return reason

    def name(m: re.Match[str]) -> str:
        quoted = m.group(1) if m.group(1) is not None else m.group(2)
        return _OTHERS if quoted in hidden else m.group(0)

    return _NAMED.sub(name, reason)


ROUTE_ROLES[("GET", API_PREFIX + "/cluster")] = "any"


@router.get("/cluster", response_model=ClusterOut)
def get_cluster(request: Request, d: Deps) -> ClusterOut:
    """The cluster's nodes (capacity, what attempts hold, what runs where) and the
    admission queue (waiting attempts in order with why they wait, running ones with where).
    Any key: attempts of projects it may not read are counted, not named."""
    return cluster(d, authenticate(request, d.registry, d.clock.now()))
