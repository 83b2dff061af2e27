"""An execution's detail, a node's, its graph and its map items, as the console reads them
(the hot paths: built from records without validating thousands of wire models)."""

from __future__ import annotations

from typing import Any

import msgspec

from airfoil.core.errors import (
    InvalidInputError,
)
from airfoil.core.records import WorkflowSpec
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps, get_record
from airfoil.server._reading import hide_foreign
from airfoil.server._summary import input_summary
from airfoil.wire import (
    ExecutionDetail,
    MapItemOut,
    MapItemsOut,
    NodeOut,
)

__all__ = [
    "execution_detail",
    "execution_detail_dict",
    "execution_detail_json",
    "graph_json",
    "map_items",
    "node_detail",
]


_flat_cache: dict[tuple[str, str], dict[str, Any]] = {}


def _flat_tasks(spec: WorkflowSpec) -> dict[str, Any]:
    """Node id -> task spec of a workflow version (cached: a version's graph never changes)."""
    key = (spec.name, spec.version)
    found = _flat_cache.get(key)
    if found is None:
        from airfoil.engine.graph import flatten

        found = {nid: fn.task for nid, fn in flatten(spec).items()}
        if len(_flat_cache) > 256:
            _flat_cache.clear()
        _flat_cache[key] = found
    return found


def execution_detail(d: Deps, project: str, execution_id: str) -> ExecutionDetail:
    """An execution with its nodes, attempts, cache status, inputs and outputs."""
    return ExecutionDetail.model_validate(execution_detail_dict(d, project, execution_id))


_DETAIL_CACHE_SIZE = 32


def execution_detail_json(d: Deps, project: str, execution_id: str) -> bytes:
    """:func:`execution_detail` as JSON bytes, built without model validation (the hot path
    of the console: executions of thousands of nodes).

    The bytes of recent answers are kept with the event sequence number they reflect: every
    change of an execution appends an event, so when no event came since, the kept answer is
    still exact and is served after one indexed query.
    """
    with d.detail_lock:
        cached = d.detail_cache.get(execution_id)
    if cached is not None and cached[0] == project:
        newer = d.meta.get_events(execution_id, after_seq=cached[1])
        if not newer:
            return cached[2]
        seq = newer[-1].seq
    else:
        evs = d.meta.get_events(execution_id)
        seq = evs[-1].seq if evs else 0
    data = msgspec.json.encode(execution_detail_dict(d, project, execution_id))
    with d.detail_lock:
        d.detail_cache[execution_id] = (project, seq, data)
        d.detail_cache.move_to_end(execution_id)
        while len(d.detail_cache) > _DETAIL_CACHE_SIZE:
            d.detail_cache.popitem(last=False)
    return data


def execution_detail_dict(d: Deps, project: str, execution_id: str) -> dict[str, Any]:
    rec = get_record(d, project, execution_id)
    nodes = d.meta.get_nodes(execution_id)
    attempts: dict[str, list[Any]] = {}
    for a in d.meta.get_attempts(execution_id):
        attempts.setdefault(a.node_id, []).append(a)
    tasks = _flat_tasks(rec.spec)
    ctx = d.value_ctx()
    iface = rec.spec.interface
    out = cv.summary_dict(rec, len(nodes))
    out["interface"] = cv.interface_out(iface, d.types, ctx).model_dump(mode="json")
    out["inputs"] = cv.values_out(
        rec.inputs, {p.name: p.type for p in iface.inputs}, rec, d.types, ctx, read_blobs=False
    )
    out["outputs"] = cv.values_out(
        rec.outputs, {p.name: p.type for p in iface.outputs}, rec, d.types, ctx, read_blobs=True
    )
    out["nodes"] = [
        cv.node_dict(
            n,
            rec,
            attempts.get(n.node_id, []),
            _iface(tasks.get(n.node_id)),
            d.types,
            ctx,
            read_blobs=False,
        )
        for n in nodes
    ]
    owners: dict[str, str | None] = {execution_id: project}
    for n in out["nodes"]:
        if n.get("cache_reason"):
            n["cache_reason"] = hide_foreign(d, project, n["cache_reason"], owners)
    out["package"] = rec.labels.get("airfoil.package", "")
    return out


def _iface(task: Any) -> Any:
    return task.interface if task is not None else None


def node_detail(d: Deps, project: str, execution_id: str, node_id: str) -> NodeOut:
    rec = get_record(d, project, execution_id)
    node = d.meta.get_node(execution_id, node_id)
    tasks = _flat_tasks(rec.spec)
    out = cv.node_out(
        node,
        rec,
        d.meta.get_attempts(execution_id, node_id),
        _iface(tasks.get(node_id)),
        d.types,
        d.value_ctx(),
        read_blobs=True,
    )
    if out.cache_reason:
        out.cache_reason = hide_foreign(d, project, out.cache_reason)
    return out


