"""Values assembled by the engine from other values: a list or dict of promises bound to one
input, a map's outputs. Their content hash is derived from the members' hashes, so it is
stable without reading any member."""

from __future__ import annotations

from airfoil.core.ids import sha256_hex, stable_hash
from airfoil.core.records import Value, encode_json

__all__ = ["NULL_VALUE", "dict_value", "list_value"]

_NULL = b"null"
#: The JSON ``null`` value (an item of a map that failed under ``min_success_ratio``).
NULL_VALUE = Value(hash=sha256_hex(_NULL), format="json", inline=_NULL, size=len(_NULL))


def list_value(items: list[Value]) -> Value:
    """An ``af-list`` value of member values."""
    payload = encode_json(items)
    digest = stable_hash("list", *(v.hash for v in items))
    return Value(hash=digest, format="af-list", inline=payload, size=len(payload))


def dict_value(keys: list[str], items: list[Value]) -> Value:
    """An ``af-dict`` value of member values."""
    payload = encode_json(dict(zip(keys, items, strict=True)))
    digest = stable_hash("dict", *(f"{k}={v.hash}" for k, v in zip(keys, items, strict=True)))
    return Value(hash=digest, format="af-dict", inline=payload, size=len(payload))
