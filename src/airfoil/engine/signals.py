"""Signals for gates: values sent to a waiting execution from outside.

A signal is a message of the metadata store's control inbox
(:class:`~airfoil.store._control.ControlInbox`; first one of a name wins), which the loop
driving the execution drains while a gate waits (:func:`received_signals`). The metadata
store is shared by everything that drives or inspects executions (the CLI, servers), so a
signal sent from any of them reaches the driver; terminate requests travel the same way.
"""

from __future__ import annotations

import json
import time
import typing
from typing import Any

from airfoil.core.errors import ConfigError, InvalidInputError, NotFoundError
from airfoil.core.phases import GateKind
from airfoil.core.records import TypeSpec, Value
from airfoil.engine.graph import FlatNode, add_subgraph, flatten
from airfoil.store._control import ControlMessage
from airfoil.store.base import BlobStore, MetaStore

__all__ = ["received_signals", "send_signal"]

_SCALARS: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "none": type(None),
}


def _py_type(spec: TypeSpec) -> Any:
    if spec.kind in _SCALARS:
        return _SCALARS[spec.kind]
    if spec.kind == "list":
        return list[_py_type(spec.args[0])]  # type: ignore[misc]
    if spec.kind == "dict":
        return dict[_py_type(spec.args[0]), _py_type(spec.args[1])]  # type: ignore[misc]
    if spec.kind == "union":
        return typing.Union[tuple(_py_type(a) for a in spec.args)]  # noqa: UP007
    raise ConfigError(f"signals of type {spec} are not supported")


def _execution_graph(meta: MetaStore, execution_id: str, spec: Any) -> dict[str, FlatNode]:
    """The execution's nodes: its workflow's, and those of the graphs its dynamic nodes
    built so far (their gates are answered like the workflow's own)."""
    graph = flatten(spec)
    built = [r for r in meta.get_nodes(execution_id) if r.dynamic_spec is not None]
    for rec in sorted(built, key=lambda r: r.node_id.count(".")):  # parents first
        if rec.node_id in graph and rec.dynamic_spec is not None:
            add_subgraph(graph, rec.node_id, rec.dynamic_spec)
    return graph


def received_signals(meta: MetaStore, execution_id: str) -> dict[str, Value]:
    """Every signal sent to an execution so far, by gate name (one store read): what the
    driving loop drains while gates wait."""
    return {
        m.name: m.value
        for m in meta.control_messages(execution_id, kind="signal")
        if m.value is not None
    }


def send_signal(
    meta: MetaStore, blobs: BlobStore, types: Any, execution_id: str, name: str, text: str
) -> str:
    """Type-check ``text`` against the gate ``name`` of an execution and send it.

    Returns the gate's node id.

    Raises:
        NotFoundError: no such execution, or no gate of that name in it.
        InvalidInputError: the value does not fit the gate's type, the execution has ended,
            or the signal was already sent.
    """
    from airfoil.types import ValueContext

    record = meta.get_execution(execution_id)
    gates: dict[str, list[FlatNode]] = {}
    for n in _execution_graph(meta, record.id, record.spec).values():
        if n.gate is not None and n.gate.kind != GateKind.SLEEP:
            gates.setdefault(n.gate.name, []).append(n)
    named = gates.get(name)
    if not named:
        known = ", ".join(sorted(gates)) or "none"
        raise NotFoundError(f"execution {execution_id} has no gate named {name!r} (gates: {known})")
    if record.phase in ("succeeded", "failed", "aborted"):
        raise InvalidInputError(f"execution {execution_id} already ended ({record.phase})")
    node = named[-1]
    assert node.gate is not None and node.gate.type is not None
    spec = node.gate.type
    others = sorted({str(n.gate.type) for n in named if n.gate is not None} - {str(spec)})
    if others:
        # One signal answers every gate of its name: checked against one type, it must not
        # reach a gate of another (a dynamic graph's gate beside a static one of its name).
        raise InvalidInputError(
            f"execution {execution_id} has gates named {name!r} of different types "
            f"({', '.join([str(spec), *others])}): no one value can answer them"
        )
    try:
        py = _py_type(spec)
    except ConfigError as exc:
        raise InvalidInputError(f"signal {name!r}: {exc}") from None
    try:
        value = types.parse_cli(text, py)
    except Exception as exc:
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidInputError(f"signal {name!r} expects {spec}: {exc}") from None
    try:
        types.check_value(value, py)
        stored = types.to_value(value, py, ValueContext(blobs=blobs))
    except Exception as exc:
        raise InvalidInputError(f"signal {name!r} expects {spec}: {exc}") from None
    message = ControlMessage(execution_id, "signal", time.time(), name=name, value=stored)
    if not meta.send_control(message):
        raise InvalidInputError(f"signal {name!r} of execution {execution_id} was already sent")
    return node.id
