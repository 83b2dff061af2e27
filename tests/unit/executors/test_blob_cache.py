"""Each node's blob cache (``airfoil.executors._blob_cache``): a second read of a value's blob
fetches nothing, the cache stays within its bound evicting the least recently used, a damaged
entry is fetched again (never served), concurrent workers of one node download a blob once,
and the locality index ranks nodes by the input bytes they hold."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.records import Value
from airfoil.executors._blob_cache import (
    BlobCacheConfig,
    BlobLocality,
    CachingBlobStore,
    FetchReport,
    NodeBlobCache,
)
from airfoil.store.blob import LocalBlobStore

pytestmark = pytest.mark.unit


class CountingStore(LocalBlobStore):
    """A local store that counts the bytes read from it (as a remote store would fetch
    them) and has no local path (readers go through get_bytes/get_file)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.fetched = 0

    def local_path(self, uri: str) -> str | None:
        return None

    def get_file(self, uri: str, local_path: str) -> None:
        super().get_file(uri, local_path)
        self.fetched += os.path.getsize(local_path)

    def get_bytes(self, uri: str) -> bytes:
        data = super().get_bytes(uri)
        self.fetched += len(data)
        return data


def put(store: LocalBlobStore, data: bytes) -> str:
    return store.put_bytes(f"values/{hashlib.sha256(data).hexdigest()}", data)


def caching(tmp_path: Path, max_bytes: int = 10_000) -> tuple[CachingBlobStore, CountingStore]:
    store = CountingStore(str(tmp_path / "store"))
    cache = NodeBlobCache(str(tmp_path / "cache"), max_bytes)
    return CachingBlobStore(store, cache, node="n1"), store


def test_the_second_read_of_a_blob_fetches_nothing(tmp_path: Path) -> None:
    blobs, store = caching(tmp_path)
    uri = put(store, b"x" * 1000)
    assert blobs.get_bytes(uri) == b"x" * 1000
    assert store.fetched == 1000
    first = blobs.take_report()
    assert first == FetchReport(
        node="n1", misses=1, bytes_fetched=1000, held={uri: 1000}
    )  # fmt: skip
    assert blobs.get_bytes(uri) == b"x" * 1000
    blobs.get_file(uri, str(tmp_path / "out" / "copy"))
    assert (tmp_path / "out" / "copy").read_bytes() == b"x" * 1000
    assert store.fetched == 1000  # nothing more came from the store
    second = blobs.take_report()
    assert second is not None and (second.hits, second.misses, second.bytes_fetched) == (2, 0, 0)
    assert second.bytes_cached == 2000
    assert blobs.take_report() is None  # nothing read since
    notes = [text for _, text in blobs.take_notes()]  # for the attempt's log
    assert (
        notes[0]
        == "airfoil: input blob values/"
        + uri.rsplit("/", 1)[1][:21]
        + ("... (0.0 MB) fetched into this node's cache in ")
        + notes[0].rsplit(" in ", 1)[1]
    )
    assert (
        notes[1:]
        == [
            "airfoil: input blob values/"
            + uri.rsplit("/", 1)[1][:21]
            + "... (0.0 MB) read from this node's cache, nothing fetched"
        ]
        * 2
    )
    assert blobs.take_notes() == []


def test_a_value_written_again_keeps_its_entry_only_with_the_same_bytes(tmp_path: Path) -> None:
    """A task returning its input writes the same value (same key, same bytes) through the
    caching store: the node's copy stays, nothing is fetched again. Bytes written by hand
    under a cached key, or a deletion, drop it: never served stale (fails on main)."""
    blobs, store = caching(tmp_path)
    uri = put(store, b"x" * 1000)
    blobs.get_bytes(uri)
    key = uri[uri.index("values/") :]
    assert blobs.put_bytes(key, b"x" * 1000) == uri
    src = tmp_path / "same.bin"
    src.write_bytes(b"x" * 1000)
    blobs.put_file(key, str(src))
    blobs.write_many([(key, b"x" * 1000)])
    assert blobs.get_bytes(uri) == b"x" * 1000
    assert store.fetched == 1000  # kept through each write of the same bytes
    blobs.put_bytes(key, b"y" * 10)
    assert blobs.get_bytes(uri) == b"y" * 10  # dropped, fetched anew
    blobs.delete(uri)
    with pytest.raises(NotFoundError):
        blobs.get_bytes(uri)
    assert blobs.cache.entries() == []


