"""Blob writes on fsspec object stores leave no temporaries behind, even when interrupted
(tested on fsspec's memory filesystem, which stands in for s3/gs/az)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airfoil.core.errors import StoreError
from airfoil.store.blob import FsspecBlobStore, open_blob_store


@pytest.fixture
def url() -> Iterator[str]:
    import fsspec

    root = f"memory://trust-blobs-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    base = root[len("memory:/") :]
    if fs.exists(base):
        fs.rm(base, recursive=True)


def _keys(store: FsspecBlobStore) -> list[str]:
    base = store.base.rstrip("/")
    return sorted(p[len(base) + 1 :] for p in store.fs.find(base))


class _Crash(BaseException):
    """The process dying (kill -9, power loss) at some point of a write."""


def _crash_after_bytes_sent(store: FsspecBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the first PUT of bytes through, then die at the store's next filesystem call."""
    fs: Any = store.fs
    sent = {"bytes": False}
    for name in ("pipe_file", "mv", "copy", "rm", "rm_file", "put_file", "exists"):
        real = getattr(fs, name)

        def call(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if sent["bytes"]:
                raise _Crash(_name)
            result = _real(*args, **kwargs)
            if _name == "pipe_file":
                sent["bytes"] = True
            return result

        monkeypatch.setattr(fs, name, call)


def test_an_object_store_write_interrupted_after_the_bytes_leaves_no_temporary(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(url)
    assert isinstance(store, FsspecBlobStore)
    _crash_after_bytes_sent(store, monkeypatch)
    try:
        store.put_bytes("values/ab/abc", b"data")
    except _Crash:
        pass
    monkeypatch.undo()
    assert _keys(store) == ["values/ab/abc"]  # the whole blob, and nothing else
    assert store.get_bytes(store.uri("values/ab/abc")) == b"data"


def test_object_store_writes_of_every_kind_leave_only_their_keys(url: str, tmp_path: Any) -> None:
    store = open_blob_store(url)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_bytes(b"x")
    (tmp_path / "f.bin").write_bytes(b"f")
    store.put_bytes("values/ab/abc", b"data")
    store.put_file("values/cd/cde", str(tmp_path / "f.bin"))
    store.put_dir("values/ef/efg", str(tmp_path / "d"))
    store.append_text("logs/e/n0/1.log", "line\n")
    assert _keys(store) == [
        "logs/e/n0/1.log",
        "values/ab/abc",
        "values/cd/cde",
        "values/ef/efg/.airfoil-complete",
        "values/ef/efg/x.txt",
    ]


def test_a_failed_object_store_write_is_a_store_error_and_leaves_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(url)
    assert isinstance(store, FsspecBlobStore)

    def refuse(*_a: Any, **_k: Any) -> None:
        raise OSError("quota exceeded")

    monkeypatch.setattr(store.fs, "pipe_file", refuse)
    with pytest.raises(StoreError, match=r"could not write blob .*values/ab/abc.*quota"):
        store.put_bytes("values/ab/abc", b"data")
    monkeypatch.undo()
    assert _keys(store) == []


def test_staged_writes_clean_their_temporaries_and_stale_ones_are_removed_at_open(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A filesystem without atomic PUTs (sftp, hdfs...) stages under tmp/ and moves into place.
    store = FsspecBlobStore(url, atomic_put=False)
    store.put_bytes("values/ab/abc", b"data")
    assert _keys(store) == ["values/ab/abc"]
    _crash_after_bytes_sent(store, monkeypatch)
    with pytest.raises(_Crash):
        store.put_bytes("values/cd/cde", b"half")
    monkeypatch.undo()
    (fresh,) = [k for k in _keys(store) if k.startswith("tmp/")]
    hour_ago_ms = int((time.time() - 7200) * 1000)
    store.fs.pipe_file(f"{store.base}/tmp/{hour_ago_ms}-deadbeef", b"left by a dead writer")
    # A later process opening the store removes temporaries untouched for an hour; a younger
    # one may be a write in flight elsewhere and is kept.
    assert FsspecBlobStore(url, atomic_put=False).remove_stale_temporaries() == 1
    assert [k for k in _keys(store) if k.startswith("tmp/")] == [fresh]
    assert store.remove_stale_temporaries(older_than_s=-60) == 1
    assert _keys(store) == ["values/ab/abc"]


def test_a_failed_staged_move_removes_its_temporary(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsspecBlobStore(url, atomic_put=False)

    def refuse(*_a: Any, **_k: Any) -> None:
        raise OSError("permission denied")

    monkeypatch.setattr(store.fs, "mv", refuse)
    with pytest.raises(StoreError, match="permission denied"):
        store.put_bytes("values/ab/abc", b"data")
    monkeypatch.undo()
    assert _keys(store) == []


def test_cleaning_a_store_that_never_staged_finds_nothing(url: str) -> None:
    assert FsspecBlobStore(url).remove_stale_temporaries() == 0


def test_a_local_fsspec_store_makes_its_folders(tmp_path: Any) -> None:
    """``local://`` (fsspec's local filesystem, read as a remote store: no local path) wrote
    nothing on main: its temporary's folder did not exist (fsspec makes none by default)."""
    store = open_blob_store(f"local://{tmp_path / 'store'}")
    assert isinstance(store, FsspecBlobStore)
    uri = store.put_bytes("values/ab/abc", b"data")
    assert store.get_bytes(uri) == b"data"
    src = tmp_path / "f"
    src.write_bytes(b"file")
    assert store.get_bytes(store.put_file("files/x/f", str(src))) == b"file"
    assert store.get_bytes(store.append_text("logs/a/b.log", "line\n")) == b"line\n"
