"""Records that no longer decode: one bad row must not fail a whole listing.

A record stored by an older or faulty version (a setting of the wrong type in a spec) fails
msgspec's decode. Reading that record raises :class:`~airfoil.core.errors.UnreadableRecordError`
naming it; a listing of executions skips it and hands the same error to the caller's
``on_unreadable`` (or logs it as a warning where the caller gave none), so every other record
is still listed.

An execution's parts (its nodes, attempts and events) are read whole by default: one that
does not decode raises, because the engine must never act on part of a graph (a node left
out would run again). A reader that only shows them (a detail, the events page) passes
``on_unreadable`` and gets the rest (:func:`decode_parts`).

Ids: an execution's own; a node ``<execution>/<node>``, an attempt
``<execution>/<node>#<attempt>``, an event ``<execution>@<seq>`` (``?`` for what cannot be
read even leniently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec

from airfoil.core.errors import UnreadableRecordError

__all__ = ["OnUnreadable", "decode_each", "decode_one", "decode_parts", "unreadable"]

log = logging.getLogger("airfoil.store")

T = TypeVar("T")
#: called once for each record of a listing that does not decode
OnUnreadable = Callable[[UnreadableRecordError], None]


def unreadable(kind: str, data: str | bytes, exc: Exception) -> UnreadableRecordError:
    """The error for ``data`` (a stored ``kind`` record) that failed to decode with ``exc``;
    its id is read leniently (``"?"`` where even that fails)."""
    record_id = "?"
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raw = None
    if isinstance(raw, dict):
        record_id = _record_id(kind, raw)
    return UnreadableRecordError(kind, record_id, str(exc))


def _record_id(kind: str, raw: dict[str, object]) -> str:
    def part(key: str) -> str:
        v = raw.get(key)
        return str(v) if isinstance(v, (str, int)) and not isinstance(v, bool) else "?"

    if kind == "node":
        return f"{part('execution_id')}/{part('node_id')}"
    if kind == "attempt":
        return f"{part('execution_id')}/{part('node_id')}#{part('attempt')}"
    if kind == "event":
        return f"{part('execution_id')}@{part('seq')}"
    return part("id")


def decode_one(kind: str, data: str | bytes, decode: Callable[[str | bytes], T]) -> T:
    """``decode(data)``; a record that does not decode raises UnreadableRecordError."""
    try:
        return decode(data)
    except UnreadableRecordError:
        raise
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise unreadable(kind, data, exc) from exc


def decode_each(
    kind: str,
    rows: Iterable[str | bytes],
    decode: Callable[[str | bytes], T],
    on_unreadable: OnUnreadable | None = None,
) -> list[T]:
    """Each row decoded; a row that does not decode is left out and reported."""
    out: list[T] = []
    for data in rows:
        try:
            out.append(decode_one(kind, data, decode))
        except UnreadableRecordError as exc:
            if on_unreadable is None:
                log.warning("skipped in a listing: %s", exc)
            else:
                on_unreadable(exc)
    return out


def decode_parts(
    kind: str,
    rows: Iterable[str | bytes],
    decode: Callable[[str | bytes], T],
    on_unreadable: OnUnreadable | None = None,
) -> list[T]:
    """An execution's parts: all of them, or UnreadableRecordError for the first that does
    not decode; with ``on_unreadable``, the rest (each one left out handed to it)."""
    if on_unreadable is None:
        return [decode_one(kind, data, decode) for data in rows]
    return decode_each(kind, rows, decode, on_unreadable)