_graph_cache: dict[tuple[str, str], list[dict[str, Any]]] = {}


def _graph_node(fn: Any) -> dict[str, Any]:
    gate = None
    if fn.gate is not None:
        g = fn.gate
        gate = {
            "kind": g.kind,
            "name": g.name,
            "type": str(g.type) if g.type is not None else "",
            "type_spec": msgspec.to_builtins(g.type) if g.type is not None else None,
            "duration_s": g.duration_s,
            "timeout_s": g.timeout_s,
        }
    label = fn.label or (fn.task.name.rpartition(".")[2] if fn.task is not None else fn.id)
    return {
        "id": fn.id,
        "kind": fn.kind,
        "label": label,
        "summary": input_summary(fn.inputs),
        "task": fn.task.name if fn.task is not None else "",
        "parent": fn.parent,
        "upstream": sorted(fn.upstream),
        "gate": gate,
        "mapped": list(fn.map.mapped) if fn.map is not None else None,
    }


def _static_graph(spec: WorkflowSpec) -> list[dict[str, Any]]:
    """The flattened graph of a workflow version as wire dicts (cached: it never changes)."""
    key = (spec.name, spec.version)
    found = _graph_cache.get(key)
    if found is None:
        from airfoil.engine.graph import flatten

        found = [_graph_node(fn) for fn in flatten(spec).values()]
        if len(_graph_cache) > 64:
            _graph_cache.clear()
        _graph_cache[key] = found
    return found


def graph_json(d: Deps, project: str, execution_id: str) -> bytes:
    """The :class:`GraphOut` of an execution as JSON bytes (built from records without
    validating 10,000s of nodes).

    The node graph of an execution: its version's graph, the graphs its dynamic nodes
    built, and the nodes its tasks called (children of their callers)."""
    from airfoil.engine.graph import FlatNode, add_subgraph

    rec = get_record(d, project, execution_id)
    out = list(_static_graph(rec.spec))
    index = {n["id"]: i for i, n in enumerate(out)}
    records = d.meta.get_nodes(execution_id)
    for r in records:
        if r.dynamic_spec is None or r.node_id not in index:
            continue
        own = dict(out[index[r.node_id]])
        nodes = {r.node_id: FlatNode(id=r.node_id, kind=own["kind"], inputs={}, upstream=set())}
        try:
            new = add_subgraph(nodes, r.node_id, r.dynamic_spec)
        except KeyError:  # a graph bound to inputs it was not given: show the node alone
            continue
        own["upstream"] = sorted(set(own["upstream"]) | nodes[r.node_id].upstream)
        out[index[r.node_id]] = own
        for nid in new:
            index[nid] = len(out)
            out.append(_graph_node(nodes[nid]))
    for r in records:  # tasks called by running tasks, and anything else not in a graph
        if r.node_id not in index:
            index[r.node_id] = len(out)
            out.append(
                {
                    "id": r.node_id,
                    "kind": r.kind,
                    "label": r.task.rpartition(".")[2] or r.node_id,
                    "task": r.task,
                    "parent": r.parent,
                    "upstream": [],
                    "gate": None,
                    "mapped": None,
                }
            )
    return msgspec.json.encode({"execution_id": execution_id, "nodes": out})


def map_items(
    d: Deps, project: str, execution_id: str, node_id: str, offset: int, limit: int
) -> MapItemsOut:
    """The tried items of a map node (newest attempt each), by index."""
    from airfoil.engine._mapping import split_item_id

    get_record(d, project, execution_id)
    node = d.meta.get_node(execution_id, node_id)
    if node.kind != "map":
        raise InvalidInputError(f"node {node_id} is a {node.kind} node, not a map node")
    newest: dict[int, Any] = {}
    tries: dict[int, int] = {}
    for a in d.meta.get_attempts(execution_id):
        split = split_item_id(a.node_id)
        if split is None or split[0] != node_id:
            continue
        i = split[1]
        tries[i] = tries.get(i, 0) + 1
        if i not in newest or a.attempt >= newest[i].attempt:
            newest[i] = a
    chosen = sorted(newest)[offset : offset + limit]
    items = [
        MapItemOut(
            index=i,
            phase=newest[i].phase,
            attempts=tries[i],
            started_at=newest[i].started_at,
            ended_at=newest[i].ended_at,
            duration_s=cv.attempt_dict(newest[i])["duration_s"],
            error=cv.error_out(newest[i].error),
        )
        for i in chosen
    ]
    total = sum(node.map_counts.values()) if node.map_counts else len(newest)
    return MapItemsOut(node_id=node_id, items=items, total=total)
