"""Storage: abstract metadata and blob stores, and their backends.

``MetaStore`` keeps executions, nodes, attempts, events and cache entries; ``BlobStore``
keeps bytes (offloaded values, logs, code packages). Backends: in-memory, SQL (SQLite and
PostgreSQL) and fsspec blobs. Every backend passes ``airfoil.testing.conformance``.

Both names are imported on first use: a module of this package imported alone (the artifact
store a service opens) does not load the metadata store's interface and its mixins.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airfoil.store.base import BlobStore, MetaStore

__all__ = ["BlobStore", "MetaStore"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from airfoil.store import base

        value = getattr(base, name)
        globals()[name] = value  # found at once next time
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
