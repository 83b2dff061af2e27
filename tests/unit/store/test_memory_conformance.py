"""The in-memory metadata store and the blob stores pass the conformance suite, the blob
stores also behind a node's blob cache (``CachingBlobStore``, what a Ray worker reads its
inputs through)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from airfoil.executors._blob_cache import CachingBlobStore, NodeBlobCache
from airfoil.store.base import BlobStore, MetaStore
from airfoil.store.blob import FsspecBlobStore, LocalBlobStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing import conformance
from airfoil.testing.conformance import BlobStoreConformance, MetaStoreConformance
from airfoil.testing.naming_conformance import NamingConformance

pytestmark = pytest.mark.unit


class TestMemoryMetaStore(MetaStoreConformance, NamingConformance):
    @pytest.fixture
    def store(self) -> Iterator[MetaStore]:
        s = MemoryMetaStore()
        yield s
        s.close()


class TestLocalBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> Iterator[BlobStore]:
        yield LocalBlobStore(str(tmp_path / "blobs"))


class TestFsspecMemoryBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self) -> Iterator[BlobStore]:
        store = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
        yield store
        store.delete(store.url)

    def stored_names(self, blob_store: BlobStore) -> list[str] | None:
        assert isinstance(blob_store, FsspecBlobStore)
        return [p.rsplit("/", 1)[-1] for p in blob_store.fs.find(blob_store.base)]


class TestCachingLocalBlobStore(BlobStoreConformance):
    """Fails on main: a value's blob rewritten or deleted through the caching store was still
    read from the node's stale copy."""

    @pytest.fixture
    def blob_store(
        self, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[BlobStore]:
        cache = NodeBlobCache(str(tmp_path_factory.mktemp("node-cache")), max_bytes=1 << 20)
        yield CachingBlobStore(LocalBlobStore(str(tmp_path / "blobs")), cache, node="n1")


class TestCachingFsspecMemoryBlobStore(TestFsspecMemoryBlobStore):
    @pytest.fixture
    def blob_store(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
        inner = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
        cache = NodeBlobCache(str(tmp_path_factory.mktemp("node-cache")), max_bytes=1 << 20)
        yield CachingBlobStore(inner, cache, node="n1")
        inner.delete(inner.url)

    def stored_names(self, blob_store: BlobStore) -> list[str] | None:
        assert isinstance(blob_store, CachingBlobStore)
        return super().stored_names(blob_store.store)


def _unset_fields(record: msgspec.Struct) -> list[str]:
    """Fields of ``record`` still at their default (so a round trip would not test them)."""
    unset = []
    for f in msgspec.structs.fields(record):
        if f.default is not msgspec.NODEFAULT:
            default = f.default
        elif f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        else:
            continue
        if getattr(record, f.name) == default and f.name != "schema_version":  # a constant
            unset.append(f.name)
    return unset


def test_conformance_records_set_every_field() -> None:
    # A field added to a record must be added to the suite's factories, or the round-trip
    # tests would silently stop covering it.
    spec = conformance.make_workflow_spec()
    task = spec.nodes[0].task
    assert task is not None
    records: list[msgspec.Struct] = [
        conformance.make_execution(),
        conformance.make_node(),
        conformance.make_attempt(),
        conformance.make_event(),
        conformance.make_cache_entry(),
        spec,
        task,
        task.cache,
    ]
    for record in records:
        assert (type(record).__name__, _unset_fields(record)) == (type(record).__name__, [])
