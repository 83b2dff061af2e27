"""A frame or an array read on a Ray node through its blob cache (``CachingBlobStore``
behind a remote store): fetched once, checked against the value's hash before the cache
keeps it, and handed to the reader as a link to the cache's copy, not a second copy."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_remote_reads import KINDS as REMOTE_KINDS
from test_remote_reads import _equal

from airfoil.core.errors import CorruptBlobError
from airfoil.core.records import Value
from airfoil.executors import _blob_cache
from airfoil.executors._blob_cache import CachingBlobStore, NodeBlobCache
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import TypeEngine, ValueContext, _digests, _integrity
from airfoil.types._base import values_key

pytestmark = pytest.mark.unit


KINDS = pytest.mark.parametrize(("make", "py_type"), REMOTE_KINDS, ids=["array", "frame"])


class _Node:
    """A remote store, what it was asked to download, and a node's cache in front of it."""

    def __init__(self, tmp_path: Path) -> None:
        self.remote = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
        self.cache = NodeBlobCache(str(tmp_path / "cache"), 10_000_000)
        self.blobs = CachingBlobStore(self.remote, self.cache, node="n1")
        self.asked: list[str] = []
        self.tmp = tmp_path
        real = self.remote.get_file

        def get_file(uri: str, local_path: str) -> None:
            self.asked.append(uri)
            real(uri, local_path)

        self.remote.get_file = get_file  # type: ignore[method-assign]

    def attempt(self, name: str) -> ValueContext:
        """A task attempt's context on this node (its own scratch folder)."""
        return ValueContext(self.blobs, offload_threshold=0, scratch_dir=str(self.tmp / name))

    def store(self, obj: Any, py_type: Any) -> Value:
        return TypeEngine().to_value(obj, py_type, ValueContext(self.remote, offload_threshold=0))

    def damage(self, value: Value) -> bytes:
        good = self.remote.get_bytes(value.uri or "")
        self.remote.put_bytes(values_key(value.hash), good[:-64] + bytes(64))
        return good

    def cached_files(self) -> list[str]:
        return sorted(
            f for _, _, files in os.walk(self.cache.directory) for f in files if "." not in f
        )


def _downloaded(ctx: ValueContext, value: Value) -> str:
    return os.path.join(ctx.scratch(), "download", f"{value.hash}.{value.format}")


@KINDS
def test_a_read_on_a_node_is_fetched_and_written_once(
    tmp_path: Path, make: Callable[[], Any], py_type: Any
) -> None:
    """On main the reader's file was a second copy of the cache's (downloaded into the
    cache, then copied into the attempt's scratch folder): another inode."""
    node = _Node(tmp_path)
    obj = make()
    value = node.store(obj, py_type)
    engine = TypeEngine()
    first = node.attempt("first")
    _equal(engine.to_python(value, py_type, first), obj)
    entry = node.cache.lookup(value.uri or "")
    assert entry is not None
    assert os.stat(_downloaded(first, value)).st_ino == os.stat(entry).st_ino  # a link
    second = node.attempt("second")  # another attempt on the node: fetches nothing
    _equal(engine.to_python(value, py_type, second), obj)
    assert os.stat(_downloaded(second, value)).st_ino == os.stat(entry).st_ino
    assert node.asked == [value.uri]
    report = node.blobs.take_report()
    assert report is not None and (report.misses, report.hits) == (1, 1)
    node.cache.max_bytes = 0
    node.cache.evict()  # the entry goes; the attempts' links stay whole
    assert node.cached_files() == []
    _equal(engine.to_python(value, py_type, first), obj)


