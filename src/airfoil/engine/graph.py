"""Flattening a workflow spec into the node graph one execution runs.

Subworkflow nodes stay as nodes (``kind="workflow"``) so they can be shown and have
outputs; their children are added with ids ``"<parent>.<child>"`` and ``parent`` set.
A child's binding to an input of its subworkflow is rewritten to the binding that fed that
input in the outer scope, so children depend directly on outer nodes. A subworkflow node
depends on all its children and succeeds when they have, resolving its output bindings.

Invariant: once :func:`flatten` has returned, a graph's :class:`FlatNode` objects are never
changed in place, so graphs may share them (:class:`GraphCache` hands every execution of a
workflow version the same nodes in a dict of its own). :func:`add_subgraph` is the one
edit of a built graph: it puts a copy of the node it grows in the graph's dict and changes
the copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from airfoil.core.phases import NodeKind
from airfoil.core.records import (
    Binding,
    Condition,
    GateSpec,
    MapSpec,
    NodeSpec,
    TaskSpec,
    WorkflowSpec,
)

__all__ = ["FAILURE_INPUT", "FlatCase", "FlatNode", "GraphCache", "add_subgraph", "flatten"]


@dataclass
class FlatCase:
    """One case of a conditional node, with bindings rewritten to execution node ids."""

    condition: Condition | None
    children: list[str]
    outputs: dict[str, Binding]
    fail_message: str
    label: str
    #: Nodes outside the case whose outputs the case's outputs read (a promise made before
    #: the conditional): the case finishes only once they have succeeded too.
    waits: frozenset[str] = frozenset()


@dataclass
class FlatNode:
    """One node of a flattened execution graph."""

    id: str
    kind: NodeKind
    inputs: dict[str, Binding]
    upstream: set[str]
    task: TaskSpec | None = None
    outputs: dict[str, Binding] = field(default_factory=dict)  # subworkflow nodes only
    parent: str = ""
    label: str = ""
    children: list[str] = field(default_factory=list)
    cases: list[FlatCase] = field(default_factory=list)  # conditional nodes only
    gates: tuple[tuple[str, int], ...] = ()  # (conditional, case) this node runs under
    map: MapSpec | None = None  # map nodes only
    gate: GateSpec | None = None  # gate nodes only
    #: A subworkflow's own ``on_failure`` handler: the subworkflow node it handles (it runs
    #: only if that node fails; see ``engine._handlers``).
    handles: str = ""

    @property
    def name(self) -> str:
        if self.task is not None:
            return self.task.name
        return self.label


def _rewrite(b: Binding, prefix: str, outer_inputs: dict[str, Binding] | None) -> Binding:
    if b.kind == "input" and outer_inputs is not None:
        return outer_inputs[b.name]
    if b.kind == "output" and prefix:
        return Binding(kind="output", node=prefix + b.node, name=b.name)
    if b.kind in ("list", "dict"):
        return Binding(
            kind=b.kind,
            keys=b.keys,
            items=tuple(_rewrite(i, prefix, outer_inputs) for i in b.items),
        )
    return b


def _rewrite_condition(
    c: Condition | None, prefix: str, outer_inputs: dict[str, Binding] | None
) -> Condition | None:
    if c is None:
        return None
    return Condition(
        kind=c.kind,
        op=c.op,
        lhs=_rewrite(c.lhs, prefix, outer_inputs) if c.lhs is not None else None,
        rhs=_rewrite(c.rhs, prefix, outer_inputs) if c.rhs is not None else None,
        left=_rewrite_condition(c.left, prefix, outer_inputs),
        right=_rewrite_condition(c.right, prefix, outer_inputs),
    )


def _deps(b: Binding) -> set[str]:
    if b.kind == "output":
        return {b.node}
    if b.kind in ("list", "dict"):
        out: set[str] = set()
        for i in b.items:
            out |= _deps(i)
        return out
    return set()


#: The input binding name of the failure given to an ``on_failure`` handler.
FAILURE_INPUT = "__failure__"


def _add_handler(
    ns: NodeSpec, sub: str, outer: dict[str, Binding], nodes: dict[str, FlatNode]
) -> None:
    """A subworkflow's own ``on_failure`` handler, as node ``<sub>.on_failure``: its failure
    input names the subworkflow (``Binding.node``), its other inputs read the subworkflow
    node's inputs. It is no child of any node (a subworkflow or case around it must not wait
    for a handler that never runs)."""
    inputs = {
        k: (
            Binding(kind="input", name=FAILURE_INPUT, node=sub)
            if b.kind == "input" and b.name == FAILURE_INPUT
            else _rewrite(b, sub + ".", outer)
        )
        for k, b in ns.inputs.items()
    }
    nid = f"{sub}.{ns.id}"
    nodes[nid] = FlatNode(
        id=nid,
        kind=NodeKind(ns.kind),
        inputs=inputs,
        upstream=set(),
        task=ns.task,
        label=f"{nodes[sub].label or sub} on_failure",
        gates=nodes[sub].gates,
        handles=sub,
    )


def _gate(nodes: dict[str, FlatNode], nid: str, gate: tuple[str, int]) -> None:
    """Put a node and all its descendants under a conditional's case."""
    node = nodes[nid]
    node.gates = (*node.gates, gate)
    for child in node.children:
        _gate(nodes, child, gate)


