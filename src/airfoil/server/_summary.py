"""A node's short input summary for the console's graph: its constant inputs as
``name=value`` pairs (``model=lr, c=0.5``), so several calls of one task tell apart.

Only literal bindings count (an input wired to another node's output is drawn as an edge);
values are decoded from inline JSON and never from blobs, and the text is clipped.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from airfoil.core.records import Binding

__all__ = ["input_summary"]

_MAX = 60
_MAX_VALUE = 24


def _short(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE else value[: _MAX_VALUE - 1] + "…"
    if isinstance(value, list | dict):
        text = msgspec.json.encode(value).decode()
        return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
    return None


def input_summary(inputs: Mapping[str, Binding]) -> str:
    """``k=v`` of the node's constant inputs, at most about 60 characters."""
    parts: list[str] = []
    for name, b in inputs.items():
        if b.kind != "literal" or b.value is None:
            continue
        v = b.value
        if v.format != "json" or v.inline is None:
            continue
        try:
            shown = _short(msgspec.json.decode(v.inline))
        except msgspec.DecodeError:
            continue
        if shown is not None:
            parts.append(f"{name}={shown}")
    text = ", ".join(parts)
    return text if len(text) <= _MAX else text[: _MAX - 1] + "…"