@KINDS
def test_a_damaged_download_on_a_node_is_neither_used_nor_kept(
    tmp_path: Path, make: Callable[[], Any], py_type: Any
) -> None:
    """On main the node's cache kept the damaged download (it checked only its own
    SHA-256 of what it fetched), so each attempt copied it again only to refuse it."""
    node = _Node(tmp_path)
    obj = make()
    value = node.store(obj, py_type)
    good = node.damage(value)
    ctx = node.attempt("a")
    for _ in range(2):
        with pytest.raises(CorruptBlobError, match="is corrupt"):
            TypeEngine().to_python(value, py_type, ctx)
        assert node.cached_files() == []
        assert os.listdir(os.path.join(node.cache.directory, "tmp")) == []
        assert os.listdir(os.path.join(ctx.scratch(), "download")) == []
    node.remote.put_bytes(values_key(value.hash), good)  # repaired: the next read fetches it
    _equal(TypeEngine().to_python(value, py_type, ctx), obj)


@KINDS
def test_an_entry_that_fails_the_value_s_check_is_fetched_again(
    tmp_path: Path, make: Callable[[], Any], py_type: Any
) -> None:
    """An entry kept without the value's check (read as bytes, or by an older version)
    whose bytes are not the value's is dropped and fetched again. On main its copy was
    refused on every read while the entry lived."""
    node = _Node(tmp_path)
    obj = make()
    value = node.store(obj, py_type)
    good = node.damage(value)
    node.blobs.get_bytes(value.uri or "")  # kept as fetched: its SHA-256 is the record's
    node.remote.put_bytes(values_key(value.hash), good)
    _equal(TypeEngine().to_python(value, py_type, node.attempt("a")), obj)
    assert node.asked == [value.uri, value.uri]  # the damaged entry dropped, fetched again


