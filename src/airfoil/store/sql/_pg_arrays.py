"""PostgreSQL binary arrays built in one pass, for the driver's fenced batch.

A driver's batch sends its records as parallel arrays (``unnest`` in one statement, see
``_statements._fenced``). psycopg's generic list dumper finds a dumper per element, measures
the dimensions and dumps each element through it: in the server's profile that was ~30% of
a driver slot's CPU for arrays of one to a few elements. The wrappers here carry their
elements already typed (``text`` as UTF-8 bytes: the records' JSON as msgspec wrote it, never
decoded and encoded again), and :func:`register` gives a psycopg connection one dumper per
wrapper that writes PostgreSQL's binary array format with one ``struct.pack`` per element.

Invariants:

- The bytes equal what PostgreSQL's ``array_recv`` accepts for a one-dimensional array with
  lower bound 1 and no NULLs (an empty list: zero dimensions); element OIDs ``text`` (25),
  ``int8`` (20), ``float8`` (701). The statement casts each array to its column's type.
- Elements are never NULL: every field sent this way is a required one of its record.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from airfoil.core.errors import StoreError
from airfoil.core.records import encode_json

__all__ = ["Float8Array", "Int8Array", "TextArray", "register"]

_HEADER = struct.Struct("!iiiii")  # ndim, has-nulls flag, element oid, length, lower bound
_EMPTY = struct.Struct("!iii")  # ndim 0, no nulls, element oid
_LEN = struct.Struct("!i")
_FLOAT8 = struct.Struct("!id")

TEXT_OID, INT8_OID, FLOAT8_OID = 25, 20, 701
TEXT_ARRAY_OID, INT8_ARRAY_OID, FLOAT8_ARRAY_OID = 1009, 1016, 1022


class TextArray:
    """A ``text[]`` parameter: UTF-8 strings (``bytes`` are taken as already encoded)."""

    __slots__ = ("data",)

    def __init__(self, items: list[str] | list[bytes]) -> None:
        if not items:
            self.data = _EMPTY.pack(0, 0, TEXT_OID)
            return
        pack = _LEN.pack
        encoded = [item if isinstance(item, bytes) else item.encode() for item in items]
        self.data = _HEADER.pack(1, 0, TEXT_OID, len(items), 1) + b"".join(
            [pack(len(b)) + b for b in encoded]
        )

    @classmethod
    def of_json(cls, records: Sequence[Any]) -> TextArray:
        """The records' JSON (``encode_json``'s), each element encoded
        and framed in one pass: no list of the encoded records in between."""
        out = cls.__new__(cls)
        if not records:
            out.data = _EMPTY.pack(0, 0, TEXT_OID)
            return out
        pack, encode = _LEN.pack, encode_json
        out.data = _HEADER.pack(1, 0, TEXT_OID, len(records), 1) + b"".join(
            [pack(len(b)) + b for b in map(encode, records)]
        )
        return out


_INT8 = struct.Struct("!iq")  # one element: its length (8), its value
_INT8_KEPT = 256  # the longest array packed by one ``Struct`` (a batch's sizes)
_int8_structs: dict[int, struct.Struct] = {}


def _pack_int8(n: int, items: list[int]) -> bytes:
    """The header and ``n`` framed ``int8`` elements: one ``Struct`` call with the lengths
    and values interleaved (a ``Struct`` kept per length up to ``_INT8_KEPT``), or one
    ``pack`` an element past it (no format of that length built for a single use).

    Raises:
        struct.error: a value does not fit in 64 bits.
    """
    if n > _INT8_KEPT:
        pack = _INT8.pack
        return _HEADER.pack(1, 0, INT8_OID, n, 1) + b"".join([pack(8, v) for v in items])
    whole = _int8_structs.get(n)
    if whole is None:
        whole = _int8_structs[n] = struct.Struct("!iiiii" + "iq" * n)
    flat: list[int] = [8, 0] * n
    flat[1::2] = items
    return whole.pack(1, 0, INT8_OID, n, 1, *flat)


class Int8Array:
    """An ``int8[]`` parameter.

    Raises:
        StoreError: a value does not fit in 64 bits (nothing is sent).
    """

    __slots__ = ("data",)

    def __init__(self, items: list[int]) -> None:
        n = len(items)
        if not n:
            self.data = _EMPTY.pack(0, 0, INT8_OID)
            return
        try:
            self.data = _pack_int8(n, items)
        except struct.error:
            big = next(v for v in items if not -(2**63) <= v < 2**63)
            raise StoreError(
                f"the integer {big} does not fit a 64-bit database column; nothing of the "
                "batch was written"
            ) from None


class Float8Array:
    """A ``float8[]`` parameter."""

    __slots__ = ("data",)

    def __init__(self, items: list[float]) -> None:
        if not items:
            self.data = _EMPTY.pack(0, 0, FLOAT8_OID)
            return
        pack = _FLOAT8.pack
        head = _HEADER.pack(1, 0, FLOAT8_OID, len(items), 1)
        self.data = head + b"".join([pack(8, v) for v in items])


_dumpers: list[tuple[type, type]] = []


def register(connection: Any) -> None:
    """Teach one psycopg connection to send the wrappers above (in binary, ``%(name)b``)."""
    if not _dumpers:
        from psycopg.adapt import Dumper
        from psycopg.pq import Format

        def dump(self: Any, obj: TextArray | Int8Array | Float8Array) -> bytes:
            return obj.data

        wrappers: list[tuple[type, int]] = [
            (TextArray, TEXT_ARRAY_OID),
            (Int8Array, INT8_ARRAY_OID),
            (Float8Array, FLOAT8_ARRAY_OID),
        ]
        for wrapper, oid in wrappers:
            namespace = {"format": Format.BINARY, "oid": oid, "dump": dump}
            _dumpers.append((wrapper, type(f"{wrapper.__name__}Dumper", (Dumper,), namespace)))
    for wrapper, dumper in _dumpers:
        connection.adapters.register_dumper(wrapper, dumper)