def add_subgraph(
    nodes: dict[str, FlatNode],
    parent: str,
    spec: WorkflowSpec,
    inputs: dict[str, Binding] | None = None,
) -> list[str]:
    """Add the graph a dynamic node built, or a workflow a running task called, as the
    node's children (ids ``<parent>.<id>``); the node then waits for them and takes the
    graph's outputs. ``inputs`` binds the graph's workflow inputs (a called workflow's
    given values); a dynamic graph has none. Returns the new ids."""
    before = set(nodes)
    prefix = parent + "."
    outer = inputs or {}
    # The node may be shared with other executions' graphs (GraphCache): grow a copy.
    old = nodes[parent]
    node = nodes[parent] = replace(
        old, upstream=set(old.upstream), children=list(old.children), outputs=dict(old.outputs)
    )
    _add(spec.nodes, prefix, outer, parent, nodes)
    node.outputs = {k: _rewrite(b, prefix, outer) for k, b in spec.outputs.items()}
    direct = [prefix + ns.id for ns in spec.nodes]
    node.upstream |= set(direct)
    for b in node.outputs.values():
        node.upstream |= _deps(b)
    return [nid for nid in nodes if nid not in before]


class GraphCache:
    """The flattened graphs of the workflow versions an engine drives, so that each drive
    of a version does not flatten its spec again (~100 node objects, their bindings, sets
    and dicts for a fan-out of 100, at the start of every drive).

    A graph is found by the spec's name and version and used only if its spec is equal to
    the one asked for (a version re-registered with another spec, or a spec of the same
    name and version from elsewhere, is flattened anew). Each call returns a dict of its
    own over shared nodes (see the module's invariant). Holds the latest ``size`` versions.
    Thread-safe (a server's driver slots may share one).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._graphs: dict[tuple[str, str], tuple[WorkflowSpec, dict[str, FlatNode]]] = {}
        self._lock = threading.Lock()

    def graph(self, spec: WorkflowSpec) -> dict[str, FlatNode]:
        """The graph of an execution of ``spec``: a new dict, in definition order."""
        key = (spec.name, spec.version)
        with self._lock:
            found = self._graphs.get(key)
        if found is not None and (found[0] is spec or found[0] == spec):
            return dict(found[1])
        graph = flatten(spec)
        with self._lock:
            self._graphs.pop(key, None)
            while len(self._graphs) >= self.size:
                del self._graphs[next(iter(self._graphs))]
            self._graphs[key] = (spec, graph)
        return dict(graph)


def flatten(spec: WorkflowSpec) -> dict[str, FlatNode]:
    """The nodes of an execution of ``spec``, in definition order (parents before children)."""
    nodes: dict[str, FlatNode] = {}
    _add(spec.nodes, "", None, "", nodes)
    if spec.on_failure is not None:
        _add((spec.on_failure,), "", None, "", nodes)
    return nodes


def _add(
    specs: tuple[NodeSpec, ...],
    prefix: str,
    outer_inputs: dict[str, Binding] | None,
    parent: str,
    nodes: dict[str, FlatNode],
) -> None:
    for ns in specs:
        nid = prefix + ns.id
        inputs = {k: _rewrite(b, prefix, outer_inputs) for k, b in ns.inputs.items()}
        upstream = {prefix + u for u in ns.upstream}
        for b in inputs.values():
            upstream |= _deps(b)
        node = FlatNode(
            id=nid,
            kind=NodeKind(ns.kind),
            inputs=inputs,
            upstream=upstream,
            task=ns.task,
            parent=parent,
            label=ns.label,
            gates=nodes[parent].gates if parent else (),
            map=ns.map,
            gate=ns.gate,
        )
        nodes[nid] = node
        if parent:
            nodes[parent].children.append(nid)
        if node.kind is NodeKind.BRANCH:
            for ci, case in enumerate(ns.cases):
                _add(case.nodes, prefix, outer_inputs, nid, nodes)
                direct = [prefix + c.id for c in case.nodes]
                for cid in direct:
                    _gate(nodes, cid, (nid, ci))
                outputs = {k: _rewrite(b, prefix, outer_inputs) for k, b in case.outputs.items()}
                read: set[str] = set()
                for b in outputs.values():
                    read |= _deps(b)
                node.cases.append(
                    FlatCase(
                        condition=_rewrite_condition(case.condition, prefix, outer_inputs),
                        children=direct,
                        outputs=outputs,
                        fail_message=case.fail_message,
                        label=case.label,
                        waits=frozenset(read - set(direct)),
                    )
                )
        if node.kind is NodeKind.WORKFLOW and ns.workflow is not None:
            sub = ns.workflow
            child_prefix = nid + "."
            # Children see this node's resolved inputs as outer bindings; explicit ordering
            # (`a >> sub()`) applies to every child too.
            _add(sub.nodes, child_prefix, inputs, nid, nodes)
            for cid in list(node.children):
                nodes[cid].upstream |= {u for u in upstream if u not in nodes[cid].upstream}
            node.outputs = {k: _rewrite(b, child_prefix, inputs) for k, b in sub.outputs.items()}
            node.upstream = set(node.children) | upstream
            for b in node.outputs.values():
                node.upstream |= _deps(b)
            if sub.on_failure is not None:
                _add_handler(sub.on_failure, nid, inputs, nodes)
