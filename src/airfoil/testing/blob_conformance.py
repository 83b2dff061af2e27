"""The blob store conformance suite: one set of tests every :class:`BlobStore` backend passes.

Subclass :class:`BlobStoreConformance` in a test module and provide the ``blob_store``
fixture (an empty store); pytest collects the inherited tests. A backend that is not a local
directory and can list what it holds overrides :meth:`BlobStoreConformance.stored_names`, so
that writes are checked to leave no temporary behind.

Invariants checked here are those of :class:`airfoil.core.blobs.BlobStore`: a blob is never
visible half-written; putting a key twice is harmless; a missing blob is ``NotFoundError``
(``size`` too, where the backend can tell sizes); a key that would escape the store is a
``ConfigError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.store.base import BlobStore

__all__ = ["BlobStoreConformance"]


class BlobStoreConformance:
    """Tests every :class:`BlobStore` backend passes. Subclasses provide ``blob_store``."""

    @pytest.fixture
    def blob_store(self) -> Iterator[BlobStore]:
        """The blob store under test, empty. Subclasses override this fixture."""
        raise NotImplementedError("subclass BlobStoreConformance and provide blob_store")

    def stored_names(self, blob_store: BlobStore) -> list[str] | None:
        """Every file name the backend holds (to check no temporary is left); None: unknown.
        The default walks the local directory of a local store."""
        root = blob_store.local_path(blob_store.uri("probe"))
        if root is None:
            return None
        return [n for _, _, files in os.walk(os.path.dirname(root)) for n in files]

    def test_bytes_roundtrip_exists_delete(self, blob_store: BlobStore) -> None:
        uri = blob_store.put_bytes("values/ab/abc", b"\x00data\xff")
        assert uri == blob_store.uri("values/ab/abc")
        assert blob_store.exists(uri)
        assert blob_store.get_bytes(uri) == b"\x00data\xff"
        assert blob_store.put_bytes("values/ab/abc", b"\x00data\xff") == uri  # same key: harmless
        assert blob_store.get_bytes(blob_store.put_bytes("values/ab/abc", b"new")) == b"new"
        blob_store.delete(uri)
        assert not blob_store.exists(uri)
        blob_store.delete(uri)  # deleting a missing blob is harmless

    def test_empty_blob(self, blob_store: BlobStore) -> None:
        assert blob_store.get_bytes(blob_store.put_bytes("e", b"")) == b""

    def test_missing_is_not_found(self, blob_store: BlobStore, tmp_path: Any) -> None:
        uri = blob_store.uri("missing/blob")
        assert not blob_store.exists(uri)
        with pytest.raises(NotFoundError):
            blob_store.get_bytes(uri)
        with pytest.raises(NotFoundError):
            blob_store.get_file(uri, str(tmp_path / "out"))
        with pytest.raises(NotFoundError):
            blob_store.get_dir(uri, str(tmp_path / "outdir"))

    def test_bad_keys_are_config_errors(self, blob_store: BlobStore, tmp_path: Any) -> None:
        # An absolute key must not escape the store: a buggy backend writes under tmp_path.
        src = tmp_path / "src"
        src.mkdir()
        (src / "f").write_text("x")
        for key in ("", f"{tmp_path}/abs", "a/../b", "../up", "a/.."):
            with pytest.raises(ConfigError):
                blob_store.put_bytes(key, b"x")
            with pytest.raises(ConfigError):
                blob_store.put_file(key, str(src / "f"))
            with pytest.raises(ConfigError):
                blob_store.put_dir(key, str(src))
            with pytest.raises(ConfigError):
                blob_store.uri(key)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]

    def test_put_leaves_no_temporary(self, blob_store: BlobStore) -> None:
        for i in range(3):
            blob_store.put_bytes(f"atomic/{i}", b"x" * 1000)
        names = self.stored_names(blob_store)
        if names is None:
            pytest.skip("backend cannot list its files")
        assert names and not [n for n in names if ".tmp" in n], names

    def test_file_roundtrip(self, blob_store: BlobStore, tmp_path: Any) -> None:
        src = tmp_path / "in.bin"
        src.write_bytes(os.urandom(100_000))
        uri = blob_store.put_file("files/in.bin", str(src))
        assert blob_store.get_bytes(uri) == src.read_bytes()
        dest = tmp_path / "deep" / "out.bin"
        blob_store.get_file(uri, str(dest))
        assert dest.read_bytes() == src.read_bytes()

    def test_local_copy_is_checked_and_holds_the_bytes(
        self, blob_store: BlobStore, tmp_path: Any
    ) -> None:
        data = os.urandom(50_000)
        uri = blob_store.put_bytes("values/lc/lc", data)
        seen: list[bytes] = []

        def check(path: str) -> None:
            with open(path, "rb") as fh:
                seen.append(fh.read())

        got = blob_store.local_copy(uri, str(tmp_path / "copy"), check)
        with open(got, "rb") as fh:
            assert fh.read() == data
        assert seen and all(b == data for b in seen)  # checked before it was handed over

        class Refused(Exception):
            pass

        def refuse(path: str) -> None:
            raise Refused(path)

        other = blob_store.put_bytes("values/lc/other", b"other")
        with pytest.raises(Refused):  # what the check raises propagates
            blob_store.local_copy(other, str(tmp_path / "refused"), refuse)
        with pytest.raises(NotFoundError):
            blob_store.local_copy(blob_store.uri("values/lc/gone"), str(tmp_path / "g"), check)

    def test_dir_roundtrip(self, blob_store: BlobStore, tmp_path: Any) -> None:
        src = tmp_path / "tree"
        (src / "sub" / "deeper").mkdir(parents=True)
        (src / "a.txt").write_text("a")
        (src / "sub" / "b.bin").write_bytes(b"\x00b")
        (src / "sub" / "deeper" / "c").write_text("c")
        uri = blob_store.put_dir("dirs/tree", str(src))
        assert blob_store.put_dir("dirs/tree", str(src)) == uri  # same key: harmless
        dest = tmp_path / "copy"
        blob_store.get_dir(uri, str(dest))
        got = sorted(
            os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs
        )
        assert got == sorted(
            ["a.txt", os.path.join("sub", "b.bin"), os.path.join("sub", "deeper", "c")]
        )
        assert (dest / "sub" / "b.bin").read_bytes() == b"\x00b"
        blob_store.delete(uri)
        with pytest.raises(NotFoundError):
            blob_store.get_dir(uri, str(tmp_path / "again"))

    def test_incomplete_dir_is_not_found(self, blob_store: BlobStore, tmp_path: Any) -> None:
        blob_store.put_bytes("dirs/partial/a.txt", b"a")
        with pytest.raises(NotFoundError):
            blob_store.get_dir(blob_store.uri("dirs/partial"), str(tmp_path / "out"))

    def test_append_text_and_write_many(self, blob_store: BlobStore) -> None:
        blob_store.append_text("logs/a.log", "one\n")
        uri = blob_store.append_text("logs/a.log", "tw\u00f6\n")
        assert blob_store.get_bytes(uri) == "one\ntw\u00f6\n".encode()
        uris = blob_store.write_many([("m/1", b"1"), ("m/2", b"2")])
        assert [blob_store.get_bytes(u) for u in uris] == [b"1", b"2"]

    def test_local_path(self, blob_store: BlobStore) -> None:
        uri = blob_store.put_bytes("lp/x", b"x")
        path = blob_store.local_path(uri)
        if path is not None:
            with open(path, "rb") as fh:
                assert fh.read() == b"x"

    def test_size_without_reading(self, blob_store: BlobStore, tmp_path: Any) -> None:
        # What a bounded reader (a log search, a report) asks before it reads: the exact
        # size of bytes, of a file and of an empty blob; a missing blob is NotFoundError
        # wherever the backend tells sizes at all (None: it cannot, and says so always).
        sizes = {
            blob_store.put_bytes("sized/bytes", b"\x00" * 12_345): 12_345,
            blob_store.put_bytes("sized/empty", b""): 0,
        }
        src = tmp_path / "f.bin"
        src.write_bytes(b"f" * 70_001)
        sizes[blob_store.put_file("sized/file", str(src))] = 70_001
        told = {uri: blob_store.size(uri) for uri in sizes}
        if all(size is None for size in told.values()):
            assert blob_store.size(blob_store.uri("sized/missing")) is None
            return
        assert told == sizes
        with pytest.raises(NotFoundError):
            blob_store.size(blob_store.uri("sized/missing"))

    def test_open_read_streams_in_pieces(self, blob_store: BlobStore) -> None:
        data = os.urandom(300_000)
        uri = blob_store.put_bytes("streamed/blob", data)
        pieces: list[bytes] = []
        with blob_store.open_read(uri) as fh:
            while piece := fh.read(65_536):
                assert len(piece) <= 65_536
                pieces.append(piece)
        assert b"".join(pieces) == data and len(pieces) >= 5
        with blob_store.open_read(blob_store.put_bytes("streamed/empty", b"")) as fh:
            assert fh.read(10) == b""
        with pytest.raises(NotFoundError):
            blob_store.open_read(blob_store.uri("streamed/missing"))
