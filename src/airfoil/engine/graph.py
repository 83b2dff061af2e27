"""Flattening a workflow spec into the node graph one execution runs.

Subworkflow nodes stay as nodes (``kind="workflow"``) so they can be shown and have
outputs; their children are added with ids ``"<parent>.<child>"`` and ``parent`` set.
A child's binding to an input of its subworkflow is rewritten to the binding that fed that
input in the outer scope, so children depend directly on outer nodes. A subworkflow node
depends on all its children and succeeds when they have, resolving its output bindings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airfoil.core.records import Binding, NodeSpec, TaskSpec, WorkflowSpec

__all__ = ["FlatNode", "flatten"]


@dataclass
class FlatNode:
    """One node of a flattened execution graph."""

    id: str
    kind: str
    inputs: dict[str, Binding]
    upstream: set[str]
    task: TaskSpec | None = None
    outputs: dict[str, Binding] = field(default_factory=dict)  # subworkflow nodes only
    parent: str = ""
    label: str = ""
    children: list[str] = field(default_factory=list)

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


def _deps(b: Binding) -> set[str]:
    if b.kind == "output":
        return {b.node}
    if b.kind in ("list", "dict"):
        out: set[str] = set()
        for i in b.items:
            out |= _deps(i)
        return out
    return set()


def flatten(spec: WorkflowSpec) -> dict[str, FlatNode]:
    """The nodes of an execution of ``spec``, in definition order (parents before children)."""
    nodes: dict[str, FlatNode] = {}
    _add(spec.nodes, "", None, "", nodes)
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
            kind=ns.kind,
            inputs=inputs,
            upstream=upstream,
            task=ns.task,
            parent=parent,
            label=ns.label,
        )
        nodes[nid] = node
        if parent:
            nodes[parent].children.append(nid)
        if ns.kind == "workflow" and ns.workflow is not None:
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
