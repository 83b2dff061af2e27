"""Frames are content-addressed by BLAKE3, and say so: one key inline or offloaded, in a local
or a remote store; frames written under SHA-256 before still read and check; a cache entry
keyed by a frame's SHA-256 is an honest miss; the write of a new frame is durable under
``durability=power``."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _old_digests import old_value, reads_then_refused_when_damaged
from blake3 import blake3

from airfoil.core.errors import ConfigError, CorruptBlobError, InvalidInputError
from airfoil.core.records import CachePolicy, Interface, TaskSpec, TypeSpec, Value
from airfoil.engine.cache import cache_key, key_parts
from airfoil.store.blob import FsspecBlobStore, open_blob_store
from airfoil.types import TypeEngine, ValueContext, ValueRef
from airfoil.types._base import read_bytes, values_key
from airfoil.types._dataframes import ipc_bytes
from airfoil.types._integrity import check_blob, remember_digest

pytestmark = pytest.mark.unit


def _frame(seed: int = 5, rows: int = 20_000) -> pd.DataFrame:
    data = np.random.default_rng(seed).random((rows, 3))
    return pd.DataFrame(data, columns=["a", "b", "c"])


def test_a_frame_s_key_is_its_blake3_in_every_store_inline_or_not(
    engine: TypeEngine, blobs: Any, tmp_path: Path
) -> None:
    df = _frame()
    inline = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=1 << 30))
    local = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    remote = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    rctx = ValueContext(remote, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    far = engine.to_value(df, pd.DataFrame, rctx)
    assert inline.inline is not None and local.uri is not None and far.uri is not None
    assert inline.hash == local.hash == far.hash == blake3(inline.inline).hexdigest()
    for v in (inline, local, far):
        assert v.meta["digest"] == "blake3"
    assert remote.get_bytes(far.uri) == inline.inline
    assert local.uri.endswith(values_key(local.hash))  # b3sum of the blob is its key
    # a frame offloaded although estimated small (write_bytes_value's path) is keyed alike
    from airfoil.types._base import write_bytes_value

    by_bytes = write_bytes_value(
        inline.inline, "arrow", ValueContext(blobs, offload_threshold=0), algorithm="blake3"
    )
    assert (by_bytes.hash, by_bytes.uri, by_bytes.meta) == (
        local.hash,
        local.uri,
        {"digest": "blake3"},
    )
    pd.testing.assert_frame_equal(engine.to_python(far, pd.DataFrame, rctx), df)
    # a container names the algorithm of its frames: its hash differs from one of SHA-256 frames
    listed = engine.to_value([df], list[pd.DataFrame], ValueContext(blobs, offload_threshold=0))
    ref = json.loads(read_bytes(listed, ValueContext(blobs)))[0]["$airfoil"]
    assert ref["meta"]["digest"] == "blake3" and ref["hash"] == local.hash


def test_a_frame_stored_under_its_sha256_before_still_reads_and_is_checked(
    engine: TypeEngine, blobs: Any
) -> None:
    df = _frame()
    old = old_value("arrow", {"flavour": "pandas"}, blobs, ipc_bytes(pa.Table.from_pandas(df)))
    ctx = ValueContext(blobs, offload_threshold=0)
    reads_then_refused_when_damaged(
        blobs,
        old,
        lambda v: engine.to_python(v, pd.DataFrame, ctx),
        lambda got: pd.testing.assert_frame_equal(got, df),
    )


def test_an_entry_keyed_by_a_frame_s_sha256_misses_honestly(engine: TypeEngine, blobs: Any) -> None:
    df = _frame()
    new = engine.to_value(df, pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    old = old_value("arrow", {"flavour": "pandas"}, blobs, ipc_bytes(pa.Table.from_pandas(df)))
    task = TaskSpec("m.t", "v1", Interface(), "m", "t", cache=CachePolicy(enabled=True))
    n = engine.to_value(3, int, ValueContext(blobs))
    new_parts = key_parts(task, {"df": new, "n": n}, "p")
    old_parts = key_parts(task, {"df": old, "n": n}, "p")
    # the key says the frame's algorithm; a SHA-256 input (the int) enters it as before
    assert new_parts.input_hashes == {"df": f"blake3:{new.hash}", "n": n.hash}
    assert old_parts.input_hashes == {"df": old.hash, "n": n.hash}
    assert cache_key(new_parts) != cache_key(old_parts)
    # a value that claims BLAKE3 under a SHA-256 (or the reverse) is refused, never taken
    liar = Value(hash=old.hash, format="arrow", uri=old.uri, size=old.size, meta=new.meta)
    with pytest.raises(CorruptBlobError, match="is corrupt"):
        check_blob(liar, blobs)


def test_a_sha256_remembered_for_a_path_is_not_taken_for_its_blake3(
    engine: TypeEngine, blobs: Any
) -> None:
    """The node blob cache remembers the SHA-256 of each file it verified; a frame read from
    that file is checked by its own algorithm, not compared with that SHA-256."""
    from airfoil.types import _integrity

    stored = engine.to_value(_frame(), pd.DataFrame, ValueContext(blobs, offload_threshold=0))
    path = blobs.local_path(stored.uri)
    _integrity._checked.clear()
    with open(path, "rb") as fh:
        remember_digest(path, hashlib.file_digest(fh, "sha256").hexdigest())
    check_blob(stored, blobs)  # not refused: hashed by BLAKE3


def test_an_unknown_algorithm_is_refused_by_name(blobs: Any) -> None:
    data = b"\xff\xff\xff\xff" + b"x" * 100
    uri = blobs.put_bytes(values_key("ab" * 32), data)
    odd = Value(hash="ab" * 32, format="arrow", uri=uri, size=len(data), meta={"digest": "md5"})
    with pytest.raises(CorruptBlobError, match="'md5', which this version of Airfoil"):
        check_blob(odd, blobs)


def test_hashing_a_frame_without_blake3_fails_and_says_what_to_install(
    engine: TypeEngine, blobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "blake3", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"reinstall airfoil, or pip install blake3"):
        engine.to_value(_frame(), pd.DataFrame, ValueContext(blobs, offload_threshold=0))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name fds")
def test_a_new_frame_is_durable_under_power_before_its_value_returns(
    engine: TypeEngine, tmp_path: Path, fsyncs: list[str]
) -> None:
    store = open_blob_store(str(tmp_path / "blobs"), "power")
    ctx = ValueContext(store, offload_threshold=0)
    for seed in (1, 2):  # a new frame every time: each written and made durable
        fsyncs.clear()
        stored = engine.to_value(_frame(seed), pd.DataFrame, ctx)
        path = store.local_path(stored.uri or "")
        assert path is not None and os.path.exists(path)
        assert path in fsyncs and os.path.dirname(path) in fsyncs
        with open(path, "rb") as fh:
            assert blake3(fh.read()).hexdigest() == stored.hash
    assert os.listdir(tmp_path / "blobs" / "tmp") == []


def test_the_server_takes_a_blake3_frame_upload_and_an_old_client_s_sha256_one(
    engine: TypeEngine, tmp_path: Path
) -> None:
    from airfoil.server._uploads import store_upload, uploaded_value

    blobs = open_blob_store(str(tmp_path / "server"))
    client = open_blob_store(str(tmp_path / "client"))
    v = engine.to_value(_frame(), pd.DataFrame, ValueContext(client, offload_threshold=0))
    data = client.get_bytes(v.uri or "")
    sha = hashlib.sha256(data).hexdigest()
    store_upload(blobs, "alpha", sha, data)
    spec = TypeSpec("dataframe", name="pandas")
    sent = json.loads(json.dumps(ValueRef.of_value(v, sha256=sha).to_json()))
    got = uploaded_value(blobs, "alpha", "df", spec, sent)
    assert (got.hash, got.meta["digest"]) == (v.hash, "blake3")
    check_blob(got, blobs)
    meta = {k: x for k, x in v.meta.items() if k != "digest"}
    old = Value(hash=sha, format="arrow", uri="x", size=len(data), meta=meta)
    sent_old = ValueRef.of_value(old, sha256=sha).to_json()
    assert uploaded_value(blobs, "alpha", "df", spec, sent_old).hash == sha
    # a BLAKE3 claim with the SHA-256 (or any other hash) does not match the bytes
    lying = Value(hash=sha, format="arrow", uri="x", size=len(data), meta=v.meta)
    with pytest.raises(InvalidInputError, match="do not match the reference"):
        uploaded_value(blobs, "alpha", "df", spec, ValueRef.of_value(lying, sha256=sha).to_json())
    unknown = Value(hash=sha, format="arrow", uri="x", size=len(data), meta={"digest": "md5"})
    with pytest.raises(InvalidInputError, match="'md5'"):
        uploaded_value(blobs, "alpha", "df", spec, ValueRef.of_value(unknown, sha256=sha).to_json())
