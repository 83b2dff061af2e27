"""NumPy arrays travel as frames do: content-addressed by BLAKE3 over the ``.npy`` bytes
``np.save`` writes (one key inline or offloaded, in a local or a remote store), read through
a private copy-on-write mapping of a local blob (a plain, writable ``np.ndarray`` whose
changes never reach the stored blob); arrays written under SHA-256 before still read and
check; a cache entry keyed by an array's SHA-256 is an honest miss; arrays of Python objects
keep SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _old_digests import old_value, reads_then_refused_when_damaged
from blake3 import blake3

from airfoil.core.errors import ConfigError, CorruptBlobError
from airfoil.core.records import CachePolicy, Interface, TaskSpec, Value
from airfoil.engine.cache import cache_key, key_parts
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import TypeEngine, ValueContext
from airfoil.types._base import values_key
from airfoil.types._integrity import check_blob

pytestmark = pytest.mark.unit


def _array(seed: int = 3, n: int = 50_000) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).random(n)


def _saved(array: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=array.dtype.hasobject)
    return buf.getvalue()


def _stored_bytes(blobs: Any, value: Value) -> bytes:
    return bytes(blobs.get_bytes(value.uri or ""))


@pytest.mark.parametrize(
    "array",
    [
        _array(),
        np.asfortranarray(np.random.default_rng(1).random((300, 40)).astype(np.float32)),
        np.arange(40_000, dtype=">i8")[::3],  # not contiguous, big-endian: as numpy writes it
        np.zeros(5000, dtype=[("a", "<i4"), ("b", ">f8")]),
        np.array(["a", "bcd"] * 3000),
        np.zeros((0, 3)),
        np.array(2.5),
    ],
    ids=["float64", "fortran-f32", "strided", "structured", "unicode", "empty", "0-d"],
)
def test_an_array_s_key_is_the_blake3_of_np_save_s_bytes_in_every_store(
    engine: TypeEngine, blobs: Any, tmp_path: Path, array: np.ndarray[Any, Any]
) -> None:
    inline = engine.to_value(array, np.ndarray, ValueContext(blobs, offload_threshold=1 << 30))
    local = engine.to_value(array, np.ndarray, ValueContext(blobs, offload_threshold=0))
    remote = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    rctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    far = engine.to_value(array, np.ndarray, rctx)
    data = _saved(array)
    assert inline.inline == data and _stored_bytes(blobs, local) == data
    assert _stored_bytes(remote, far) == data
    assert inline.hash == local.hash == far.hash == blake3(data).hexdigest()
    for v in (inline, local, far):
        assert v.meta["digest"] == "blake3" and "pickled" not in v.meta
    assert (local.uri or "").endswith(values_key(local.hash))
    for v, ctx in ((inline, ValueContext(blobs)), (local, ValueContext(blobs)), (far, rctx)):
        back = engine.to_python(v, np.ndarray, ctx)
        assert type(back) is np.ndarray and back.dtype == array.dtype
        np.testing.assert_array_equal(back, array)


def test_a_local_reader_gets_a_private_mapping_it_may_write_without_changing_the_blob(
    engine: TypeEngine, blobs: Any
) -> None:
    array = _array()
    ctx = ValueContext(blobs, offload_threshold=0)
    stored = engine.to_value(array, np.ndarray, ctx)
    back = engine.to_python(stored, np.ndarray, ctx)
    # a plain ndarray (not np.memmap) over the mapping: nothing was read into memory of its own
    assert type(back) is np.ndarray and not back.flags.owndata and back.flags.writeable
    assert isinstance(back.base, np.memmap)
    back[:] = -1.0  # the task changes its input in place
    assert blake3(_stored_bytes(blobs, stored)).hexdigest() == stored.hash
    check_blob(stored, blobs)
    again = engine.to_python(stored, np.ndarray, ctx)  # another reader: the stored array
    np.testing.assert_array_equal(again, array)
    # an array read back is stored again under the same key (its buffer, no copy)
    np.testing.assert_array_equal(back, -1.0)
    assert engine.to_value(again, np.ndarray, ctx).hash == stored.hash


def test_an_array_stored_under_its_sha256_before_still_reads_and_is_checked(
    engine: TypeEngine, blobs: Any
) -> None:
    array = _array()
    old = old_value("npy", {"dtype": "float64"}, blobs, _saved(array))
    ctx = ValueContext(blobs, offload_threshold=0)
    reads_then_refused_when_damaged(
        blobs,
        old,
        lambda v: engine.to_python(v, np.ndarray, ctx),
        lambda got: np.testing.assert_array_equal(got, array),
    )


def test_an_array_blob_cut_short_is_refused_before_it_is_mapped(
    engine: TypeEngine, blobs: Any
) -> None:
    from airfoil.types import _integrity

    stored = engine.to_value(_array(), np.ndarray, ValueContext(blobs, offload_threshold=0))
    path = blobs.local_path(stored.uri)
    os.truncate(path, (stored.size or 0) // 2)  # a power loss under the process durability
    _integrity._checked.clear()
    with pytest.raises(CorruptBlobError, match="is corrupt"):
        engine.to_python(stored, np.ndarray, ValueContext(blobs))
    # the same array returned again replaces the short blob, and reads
    again = engine.to_value(_array(), np.ndarray, ValueContext(blobs, offload_threshold=0))
    assert os.path.getsize(path) == again.size == stored.size
    np.testing.assert_array_equal(
        engine.to_python(again, np.ndarray, ValueContext(blobs)), _array()
    )


def test_an_entry_keyed_by_an_array_s_sha256_misses_honestly(
    engine: TypeEngine, blobs: Any
) -> None:
    array = _array()
    new = engine.to_value(array, np.ndarray, ValueContext(blobs, offload_threshold=0))
    old = old_value("npy", {"dtype": "float64"}, blobs, _saved(array))
    task = TaskSpec("m.t", "v1", Interface(), "m", "t", cache=CachePolicy(enabled=True))
    new_parts = key_parts(task, {"a": new}, "p")
    old_parts = key_parts(task, {"a": old}, "p")
    assert new_parts.input_hashes == {"a": f"blake3:{new.hash}"}
    assert old_parts.input_hashes == {"a": old.hash}
    assert cache_key(new_parts) != cache_key(old_parts)


def test_arrays_of_python_objects_keep_sha256(engine: TypeEngine, blobs: Any) -> None:
    array = np.array([{"x": 1}, None, "s"] * 200, dtype=object)
    for threshold in (0, 1 << 30):
        ctx = ValueContext(blobs, offload_threshold=threshold)
        stored = engine.to_value(array, np.ndarray, ctx)
        data = stored.inline if stored.inline is not None else _stored_bytes(blobs, stored)
        assert stored.hash == hashlib.sha256(data).hexdigest()
        assert stored.meta["pickled"] == "1" and "digest" not in stored.meta
        back = engine.to_python(stored, np.ndarray, ctx)
        assert back.tolist() == array.tolist()


def test_hashing_an_array_without_blake3_fails_and_says_what_to_install(
    engine: TypeEngine, blobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "blake3", None)  # as if not installed
    for threshold in (0, 1 << 30):
        ctx = ValueContext(blobs, offload_threshold=threshold)
        with pytest.raises(ConfigError, match=r"NumPy array needs the blake3 package.*pip install"):
            engine.to_value(_array(), np.ndarray, ctx)


def test_the_server_stores_a_console_s_npy_file_as_the_cli_stores_it(
    engine: TypeEngine, tmp_path: Path
) -> None:
    """The console sends a user's ``.npy`` file as it is (no ``shape`` in the reference's
    meta, keyed by its SHA-256): the server stores the array the CLI's ``--a data.npy``
    would, so both launches, and a task returning that array, share one key."""
    from airfoil.core.errors import InvalidInputError
    from airfoil.server._uploads import store_upload, uploaded_value
    from airfoil.store.blob import open_blob_store

    blobs = open_blob_store(str(tmp_path / "server"))
    array = np.asfortranarray(_array().reshape(500, 100))
    path = tmp_path / "grid.npy"
    np.save(path, array)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    store_upload(blobs, "alpha", sha, data)
    sent = {"$airfoil": {"format": "npy", "hash": sha, "size": len(data), "sha256": sha}}
    got = uploaded_value(blobs, "alpha", "arr", engine.to_spec(np.ndarray), sent)
    cli = engine.to_value(
        engine.parse_cli(str(path), np.ndarray),
        np.ndarray,
        ValueContext(open_blob_store(str(tmp_path / "cli"))),
    )
    assert (got.hash, got.meta) == (cli.hash, cli.meta) and got.meta["digest"] == "blake3"
    assert got.meta["shape"] == "[500,100]"
    back = engine.to_python(got, np.ndarray, ValueContext(blobs))
    np.testing.assert_array_equal(back, array)
    # a file cut short after its header cannot be read: refused by name, nothing stored
    short = data[: len(data) // 2]
    short_sha = hashlib.sha256(short).hexdigest()
    store_upload(blobs, "alpha", short_sha, short)
    cut = {
        "$airfoil": {"format": "npy", "hash": short_sha, "size": len(short), "sha256": short_sha}
    }
    with pytest.raises(InvalidInputError, match=r"input 'arr': the \.npy file cannot be read"):
        uploaded_value(blobs, "alpha", "arr", engine.to_spec(np.ndarray), cut)


def test_an_array_s_file_is_written_in_pieces_whole(
    engine: TypeEngine, blobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a frame's file: pieces of at most ``PIECE`` bytes (the page cache's folios then fit
    a VM's backed free memory), each written whole though the kernel takes fewer bytes."""
    from airfoil.types import _base

    asked: list[int] = []
    real_write = os.write

    def short_write(fd: int, data: Any) -> int:
        asked.append(len(data))
        return real_write(fd, memoryview(data)[:100_000])

    array = _array(n=200_000)  # 1.6 MB: several pieces
    monkeypatch.setattr(os, "write", short_write)
    stored = engine.to_value(array, np.ndarray, ValueContext(blobs, offload_threshold=0))
    monkeypatch.undo()
    assert asked and max(asked) == _base.PIECE < array.nbytes
    data = Path(blobs.local_path(stored.uri)).read_bytes()
    assert data == _saved(array) and blake3(data).hexdigest() == stored.hash
