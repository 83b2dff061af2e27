"""The I/O half of the cache (``cache.py`` is pure): is a hit's stored output still good?

A hit is served only when every offloaded output of the entry is in the blob store and its
content still matches the hash recorded when it was written. Otherwise the entry is dropped
(a damaged blob deleted) and the task recomputes, writing its outputs and a fresh entry: a
damaged blob never becomes a task's input through the cache.
"""

from __future__ import annotations

from airfoil.core.errors import CorruptBlobError, NotFoundError
from airfoil.core.records import CacheEntry
from airfoil.store.base import BlobStore
from airfoil.types._integrity import check_blob

__all__ = ["unusable_outputs"]


def unusable_outputs(entry: CacheEntry, blobs: BlobStore) -> str | None:
    """Why the entry's outputs cannot be served (the reason recorded on the node), or
    ``None`` when they all can."""
    missing: list[str] = []
    corrupt: list[str] = []
    for name, value in sorted(entry.outputs.items()):
        if not value.uri:
            continue
        try:
            check_blob(value, blobs)
        except NotFoundError:
            missing.append(name)
        except CorruptBlobError:
            # Deleted: blobs are stored by content and a write of content already stored is
            # skipped, so the recomputed output (the same bytes, the same key) would be
            # "written" over the damaged blob without replacing it, and the next task would
            # read the damage in this run and every later one.
            blobs.delete(value.uri)
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