def test_a_new_process_on_the_node_reads_what_another_fetched(tmp_path: Path) -> None:
    blobs, store = caching(tmp_path)
    uri = put(store, b"y" * 500)
    blobs.get_bytes(uri)
    other = CachingBlobStore(store, NodeBlobCache(str(tmp_path / "cache"), 10_000), node="n1")
    assert other.get_bytes(uri) == b"y" * 500
    assert store.fetched == 500


def test_the_cache_stays_within_its_bound_evicting_the_least_recently_used(
    tmp_path: Path,
) -> None:
    blobs, store = caching(tmp_path, max_bytes=250)
    a, b, c = (put(store, bytes([i]) * 100) for i in range(3))
    blobs.get_bytes(a)
    time.sleep(0.01)
    blobs.get_bytes(b)
    time.sleep(0.01)
    blobs.get_bytes(a)  # a is now more recent than b
    blobs.take_report()
    time.sleep(0.01)
    blobs.get_bytes(c)
    report = blobs.take_report()
    assert report is not None and report.evicted == [b]
    cache = blobs.cache
    assert sorted(u for u, _, _ in cache.entries()) == sorted([a, c])
    assert cache.size() <= 250
    assert len(list((tmp_path / "cache").rglob("*.lock"))) == 2  # b's went with it
    store.fetched = 0
    blobs.get_bytes(a)
    assert store.fetched == 0  # a was kept
    blobs.get_bytes(b)
    assert store.fetched == 100  # b was evicted: fetched again


def test_a_blob_larger_than_the_cache_is_read_from_the_store_and_not_kept(
    tmp_path: Path,
) -> None:
    blobs, store = caching(tmp_path, max_bytes=100)
    uri = put(store, b"z" * 300)
    assert blobs.get_bytes(uri) == b"z" * 300
    assert blobs.get_bytes(uri) == b"z" * 300
    assert store.fetched == 600  # each read fetched it once
    assert blobs.cache.entries() == [] and not os.listdir(tmp_path / "cache" / "tmp")
    report = blobs.take_report()
    assert report is not None and report.misses == 2 and report.held == {}
    assert "larger than this node's cache" in blobs.take_notes()[0][1]


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-record"])
def test_a_damaged_entry_is_fetched_again_never_served(tmp_path: Path, damage: str) -> None:
    blobs, store = caching(tmp_path)
    data = os.urandom(4096)
    uri = put(store, data)
    blobs.get_bytes(uri)
    (entry,) = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "." not in p.name]
    if damage == "flip":
        raw = bytearray(entry.read_bytes())
        raw[100] ^= 0xFF
        entry.write_bytes(bytes(raw))
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:10])
    else:
        Path(str(entry) + ".json").unlink()  # a half-written entry: data without its record
    fresh = CachingBlobStore(store, NodeBlobCache(str(tmp_path / "cache"), 10_000), node="n1")
    store.fetched = 0
    assert fresh.get_bytes(uri) == data
    assert store.fetched == len(data)  # fetched again
    assert entry.read_bytes() == data  # and the entry repaired
    report = fresh.take_report()
    assert report is not None and report.misses == 1


# A fresh interpreter per reader, as Ray's workers are: a fork of this (threaded) test process
# inherits its locks and its database connections' sockets (a forked child that garbage-collects
# a pooled PostgreSQL connection rolls it back on the parent's socket), and hung in CI.
_READ_SLOWLY = """
import sys, time
from airfoil.executors._blob_cache import NodeBlobCache
from airfoil.store.blob import LocalBlobStore

cache_dir, store_root, uri, counter = sys.argv[1:5]


def download(dest):
    with open(counter, "a") as fh:
        fh.write("download\\n")
    time.sleep(0.3)
    LocalBlobStore(store_root).get_file(uri, dest)


path, kept = NodeBlobCache(cache_dir, 10**9).fetch(uri, download)
assert kept
with open(path, "rb") as fh:
    assert fh.read() == b"w" * 100_000
"""


