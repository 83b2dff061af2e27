"""How the workers of each node cache the blobs they fetch: the setting alone.

Every executor context carries a :class:`BlobCacheConfig`, so an ``airfoil run`` builds one;
the cache itself (:mod:`airfoil.executors._blob_cache`) is imported only by the executors that
fetch through it (Ray's workers), not by a local inline run (issue 17, W5).
"""

from __future__ import annotations

import os
import tempfile

import msgspec

from airfoil.core.errors import ConfigError

__all__ = ["DEFAULT_CACHE_BYTES", "BlobCacheConfig"]

DEFAULT_CACHE_BYTES = 10 * 2**30


class BlobCacheConfig(msgspec.Struct, frozen=True):
    """How the workers of each node cache the blobs they fetch.

    Attributes:
        directory: the cache's folder on each node ("": ``<temp dir>/airfoil-blob-cache``).
        max_bytes: the most bytes a node's cache holds (0: no cache).
        local_stores: cache a local-folder blob store too (a network mount every node
            shares); by default only stores without a local path (``s3://``...) are cached.
    """

    directory: str = ""
    max_bytes: int = DEFAULT_CACHE_BYTES
    local_stores: bool = False

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ConfigError(
                f"the blob cache's size must be 0 (off) or more bytes, got {self.max_bytes}: "
                "set AIRFOIL_BLOB_CACHE_BYTES to e.g. 20Gi"
            )
        if self.directory and not os.path.isabs(os.path.expanduser(self.directory)):
            raise ConfigError(
                f"the blob cache's folder must be an absolute path (it is read on every node), "
                f"got {self.directory!r}: set AIRFOIL_BLOB_CACHE_DIR to e.g. /var/cache/airfoil"
            )

    def on_this_node(self) -> BlobCacheConfig:
        """The config as this node sees it: ``AIRFOIL_BLOB_CACHE_DIR`` and
        ``AIRFOIL_BLOB_CACHE_BYTES`` in the node's environment (what ``ray start`` was
        given: each machine knows its disks) win over the driver's; the default folder is
        ``<temp dir>/airfoil-blob-cache-<uid>``."""
        from airfoil.core.resources import parse_memory

        directory = os.environ.get("AIRFOIL_BLOB_CACHE_DIR") or self.directory
        size = os.environ.get("AIRFOIL_BLOB_CACHE_BYTES", "").strip()
        max_bytes = parse_memory(int(size) if size.isdigit() else size) if size else self.max_bytes
        if not directory:
            directory = os.path.join(tempfile.gettempdir(), f"airfoil-blob-cache-{os.getuid()}")
        return BlobCacheConfig(os.path.expanduser(directory), max_bytes, self.local_stores)
