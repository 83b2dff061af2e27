"""A remote store's reader of an array or a frame maps a local copy: the blob downloaded once
into the context's scratch directory (streamed), checked against the value's hash before it
takes its name there, then mapped privately (writes stay in the reader's pages). A download
damaged, cut short or broken off is refused and left for no later reader."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from blake3 import blake3

from airfoil.core.errors import CorruptBlobError
from airfoil.core.records import Value
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import TypeEngine, ValueContext
from airfoil.types._base import values_key

pytestmark = pytest.mark.unit


def _array() -> Any:
    return np.random.default_rng(7).random(60_000)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(8).random((20_000, 3)), columns=["a", "b", "c"])


def _equal(got: Any, want: Any) -> None:
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want)
    else:
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, want)


KINDS = [(_array, np.ndarray), (_frame, pd.DataFrame)]


@pytest.fixture
def remote() -> FsspecBlobStore:
    store = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    assert store.local_path(store.uri("values/x")) is None  # the reader fetches
    return store


def _downloads(store: FsspecBlobStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs ``store.get_file`` is asked for, from now on."""
    asked: list[str] = []
    real = store.get_file

    def get_file(uri: str, local_path: str) -> None:
        asked.append(uri)
        real(uri, local_path)

    monkeypatch.setattr(store, "get_file", get_file)
    return asked


def _download_dir(ctx: ValueContext) -> list[str]:
    where = os.path.join(ctx.scratch(), "download")
    return sorted(os.listdir(where)) if os.path.isdir(where) else []


def test_a_remote_array_is_a_private_mapping_of_a_checked_download_fetched_once(
    engine: TypeEngine, remote: FsspecBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = _array()
    ctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    stored = engine.to_value(array, np.ndarray, ctx)
    asked = _downloads(remote, monkeypatch)
    back = engine.to_python(stored, np.ndarray, ctx)
    # a plain ndarray over a mapping of the downloaded file: no bytes read into memory
    assert type(back) is np.ndarray and not back.flags.owndata and back.flags.writeable
    assert isinstance(back.base, np.memmap)
    np.testing.assert_array_equal(back, array)
    downloaded = os.path.join(ctx.scratch(), "download", f"{stored.hash}.npy")
    assert _download_dir(ctx) == [os.path.basename(downloaded)]
    back[:] = -1.0  # the task writes its input in place: its own pages only
    with open(downloaded, "rb") as fh:
        assert blake3(fh.read()).hexdigest() == stored.hash
    assert blake3(remote.get_bytes(stored.uri or "")).hexdigest() == stored.hash
    again = engine.to_python(stored, np.ndarray, ctx)  # a second input of the same value
    np.testing.assert_array_equal(again, array)
    assert asked == [stored.uri]  # downloaded once for the context


@pytest.mark.parametrize(("make", "py_type"), KINDS, ids=["array", "frame"])
@pytest.mark.parametrize("damage", ["changed", "cut-short"])
def test_a_damaged_remote_blob_is_refused_on_every_read_and_never_kept(
    engine: TypeEngine,
    remote: FsspecBlobStore,
    tmp_path: Path,
    make: Callable[[], Any],
    py_type: Any,
    damage: str,
) -> None:
    """Before: a frame's damaged download was refused once, then left under its final name,
    where the context's next read took it as checked and returned the damaged frame."""
    obj = make()
    ctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    stored = engine.to_value(obj, py_type, ctx)
    good = remote.get_bytes(stored.uri or "")
    if damage == "changed":
        bad = good[:-64] + bytes(b ^ 0xFF for b in good[-64:])
    else:
        bad = good[: len(good) // 2]
    remote.put_bytes(values_key(stored.hash), bad)
    for _ in range(2):
        with pytest.raises(CorruptBlobError, match="is corrupt"):
            engine.to_python(stored, py_type, ctx)
        assert _download_dir(ctx) == []  # neither kept nor left half-written
    remote.put_bytes(values_key(stored.hash), good)  # repaired: the next read fetches it
    _equal(engine.to_python(stored, py_type, ctx), obj)


@pytest.mark.parametrize(("make", "py_type"), KINDS, ids=["array", "frame"])
def test_a_download_broken_off_leaves_nothing_a_later_read_would_take(
    engine: TypeEngine,
    remote: FsspecBlobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], Any],
    py_type: Any,
) -> None:
    """Before: a frame's download broken off (the connection dropped) left its first half
    under the final name, taken unchecked by the context's next read."""
    obj = make()
    ctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    stored: Value = engine.to_value(obj, py_type, ctx)
    real = remote.get_file

    def broken(uri: str, local_path: str) -> None:
        with open(local_path, "wb") as fh:
            fh.write(remote.get_bytes(uri)[:1000])
        raise OSError("connection reset by peer")

    monkeypatch.setattr(remote, "get_file", broken)
    with pytest.raises(OSError, match="connection reset"):
        engine.to_python(stored, py_type, ctx)
    assert _download_dir(ctx) == []
    monkeypatch.setattr(remote, "get_file", real)
    _equal(engine.to_python(stored, py_type, ctx), obj)


def test_a_remote_blob_is_streamed_to_the_file_never_read_whole(
    remote: FsspecBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``FsspecBlobStore.get_file`` copies in pieces: before, it read the blob's bytes whole
    (the download of an 80 MB array held 80 MB more for a while)."""
    data = os.urandom(3 << 20)
    uri = remote.put_bytes("values/ab/blob", data)
    monkeypatch.setattr(remote, "get_bytes", lambda uri: pytest.fail("read whole"))
    target = tmp_path / "sub" / "copy"
    remote.get_file(uri, str(target))
    assert target.read_bytes() == data


def test_a_remote_array_of_python_objects_is_read_whole_and_checked(
    engine: TypeEngine, remote: FsspecBlobStore, tmp_path: Path
) -> None:
    """Unpickling copies the objects anyway: such an array is read whole, not downloaded."""
    array = np.array([{"k": i} for i in range(5000)], dtype=object)
    ctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    stored = engine.to_value(array, np.ndarray, ctx)
    assert stored.meta["pickled"] == "1" and stored.uri is not None
    back = engine.to_python(stored, np.ndarray, ctx)
    assert back.dtype == object and list(back) == list(array)
    assert _download_dir(ctx) == []
    good = remote.get_bytes(stored.uri)
    remote.put_bytes(values_key(stored.hash), good[: len(good) // 2])
    with pytest.raises(CorruptBlobError, match="is corrupt"):
        engine.to_python(stored, np.ndarray, ctx)