def test_concurrent_workers_of_a_node_download_a_blob_once(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path / "store"))
    uri = put(store, b"w" * 100_000)
    counter = str(tmp_path / "downloads")
    args = [str(tmp_path / "cache"), str(tmp_path / "store"), uri, counter]
    procs = [
        subprocess.Popen([sys.executable, "-c", _READ_SLOWLY, *args], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert Path(counter).read_text().count("download") == 1
    assert not os.listdir(tmp_path / "cache" / "tmp")  # no temporary left behind


def test_a_missing_blob_is_not_found_and_leaves_no_entry(tmp_path: Path) -> None:
    blobs, store = caching(tmp_path)
    with pytest.raises(NotFoundError):
        blobs.get_bytes(store.uri("values/" + "0" * 64))
    assert blobs.cache.entries() == [] and not os.listdir(tmp_path / "cache" / "tmp")


def test_a_local_store_is_cached_only_for_reads_of_whole_values(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path / "store"))
    blobs = CachingBlobStore(store, NodeBlobCache(str(tmp_path / "cache"), 10_000))
    uri = put(store, b"v" * 10)
    cached = blobs.local_path(uri)
    assert cached is not None and cached.startswith(str(tmp_path / "cache"))
    # writes (a temporary, a value not yet stored), logs and folders go to the store itself
    for key in ("tmp/abc", "values/" + "1" * 64, "logs/e/n/1.log"):
        assert blobs.local_path(store.uri(key)) == store.local_path(store.uri(key))
    blobs.put_bytes("logs/x.log", b"log")
    assert store.get_bytes(store.uri("logs/x.log")) == b"log"
    assert [(u, size) for u, size, _ in blobs.cache.entries()] == [(uri, 10)]


def test_the_config_refuses_a_negative_size_or_a_relative_folder() -> None:
    with pytest.raises(ConfigError, match="AIRFOIL_BLOB_CACHE_BYTES"):
        BlobCacheConfig(max_bytes=-1)
    with pytest.raises(ConfigError, match="absolute path"):
        BlobCacheConfig(directory="cache")
    assert BlobCacheConfig().on_this_node().directory.endswith(f"airfoil-blob-cache-{os.getuid()}")


def test_the_nodes_own_environment_wins_over_the_drivers_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = BlobCacheConfig(directory="/driver/cache", max_bytes=100)
    assert config.on_this_node() == BlobCacheConfig("/driver/cache", 100)
    monkeypatch.setenv("AIRFOIL_BLOB_CACHE_DIR", "/node/cache")
    monkeypatch.setenv("AIRFOIL_BLOB_CACHE_BYTES", "2Gi")
    assert config.on_this_node() == BlobCacheConfig("/node/cache", 2 * 2**30)
    monkeypatch.setenv("AIRFOIL_BLOB_CACHE_BYTES", "lots")
    with pytest.raises(ConfigError, match="lots"):
        config.on_this_node()


def test_the_locality_index_ranks_nodes_by_the_input_bytes_they_hold() -> None:
    index = BlobLocality(min_bytes=100)
    index.record(FetchReport(node="n1", held={"s3://b/values/a": 1000, "s3://b/values/b": 50}))
    index.record(FetchReport(node="n2", held={"s3://b/values/b": 50, "s3://b/values/c": 5000}))
    inputs = {
        "big": Value(hash="a", format="npy", uri="s3://b/values/a", size=1000),
        "small": Value(hash="b", format="npy", uri="s3://b/values/b", size=50),
        "inline": Value(hash="x", format="json", inline=b"1"),
    }
    assert index.rank(inputs) == ("n1",)  # n2 holds only 50 bytes of them: under min_bytes
    assert index.rank({"c": Value(hash="c", format="npy", uri="s3://b/values/c")}) == ("n2",)
    index.record(FetchReport(node="n1", evicted=["s3://b/values/a"]))
    assert index.rank(inputs) == ()
    index.forget("n2")
    assert index.held("n2") == {}
    assert index.rank({"x": Value(hash="x", format="json", inline=b"1")}) == ()


def test_the_settings_reach_the_ray_executor(tmp_path: Path) -> None:
    """``AIRFOIL_BLOB_CACHE_*`` become the ray executor's cache config (sent to its workers);
    building the executor joins no cluster."""
    from airfoil.executors.ray import RayExecutor
    from airfoil.local import LocalRuntime
    from airfoil.settings import AirfoilSettings

    settings = AirfoilSettings(
        home=str(tmp_path), executor="ray", blob_cache_dir="/srv/cache",
        blob_cache_bytes="2Gi", blob_cache_local=True,
    )  # fmt: skip
    rt = LocalRuntime(settings)
    try:
        ex = rt.new_executor()
        inner = getattr(ex, "inner", ex)
        assert isinstance(inner, RayExecutor)
        assert inner.blob_cache == BlobCacheConfig("/srv/cache", 2 * 2**30, local_stores=True)
        ex.close()
    finally:
        rt.close()


def test_a_failing_cache_disk_falls_back_to_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs, store = caching(tmp_path)
    uri = put(store, b"d" * 100)

    def full(*_args: object, **_kw: object) -> tuple[str, bool]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs.cache, "fetch", full)
    assert blobs.get_bytes(uri) == b"d" * 100
    blobs.get_file(uri, str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"d" * 100
    (note,) = {text for _, text in blobs.take_notes()}
    assert "this node's cache failed ([Errno 28] No space left on device)" in note
