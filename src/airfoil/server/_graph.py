"""The node graph of an execution for the console: its workflow version's graph (cached: it
never changes), the graphs its dynamic nodes built, and the nodes its tasks called."""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from airfoil.core.errors import UnreadableRecordError
from airfoil.core.records import Binding, NodeRecord, WorkflowSpec
from airfoil.server._deps import Deps, get_record
from airfoil.server._summary import input_summary

__all__ = ["graph_json"]

_graph_cache: dict[tuple[str, str], list[dict[str, Any]]] = {}


log = logging.getLogger("airfoil.server")


def _left_out(exc: UnreadableRecordError) -> None:
    log.warning("left out of a graph: %s", exc)


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
    built, and the nodes its tasks called (children of their callers; a called workflow's
    nodes, with their edges, children of the call's node)."""
    from airfoil.engine.graph import FlatNode, add_subgraph

    rec = get_record(d, project, execution_id)
    out = list(_static_graph(rec.spec))
    index = {n["id"]: i for i, n in enumerate(out)}
    # a node that no longer decodes is shown as its version's graph has it (the detail
    # names it): only a dynamic node's built graph needs its record
    records = d.meta.get_nodes(execution_id, on_unreadable=_left_out)
    for r in records:
        if r.dynamic_spec is None:
            continue
        if r.node_id not in index:
            if r.kind != "child":
                continue
            index[r.node_id] = len(out)  # a called workflow: the call's node holds its graph
            out.append(_record_node(r))
        own = dict(out[index[r.node_id]])
        nodes = {r.node_id: FlatNode(id=r.node_id, kind=own["kind"], inputs={}, upstream=set())}
        given = {k: Binding(kind="literal", value=v) for k, v in (r.inputs or {}).items()}
        try:
            new = add_subgraph(nodes, r.node_id, r.dynamic_spec, given)
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
            out.append(_record_node(r))
    return msgspec.json.encode({"execution_id": execution_id, "nodes": out})


def _record_node(r: NodeRecord) -> dict[str, Any]:
    """A node known from its record only (a call a running task made) as a wire dict."""
    return {
        "id": r.node_id,
        "kind": r.kind,
        "label": r.task.rpartition(".")[2] or r.node_id,
        "task": r.task,
        "parent": r.parent,
        "upstream": [],
        "gate": None,
        "mapped": None,
    }
