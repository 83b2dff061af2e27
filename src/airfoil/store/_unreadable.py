"""Records that no longer decode: one bad row must not fail a whole listing.

A record stored by an older or faulty version (a setting of the wrong type in a spec) fails
msgspec's decode. Reading that record raises :class:`~airfoil.core.errors.UnreadableRecordError`
naming it; a listing skips it and hands the same error to the caller's ``on_unreadable``
(or logs it as a warning where the caller gave none), so every other record is still listed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec

from airfoil.core.errors import UnreadableRecordError

__all__ = ["OnUnreadable", "decode_each", "decode_one", "unreadable"]

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
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            record_id = raw["id"]
    except msgspec.DecodeError:
        pass
    return UnreadableRecordError(kind, record_id, str(exc))


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
