"""Values as the versions before BLAKE3 wrote them (keyed by SHA-256, no ``digest`` in their
meta), and the check that such a value still reads and is still refused once damaged: shared
by the frame and the array digest tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from airfoil.core.errors import CorruptBlobError
from airfoil.core.records import Value
from airfoil.types._base import values_key
from airfoil.types._integrity import check_blob


def old_value(fmt: str, meta: dict[str, str], blobs: Any, data: bytes) -> Value:
    """A ``fmt`` value of ``data`` keyed by its SHA-256, as written before BLAKE3."""
    sha = hashlib.sha256(data).hexdigest()
    uri = blobs.put_bytes(values_key(sha), data)
    return Value(hash=sha, format=fmt, uri=uri, size=len(data), meta=meta)


def reads_then_refused_when_damaged(
    blobs: Any, old: Value, read: Callable[[Value], Any], check: Callable[[Any], None]
) -> None:
    """``check(read(old))``, and ``old``'s blob checked; then the blob damaged in place after
    it was written and refused by its SHA-256 on the next read. (``check`` runs first: a
    value read through a mapping of the blob would see the damage in its pages.)"""
    from airfoil.types import _integrity

    check(read(old))
    check_blob(old, blobs)
    with open(blobs.local_path(old.uri), "r+b") as fh:
        fh.seek(old.size - 8)
        fh.write(b"\x00" * 8)
    _integrity._checked.clear()
    with pytest.raises(CorruptBlobError, match="is corrupt"):
        read(old)
