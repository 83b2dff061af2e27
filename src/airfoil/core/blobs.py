"""The blob store's abstract class: bytes by key, behind one small interface.

It lives in ``core`` because every layer moves values through it -- the type engine and the
SDK read and write offloaded values, the client uploads inputs, workers write outputs -- while
the backends (a local directory, any fsspec URL, memory) live in :mod:`airfoil.store` and are
chosen by an entry point. ``airfoil.store.base`` re-exports it.

Invariant every backend keeps (checked by the conformance suite): a blob is never visible
half-written (``put`` writes to a temporary name and renames); keys are content-addressed by
their callers, so putting the same key twice is harmless.
"""

from __future__ import annotations

import abc
import io
from collections.abc import Callable, Sequence
from typing import BinaryIO

__all__ = ["DIRECTORY_MARKER", "BlobCheck", "BlobStore"]

#: The file a stored directory tree is completed by, written last at its top (``put_dir``);
#: a directory value whose top holds a file of this name is refused (it would be replaced).
DIRECTORY_MARKER = ".airfoil-complete"

#: A reader's check of a local file of a blob against its value's hash: raises
#: ``CorruptBlobError`` where they differ, else returns the ``(algorithm, hex digest)`` of
#: the bytes it proved (None: it tells none, a directory's check).
BlobCheck = Callable[[str], "tuple[str, str] | None"]


class BlobStore(abc.ABC):
    """Bytes by key. Keys are relative paths (``"values/ab/abcdef..."``); URIs are absolute."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """The URI a key has (or would have) in this store."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` atomically under ``key``; return its URI."""

    @abc.abstractmethod
    def get_bytes(self, uri: str) -> bytes:
        """Read a blob. Raises NotFoundError if it does not exist."""

    @abc.abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether a blob exists."""

    @abc.abstractmethod
    def delete(self, uri: str) -> None:
        """Remove a blob or a directory tree if it exists."""

    @abc.abstractmethod
    def put_file(self, key: str, local_path: str) -> str:
        """Upload a local file atomically; return its URI."""

    @abc.abstractmethod
    def get_file(self, uri: str, local_path: str) -> None:
        """Download a blob to a local file. Raises NotFoundError."""

    @abc.abstractmethod
    def put_dir(self, key: str, local_dir: str) -> str:
        """Upload a local directory tree under ``key``; return its URI. The tree becomes
        visible only once complete (a marker file is written last)."""

    @abc.abstractmethod
    def get_dir(self, uri: str, local_dir: str) -> None:
        """Download a directory tree. Raises NotFoundError if it is missing or incomplete."""

    @abc.abstractmethod
    def local_path(self, uri: str) -> str | None:
        """A local filesystem path for a blob if the store is local (zero-copy reads), else
        None."""

    def local_copy(self, uri: str, dest: str, check: BlobCheck) -> str:
        """``dest``: a local file of a blob for a reader to map, ``check(file)`` having
        passed (the caller's check of the bytes against its value's hash; it returns the
        ``(algorithm, digest)`` it proved, or None). Default: the blob
        downloaded there (:meth:`get_file`), then checked. A store that keeps its own local
        copy of what it fetched (a Ray node's cache of values) links that copy there
        instead, checked before it is kept, so the bytes are fetched and written once. What
        ``check`` raises propagates; ``dest`` is then the caller's to remove.
        Raises NotFoundError."""
        self.get_file(uri, dest)
        check(dest)
        return dest

    def size(self, uri: str) -> int | None:
        """A blob's size in bytes without reading it, or None where the store cannot tell
        (read it to know). Raises NotFoundError if it does not exist (where it can tell).

        A reader with a bound (a log search skips logs over 8 MB) asks this first, so a
        blob of gigabytes is never read only to be left out."""
        return None

    def open_read(self, uri: str) -> BinaryIO:
        """A blob opened for reading in pieces (``read(n)``), to be closed by the caller (a
        ``with`` block), so a reader with a bound (a report past what a page shows) or one
        that copies (a report written to a file) never holds the whole blob. Raises
        NotFoundError if it does not exist. Default: the blob read whole, for a backend that
        cannot stream."""
        return io.BytesIO(self.get_bytes(uri))

    def persist(self, uri: str) -> None:
        """Make a blob written outside :meth:`put_bytes` (straight into :meth:`local_path`)
        as durable as the store's own writes. Default: nothing to do (an object store's PUT
        is durable once it returns)."""
        return None

    def take_notes(self) -> list[tuple[float, str]]:
        """``(time, text)`` notes on what this store did for the running attempt since the
        last call (a node's cache: which inputs it fetched), for the attempt's log.
        Default: none."""
        return []

    def append_text(self, key: str, text: str) -> str:
        """Append text to a blob (logs). Default: read, append, rewrite."""
        uri = self.uri(key)
        old = self.get_bytes(uri) if self.exists(uri) else b""
        return self.put_bytes(key, old + text.encode())

    def write_many(self, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """Write several blobs; return their URIs."""
        return [self.put_bytes(k, d) for k, d in items]
