"""Each node's bounded, content-addressed cache of the blobs its workers fetched.

A Ray worker reads a task's offloaded inputs (``values/...`` keys: content-addressed, never
rewritten) through a :class:`CachingBlobStore`, which keeps a copy of each blob it fetched in
a folder on its node (:class:`NodeBlobCache`). The next attempt on that node reading the same
blob -- in this worker or in any other worker process of the node -- reads the local copy and
fetches nothing. The driver learns what each node holds (:class:`FetchReport`, returned with
each attempt's result) and keeps a node -> blobs index (:class:`BlobLocality`) that placement
reads to prefer, softly, the node already holding most of a task's input bytes.

Invariants:

- An entry is a data file and a small record (``<key>.json``: URI, size, and the bytes'
  digest under its algorithm's name: the one a reader's check proved, BLAKE3 for a frame or
  an array, else SHA-256) written after it; both appear whole (temporary file + atomic
  rename), so concurrent workers of one node never see half an entry. A lock file per
  entry (``flock``) makes a second worker wanting the same blob wait for the first's
  download instead of fetching it again.
- A hit is verified: its size and digest must match the record (hashed once per process for
  an unchanged file, by the record's algorithm; a record of an older version holds a
  SHA-256). A damaged entry is dropped and fetched again, never served.
- A reader that maps a value's blob (a frame, an array: ``BlobStore.local_copy``) passes its
  check of the bytes against the value's hash: a download is checked before it becomes an
  entry (one that fails is removed and raised, never kept), and a hit is checked by it
  instead of by its record's digest. The digest the check proved is the record's: a
  download is hashed once, not again for the record. The reader gets a hard link to the entry
  in its scratch folder, not a copy: the bytes are fetched and written once on the node,
  and the link outlives the entry's eviction.
- The cache holds at most ``max_bytes``: after each insert the least recently used entries (by
  access time, which each hit refreshes) are removed. A blob larger than the bound is read
  straight from the store, never cached.
- A value's blob written or deleted through the :class:`CachingBlobStore` drops this node's
  copy, unless it holds the very bytes written (a task returning its input): the store
  passes the blob store conformance suite. Other nodes' copies stay (a value's key is its
  content's: only a rewrite by hand changes the bytes under one).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, TypeVar

import msgspec

from airfoil.core.blobs import BlobCheck, BlobStore
from airfoil.core.errors import CorruptBlobError
from airfoil.core.records import Value
from airfoil.executors._blob_cache_config import DEFAULT_CACHE_BYTES, BlobCacheConfig
from airfoil.types._digests import BLAKE3, SHA256, digest_bytes, digest_file
from airfoil.types._integrity import remember_digest

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "BlobCacheConfig",
    "BlobLocality",
    "CachingBlobStore",
    "FetchReport",
    "NodeBlobCache",
    "cacheable",
]

_T = TypeVar("_T")
_SUFFIX = ".json"


def cacheable(uri: str) -> bool:
    """Whether a blob is content-addressed (a value's: its bytes never change)."""
    return "/values/" in uri


class FetchReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one attempt's reads did to its node's cache (sent back with its result)."""

    node: str
    hits: int = 0
    misses: int = 0
    bytes_fetched: int = 0
    bytes_cached: int = 0  # read from the node's cache instead of the store
    held: dict[str, int] = {}  # uri -> size: entries the attempt read or added
    evicted: list[str] = []


@dataclass
class _Counts:
    hits: int = 0
    misses: int = 0
    bytes_fetched: int = 0
    bytes_cached: int = 0
    held: dict[str, int] = field(default_factory=dict)
    evicted: list[str] = field(default_factory=list)


class NodeBlobCache:
    """A folder of cached blobs on this node, shared by every worker process of it.

    Args:
        directory: where entries live (created if missing).
        max_bytes: the bound on the bytes of all entries.
    """

    def __init__(self, directory: str, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._verified: dict[tuple[str, int, int, int, str], str] = {}
        os.makedirs(os.path.join(directory, "tmp"), exist_ok=True)

    def _entry(self, uri: str) -> str:
        digest = hashlib.sha256(uri.encode()).hexdigest()
        return os.path.join(self.directory, digest[:2], digest)

    def lookup(self, uri: str, check: BlobCheck | None = None) -> str | None:
        """The verified local copy of ``uri``, or None (a damaged entry is removed).
        ``check(path)`` (a reader's check of the bytes against its value's hash) verifies
        it in place of its record's digest: raising :class:`CorruptBlobError`, the entry
        is damaged."""
        path = self._entry(uri)
        try:
            with open(path + _SUFFIX, "rb") as fh:
                record = json.loads(fh.read())
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        held = _held(record)
        if held is None or record.get("uri") != uri or st.st_size != record.get("size"):
            good = False
        elif check is not None:  # (remembered by the check itself, not here)
            good = _passes(check, path)
        else:
            algorithm, digest = held
            key = (path, st.st_ino, st.st_size, st.st_mtime_ns, algorithm)
            found = self._verified.get(key)
            if found is None:
                found = digest_file(path, algorithm)
                self._remember(key, found)
            good = found == digest
        if not good:
            self._remove(path)
            return None
        with contextlib.suppress(OSError):  # the access time orders eviction (LRU)
            os.utime(path, ns=(time.time_ns(), st.st_mtime_ns))
        return path

    def _remember(self, key: tuple[str, int, int, int, str], digest: str) -> None:
        """Trust this file's hash (of the key's algorithm) while it is unchanged, here and
        in the value checks of this process (they would hash the file again)."""
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[key] = digest
        remember_digest(key[0], digest, key[4])

    def fetch(
        self,
        uri: str,
        download: Callable[[str], None],
        counts: _Counts | None = None,
        check: BlobCheck | None = None,
    ) -> tuple[str, bool]:
        """A local copy of ``uri``, downloading it with ``download(path)`` on a miss, and
        whether the cache keeps it: a blob larger than the whole cache is handed over as a
        temporary file that the caller removes once read. ``check(path)``, if given, vets
        a hit (:meth:`lookup`) and a download before it is kept or handed over: what it
        raises propagates, the download removed; the digest it proved is the record's
        (without a check, or where it proves none, the download's SHA-256 is).

        Another worker downloading the same blob is waited for, not duplicated.
        """
        path = self._entry(uri)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with _locked(path + ".lock"):
            found = self.lookup(uri, check)
            if found is not None:
                if counts is not None:
                    size = os.path.getsize(found)
                    counts.hits += 1
                    counts.bytes_cached += size
                    counts.held[uri] = size
                return found, True
            tmp = os.path.join(self.directory, "tmp", uuid.uuid4().hex)
            handed = False
            try:
                download(tmp)
                size = os.path.getsize(tmp)
                if counts is not None:
                    counts.misses += 1
                    counts.bytes_fetched += size
                if size > self.max_bytes:
                    if check is not None:
                        check(tmp)
                    handed = True
                    return tmp, False
                os.replace(tmp, path)  # no entry before its record: checked at its name
                try:
                    proved = check(path) if check is not None else None
                    algorithm, digest = proved or (SHA256, digest_file(path, SHA256))
                except BaseException:
                    self._remove(path)
                    raise
                st = os.stat(path)
                self._remember((path, st.st_ino, st.st_size, st.st_mtime_ns, algorithm), digest)
                record = json.dumps({"uri": uri, "size": size, algorithm: digest}).encode()
                _write_atomic(path + _SUFFIX, record, self.directory)
            finally:
                if not handed and os.path.exists(tmp):
                    os.remove(tmp)
        evicted = self.evict(keep=path)
        if counts is not None:
            counts.held[uri] = size
            counts.evicted.extend(evicted)
        return path, True

    def forget(self, uri: str, digest: Callable[[str], str] | None = None) -> None:
        """Drop ``uri``'s entry: its blob was rewritten or deleted through this node. Kept
        if ``digest(algorithm)`` (the digest of the bytes now stored, by the algorithm of
        the entry's record, asked only when there is an entry) is what it holds: a value
        written again is the same bytes."""
        path = self._entry(uri)
        if not (os.path.exists(path + _SUFFIX) or os.path.exists(path)):
            return  # the common case: one failed stat, no lock file left behind
        with _locked(path + ".lock"):
            try:
                with open(path + _SUFFIX, "rb") as fh:
                    held = _held(json.loads(fh.read()))
            except (OSError, ValueError):
                held = None
            if held is None or digest is None or held[1] != digest(held[0]):
                self._remove(path)

    def entries(self) -> list[tuple[str, int, float]]:
        """``(uri, size, last access)`` of every whole entry, oldest access first."""
        out = []
        for path in self._paths():
            try:
                with open(path + _SUFFIX, "rb") as fh:
                    uri = str(json.loads(fh.read()).get("uri", ""))
                st = os.stat(path)
            except (OSError, ValueError):
                continue
            out.append((uri, st.st_size, st.st_atime))
        return sorted(out, key=lambda e: e[2])

    def size(self) -> int:
        """The bytes the cache holds now."""
        return sum(size for _, size, _ in self.entries())

    def evict(self, keep: str = "") -> list[str]:
        """Remove the least recently used entries until the cache is within its bound (never
        ``keep``, the entry just added); the URIs removed."""
        sized = []
        total = 0
        for path in self._paths():
            try:
                st = os.stat(path)
            except OSError:
                continue
            total += st.st_size
            sized.append((st.st_atime_ns, path, st.st_size))
        removed: list[str] = []
        for _, path, size in sorted(sized):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            try:
                with open(path + _SUFFIX, "rb") as fh:
                    uri = str(json.loads(fh.read()).get("uri", ""))
            except (OSError, ValueError):
                uri = ""
            self._remove(path)
            with contextlib.suppress(FileNotFoundError):  # (a worker waiting on it at worst
                os.remove(path + ".lock")  # downloads the blob again: renames stay atomic)
            total -= size
            if uri:
                removed.append(uri)
        return removed

    def _paths(self) -> Iterator[str]:
        """The data files of the entries (temporaries, records and locks left out)."""
        with os.scandir(self.directory) as shards:
            for shard in shards:
                if len(shard.name) != 2 or not shard.is_dir():
                    continue
                with os.scandir(shard.path) as files:
                    for f in files:
                        if "." not in f.name:
                            yield f.path

    @staticmethod
    def _remove(path: str) -> None:
        for p in (path + _SUFFIX, path):  # the record first: without it, no hit
            with contextlib.suppress(FileNotFoundError):
                os.remove(p)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_atomic(path: str, data: bytes, directory: str) -> None:
    tmp = os.path.join(directory, "tmp", uuid.uuid4().hex)
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class CachingBlobStore(BlobStore):
    """A blob store whose reads of values go through this node's :class:`NodeBlobCache`.

    Writes, logs, directories and everything else go to the store itself. Each read is noted
    for the attempt's log (:meth:`take_notes`: ``airfoil: input blob ... read from this node's
    cache, nothing fetched``) and counted for its :class:`FetchReport` (:meth:`take_report`).
    """

    def __init__(self, store: BlobStore, cache: NodeBlobCache, node: str = "") -> None:
        self.store = store
        self.cache = cache
        self.node = node
        self._counts = _Counts()
        self._notes: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def _note(self, text: str) -> None:
        with self._lock:
            self._notes.append((time.time(), f"airfoil: {text}"))

    def take_notes(self) -> list[tuple[float, str]]:
        with self._lock:
            notes, self._notes = self._notes, []
        return notes

    def take_report(self) -> FetchReport | None:
        """What reads did since the last call (None: nothing was read through the cache)."""
        with self._lock:
            c, self._counts = self._counts, _Counts()
        if not (c.hits or c.misses or c.evicted):
            return None
        return FetchReport(
            node=self.node,
            hits=c.hits,
            misses=c.misses,
            bytes_fetched=c.bytes_fetched,
            bytes_cached=c.bytes_cached,
            held=c.held,
            evicted=c.evicted,
        )

    def _cached(self, uri: str, check: BlobCheck | None = None) -> tuple[str, bool] | None:
        """A local copy of a value's blob (fetched now if missing) and whether the cache keeps
        it (else the caller removes it once read); None for a blob that is no value's.
        ``check``: see :meth:`NodeBlobCache.fetch`."""
        if not cacheable(uri):
            return None
        started = time.monotonic()
        counts = _Counts()
        try:
            got = self.cache.fetch(uri, lambda dest: self.store.get_file(uri, dest), counts, check)
        except OSError as exc:  # the node's disk (full, read-only): the store still answers
            self._note(
                f"input blob {_short(uri)}: this node's cache failed ({exc}): read "
                "from the blob store"
            )
            return None
        with self._lock:
            total = self._counts
            total.hits += counts.hits
            total.misses += counts.misses
            total.bytes_fetched += counts.bytes_fetched
            total.bytes_cached += counts.bytes_cached
            total.held.update(counts.held)
            total.evicted.extend(counts.evicted)
        if not counts.misses:
            self._note(
                f"input blob {_short(uri)} ({_mb(counts.bytes_cached)}) read from this "
                "node's cache, nothing fetched"
            )
        else:
            took = time.monotonic() - started
            where = "into this node's cache" if got[1] else "(larger than this node's cache)"
            self._note(
                f"input blob {_short(uri)} ({_mb(counts.bytes_fetched)}) fetched {where} "
                f"in {took:.2f} s"
            )
        return got

    def _read(
        self, uri: str, read: Callable[[str], _T], check: BlobCheck | None = None
    ) -> _T | None:
        """``read(local copy)``, or None when the blob is not cached; a copy evicted by
        another worker between the lookup and the read is fetched again once."""
        for _ in range(2):
            got = self._cached(uri, check)
            if got is None:
                return None
            path, kept = got
            try:
                return read(path)
            except FileNotFoundError:
                if not kept:
                    raise
            finally:
                if not kept:
                    os.remove(path)
        return None

    def get_bytes(self, uri: str) -> bytes:
        data = self._read(uri, _read_bytes)
        return data if data is not None else self.store.get_bytes(uri)

    def get_file(self, uri: str, local_path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        if self._read(uri, lambda path: shutil.copyfile(path, local_path)) is None:
            self.store.get_file(uri, local_path)

    def local_copy(self, uri: str, dest: str, check: BlobCheck) -> str:
        """A hard link at ``dest`` to this node's checked copy of a value's blob (see the
        module): nothing is copied. Where a link cannot be made (another filesystem), a
        copy, checked again."""
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        if self._read(uri, functools.partial(_place, dest=dest, check=check), check) is None:
            return super().local_copy(uri, dest, check)
        return dest

    def size(self, uri: str) -> int | None:
        return self.store.size(uri)

    def open_read(self, uri: str) -> BinaryIO:
        return self.store.open_read(uri)  # streamed from the store: the cache holds values whole

    def local_path(self, uri: str) -> str | None:
        own = self.store.local_path(uri)
        if own is None or not cacheable(uri) or not os.path.isfile(own):
            return own  # remote (readers use get_bytes/get_file), a write, or a folder
        if os.path.getsize(own) > self.cache.max_bytes:
            return own  # it would not be kept
        got = self._cached(uri)
        if got is None or not got[1]:
            return own
        return got[0]

    # -- the rest goes to the store --------------------------------------------------------

    def uri(self, key: str) -> str:
        return self.store.uri(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        uri = self.store.put_bytes(key, data)
        self._written(uri, functools.partial(digest_bytes, data))
        return uri

    def exists(self, uri: str) -> bool:
        return self.store.exists(uri)

    def delete(self, uri: str) -> None:
        self.store.delete(uri)
        self._written(uri)

    def put_file(self, key: str, local_path: str) -> str:
        uri = self.store.put_file(key, local_path)
        self._written(uri, functools.partial(digest_file, local_path))
        return uri

    def put_dir(self, key: str, local_dir: str) -> str:
        return self.store.put_dir(key, local_dir)

    def get_dir(self, uri: str, local_dir: str) -> None:
        self.store.get_dir(uri, local_dir)

    def persist(self, uri: str) -> None:
        self.store.persist(uri)

    def append_text(self, key: str, text: str) -> str:
        uri = self.store.append_text(key, text)
        self._written(uri)
        return uri

    def write_many(self, items: Sequence[tuple[str, bytes]]) -> list[str]:
        uris = self.store.write_many(items)
        for uri, (_, data) in zip(uris, items, strict=True):
            self._written(uri, functools.partial(digest_bytes, data))
        return uris

    def _written(self, uri: str, digest: Callable[[str], str] | None = None) -> None:
        """A value's blob written or deleted through this store: this node's copy of it goes
        unless it holds the same bytes (see :meth:`NodeBlobCache.forget`). Another node's
        copy stays: a value's key is its content's, so only a hand-made rewrite differs."""
        if cacheable(uri):
            self.cache.forget(uri, digest)


def _held(record: object) -> tuple[str, str] | None:
    """``(algorithm, digest)`` of an entry's record (an older version's: its SHA-256), or
    None: no digest of an algorithm this version knows (the entry is not trusted)."""
    if isinstance(record, dict):
        for algorithm in (BLAKE3, SHA256):
            digest = record.get(algorithm)
            if isinstance(digest, str) and digest:
                return algorithm, digest
    return None


def _passes(check: BlobCheck, path: str) -> bool:
    try:
        check(path)
    except CorruptBlobError:
        return False
    return True


def _place(path: str, dest: str, check: BlobCheck) -> bool:
    """``dest`` made the file at ``path`` (checked): a hard link, else a copy checked again.
    A ``path`` gone (evicted) raises :class:`FileNotFoundError` (fetched again)."""
    try:
        os.link(path, dest)
    except FileNotFoundError:
        raise
    except OSError:  # another filesystem, or one without links
        shutil.copyfile(path, dest)
        check(dest)
    return True


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _short(uri: str) -> str:
    key = uri[uri.find("/values/") + 1 :]
    return key[:28] + "..." if len(key) > 31 else key


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


class BlobLocality:
    """Which node holds which blobs, as the workers' :class:`FetchReport` say (thread-safe):
    placement reads it to prefer the node holding most of a task's input bytes.

    Args:
        min_bytes: the least a node must hold of a task's inputs to be preferred.
    """

    def __init__(self, min_bytes: int = 1 << 20) -> None:
        self.min_bytes = min_bytes
        self._held: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def record(self, report: FetchReport) -> None:
        if not report.node:
            return
        with self._lock:
            held = self._held.setdefault(report.node, {})
            held.update(report.held)
            for uri in report.evicted:
                held.pop(uri, None)

    def forget(self, node: str) -> None:
        """A node left the cluster: its cache went with it."""
        with self._lock:
            self._held.pop(node, None)

    def held(self, node: str) -> dict[str, int]:
        with self._lock:
            return dict(self._held.get(node, {}))

    def rank(self, inputs: Mapping[str, Value]) -> tuple[str, ...]:
        """The nodes holding at least ``min_bytes`` of these inputs' blobs, most first."""
        uris = {v.uri for v in inputs.values() if v.uri is not None and v.inline is None}
        if not uris or not self._held:
            return ()
        with self._lock:
            scores = [
                (sum(held.get(u, 0) for u in uris), node) for node, held in self._held.items()
            ]
        ranked = sorted((s for s in scores if s[0] >= self.min_bytes), key=lambda s: -s[0])
        return tuple(node for _, node in ranked)


#: The process's index (every ray executor of the process shares the cluster's node ids).
LOCALITY = BlobLocality()