@KINDS
def test_where_no_link_can_be_made_the_reader_gets_a_checked_copy(
    tmp_path: Path, make: Callable[[], Any], py_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = _Node(tmp_path)
    obj = make()
    value = node.store(obj, py_type)

    def cross_device(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(_blob_cache.os, "link", cross_device)
    ctx = node.attempt("a")
    _equal(TypeEngine().to_python(value, py_type, ctx), obj)
    entry = node.cache.lookup(value.uri or "")
    assert entry is not None
    assert os.stat(_downloaded(ctx, value)).st_ino != os.stat(entry).st_ino


class _Hashed:
    """Every file hash of the process (SHA-256 through ``hashlib.file_digest``, BLAKE3
    through ``blake3``): the bytes each algorithm read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes: dict[str, int] = {}
        real_file_digest = hashlib.file_digest
        real_blake3 = _digests._blake3()
        hashed = self

        def file_digest(fh: Any, name: str) -> Any:
            hashed._add(name, os.fstat(fh.fileno()).st_size)
            return real_file_digest(fh, name)

        class Blake3:
            def __init__(self, data: Any = b"") -> None:
                self.h = real_blake3(data)
                hashed._add("blake3", len(memoryview(data).cast("B")))

            def update_mmap(self, path: str) -> None:
                hashed._add("blake3", os.path.getsize(path))
                self.h.update_mmap(path)

            def hexdigest(self) -> str:
                return str(self.h.hexdigest())

        monkeypatch.setattr(hashlib, "file_digest", file_digest)
        monkeypatch.setattr(_digests, "_blake3", lambda: Blake3)
        monkeypatch.setattr(_integrity, "_checked", {})  # a new worker process

    def _add(self, name: str, size: int) -> None:
        if size:
            self.bytes[name] = self.bytes.get(name, 0) + size

    def take(self) -> dict[str, int]:
        got, self.bytes = self.bytes, {}
        return got


def _stored(
    tmp_path: Path, make: Callable[[], Any], py_type: Any
) -> tuple[_Node, Any, Value, bytes]:
    """A node, an object stored as a value in its remote store, the value and its bytes."""
    node = _Node(tmp_path)
    obj = make()
    value = node.store(obj, py_type)
    return node, obj, value, node.remote.get_bytes(value.uri or "")


def _record(node: _Node, value: Value) -> dict[str, Any]:
    entry = node.cache.lookup(value.uri or "")
    assert entry is not None
    with open(entry + ".json", "rb") as fh:
        return dict(json.loads(fh.read()))


@KINDS
def test_a_first_read_on_a_node_hashes_the_blob_once(
    tmp_path: Path, make: Callable[[], Any], py_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value's check (BLAKE3) is the entry's record: on main the cache hashed the
    download again (SHA-256) for its record, reading every byte twice."""
    node, obj, value, good = _stored(tmp_path, make, py_type)
    size = len(good)
    hashed = _Hashed(monkeypatch)
    _equal(TypeEngine().to_python(value, py_type, node.attempt("first")), obj)
    assert hashed.take() == {"blake3": size}
    record = _record(node, value)
    assert record == {"uri": value.uri, "size": size, "blake3": value.hash}
    node.cache = NodeBlobCache(node.cache.directory, node.cache.max_bytes)
    node.blobs = CachingBlobStore(node.remote, node.cache, node="n1")  # another worker
    monkeypatch.setattr(_integrity, "_checked", {})
    assert node.blobs.get_bytes(value.uri or "") == node.remote.get_bytes(value.uri or "")
    assert hashed.take() == {"blake3": size}  # a hit by bytes: the record's algorithm
    assert node.asked == [value.uri]


@KINDS
def test_an_entry_damaged_after_a_checked_read_is_caught_on_its_next_hit(
    tmp_path: Path, make: Callable[[], Any], py_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, obj, value, good = _stored(tmp_path, make, py_type)
    _equal(TypeEngine().to_python(value, py_type, node.attempt("first")), obj)
    for n, read in enumerate(("bytes", "mapped")):
        entry = node.cache.lookup(value.uri or "")
        assert entry is not None
        os.remove(entry)  # the reader's link keeps the good bytes
        Path(entry).write_bytes(good[:-64] + bytes(64))  # damaged in place: same size
        monkeypatch.setattr(_integrity, "_checked", {})
        node.cache = NodeBlobCache(node.cache.directory, node.cache.max_bytes)
        node.blobs = CachingBlobStore(node.remote, node.cache, node="n1")
        if read == "bytes":
            assert node.blobs.get_bytes(value.uri or "") == good
        else:
            _equal(TypeEngine().to_python(value, py_type, node.attempt(f"again-{n}")), obj)
        assert node.asked == [value.uri] * (n + 2)  # dropped, fetched again


@KINDS
def test_an_entry_recorded_by_its_sha256_is_still_a_hit(
    tmp_path: Path, make: Callable[[], Any], py_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry of an older version (its record's digest a SHA-256) is read as before: by
    bytes against its SHA-256, mapped by the value's check; neither fetches it again."""
    node, obj, value, good = _stored(tmp_path, make, py_type)
    _equal(TypeEngine().to_python(value, py_type, node.attempt("first")), obj)
    record = _record(node, value)
    record.pop("blake3", None)
    record["sha256"] = hashlib.sha256(good).hexdigest()
    entry = node.cache.lookup(value.uri or "")
    assert entry is not None
    Path(entry + ".json").write_text(json.dumps(record))
    hashed = _Hashed(monkeypatch)
    node.cache = NodeBlobCache(node.cache.directory, node.cache.max_bytes)
    node.blobs = CachingBlobStore(node.remote, node.cache, node="n1")
    assert node.blobs.get_bytes(value.uri or "") == good
    assert hashed.take() == {"sha256": len(good)}
    _equal(TypeEngine().to_python(value, py_type, node.attempt("second")), obj)
    assert hashed.take() == {"blake3": len(good)}  # the value's check, once
    assert node.asked == [value.uri]


@KINDS
def test_a_value_written_again_keeps_an_entry_recorded_by_its_check(
    tmp_path: Path, make: Callable[[], Any], py_type: Any
) -> None:
    """``forget`` compares the bytes written with the record's digest by its algorithm."""
    node, obj, value, good = _stored(tmp_path, make, py_type)
    _equal(TypeEngine().to_python(value, py_type, node.attempt("first")), obj)
    node.blobs.put_bytes(values_key(value.hash), good)  # the same bytes: kept
    assert node.cache.lookup(value.uri or "") is not None
    node.blobs.put_bytes(values_key(value.hash), good[:-1])  # other bytes: dropped
    assert node.cache.lookup(value.uri or "") is None
