"""The values inside a value: the leaves a container names.

A container's JSON (a ``list[pd.DataFrame]``, a dataclass holding an array) names each leaf
it holds in its own format by reference (``{"$airfoil": {...}}``, :mod:`~airfoil.types._refs`),
by content hash; a list or dict the engine assembles from several nodes' outputs
(``af-list`` / ``af-dict``) holds its members' :class:`~airfoil.core.records.Value` records.
Whoever checks a value's blobs (a cache hit) or serves them (the API's download of an
execution's values) reaches the leaves through :func:`inner_values`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from airfoil.core.records import Value
from airfoil.types._base import REF_KEY, decode_json_bytes, values_key
from airfoil.types._refs import ValueRef

__all__ = ["CONTAINER_FORMATS", "inner_values", "may_hold_values"]

#: The formats whose values may hold other values.
CONTAINER_FORMATS = frozenset({"json", "af-list", "af-dict"})
#: The bytes every reference in JSON contains: JSON without them names no value.
_REF_MARK = f'"{REF_KEY}"'.encode()


def may_hold_values(value: Value) -> bool:
    """Whether ``value`` may hold other values (its bytes must be read to know)."""
    if value.format not in CONTAINER_FORMATS:
        return False
    return value.inline is None or value.format != "json" or _REF_MARK in value.inline


def _references(data: Any) -> Iterator[Any]:
    """The value references (``{"$airfoil": ...}``) anywhere in plain JSON data."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if REF_KEY in item:
                yield item
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def inner_values(value: Value, data: bytes, uri: Callable[[str], str]) -> list[Value]:
    """The values ``value`` holds, one level down, given its bytes ``data``: those its JSON
    names by reference (offloaded ones at ``uri(key)`` of their content-addressed key, as
    the type engine reads them), or the members of an ``af-list`` / ``af-dict``.

    Raises:
        TypeTransformError: the bytes are not valid JSON.
        ValueRefError: a reference is malformed.
    """
    if value.format == "af-list":
        return list(msgspec.json.decode(data, type=list[Value]))
    if value.format == "af-dict":
        return list(msgspec.json.decode(data, type=dict[str, Value]).values())
    if value.format != "json" or _REF_MARK not in data:
        return []
    out = []
    for item in _references(decode_json_bytes(data)):
        ref = ValueRef.from_json(item)
        out.append(
            ref.to_value() if ref.inline is not None else ref.to_value(uri(values_key(ref.hash)))
        )
    return out
