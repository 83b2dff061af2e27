"""The I/O half of the cache (``cache.py`` is pure): is a hit's stored output still good?

A hit is served only when every offloaded output of the entry is in the blob store and its
content still matches the hash recorded when it was written -- and so is every offloaded
value *inside* an output (the frames of a ``list[pd.DataFrame]``, the arrays of a dataclass),
which the output's JSON names by reference. Otherwise the entry is dropped (a damaged blob
deleted) and the task recomputes, writing its outputs and a fresh entry: a damaged blob never
becomes a task's input through the cache.
"""

from __future__ import annotations

from airfoil.core.errors import CorruptBlobError, NotFoundError
from airfoil.core.records import CacheEntry, Value
from airfoil.store.base import BlobStore
from airfoil.types._integrity import check_blob
from airfoil.types._nested import inner_values, may_hold_values

__all__ = ["unusable_outputs"]


def _inside(value: Value, blobs: BlobStore) -> list[Value]:
    """The values an output holds (its blob was checked just before: not hashed again)."""
    if not may_hold_values(value):
        return []
    data = value.inline
    if data is None:
        assert value.uri is not None
        data = blobs.get_bytes(value.uri)
    return inner_values(value, data, blobs.uri)


def _check(value: Value, blobs: BlobStore) -> None:
    """Check an output's blob and those of the values inside it, however deep. A corrupt
    blob is deleted: blobs are stored by content and a write of content already stored is
    skipped, so the recomputed output (the same bytes, the same key) would otherwise be
    "written" over the damaged blob without replacing it, and the next task would read the
    damage in this run and every later one.

    Raises:
        NotFoundError: a blob is missing.
        CorruptBlobError: a blob's content does not match its value's hash.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        try:
            check_blob(item, blobs)
        except CorruptBlobError:
            assert item.uri is not None
            blobs.delete(item.uri)
            raise
        stack.extend(_inside(item, blobs))


def unusable_outputs(entry: CacheEntry, blobs: BlobStore) -> str | None:
    """Why the entry's outputs cannot be served (the reason recorded on the node), or
    ``None`` when they all can."""
    missing: list[str] = []
    corrupt: list[str] = []
    for name, value in sorted(entry.outputs.items()):
        try:
            _check(value, blobs)
        except NotFoundError:
            missing.append(name)
        except CorruptBlobError:
            corrupt.append(name)
    problems = []
    if missing:
        problems.append(f"cached output(s) {', '.join(missing)} missing from the blob store")
    if corrupt:
        problems.append(
            f"cached output(s) {', '.join(corrupt)} corrupt in the blob store (content no "
            "longer matches its hash)"
        )
    if not problems:
        return None
    return "; ".join(problems) + ": entry dropped and recomputed"
