"""Storage: abstract metadata and blob stores, and their backends.

``MetaStore`` keeps executions, nodes, attempts, events and cache entries; ``BlobStore``
keeps bytes (offloaded values, logs, code packages). Backends: in-memory, SQL (SQLite and
PostgreSQL) and fsspec blobs. Every backend passes ``airfoil.testing.conformance``.
"""

from airfoil.store.base import BlobStore, MetaStore

__all__ = ["BlobStore", "MetaStore"]
