"""Signals for gates: values sent to a waiting execution from outside.

A signal is stored in the blob store under ``signals/<execution>/<name>.json`` (written
atomically, first one wins), where the engine driving the execution looks for it while a gate
waits. The blob store is shared by everything that drives or inspects executions (the CLI,
workers, servers), so a signal sent from any of them reaches the driver.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError, InvalidInputError, NotFoundError
from airfoil.core.records import TypeSpec, Value
from airfoil.engine.graph import flatten
from airfoil.store.base import BlobStore, MetaStore

__all__ = ["read_signal", "send_signal", "signal_key"]

_SCALARS: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "none": type(None),
}


def signal_key(execution_id: str, name: str) -> str:
    return f"signals/{execution_id}/{name}.json"


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


def read_signal(blobs: BlobStore, execution_id: str, name: str) -> Value | None:
    """The signal's value if it has been sent."""
    uri = blobs.uri(signal_key(execution_id, name))
    if not blobs.exists(uri):
        return None
    return msgspec.json.decode(blobs.get_bytes(uri), type=Value)


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
    gates = {
        n.gate.name: n
        for n in flatten(record.spec).values()
        if n.gate is not None and n.gate.kind != "sleep"
    }
    node = gates.get(name)
    if node is None:
        known = ", ".join(sorted(gates)) or "none"
        raise NotFoundError(f"execution {execution_id} has no gate named {name!r} (gates: {known})")
    if record.phase in ("succeeded", "failed", "aborted"):
        raise InvalidInputError(f"execution {execution_id} already ended ({record.phase})")
    assert node.gate is not None and node.gate.type is not None
    spec = node.gate.type
    py = _py_type(spec)
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
    key = signal_key(execution_id, name)
    if blobs.exists(blobs.uri(key)):
        raise InvalidInputError(f"signal {name!r} of execution {execution_id} was already sent")
    blobs.put_bytes(key, msgspec.json.encode(stored))
    return node.id
