"""Content hashes: canonical, stable across processes, blind to dict/set order; offloading by
content hash above the threshold; a missing blob is NotFoundError."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _types_models import Color, Point

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.store.blob import LocalBlobStore
from airfoil.types import Directory, File, TypeEngine, ValueContext
from airfoil.types._digests import algorithm_of, digest_bytes

pytestmark = pytest.mark.unit

# Each line: a value expression and its type expression, evaluated in both processes.
HASH_CASES = [
    ("42", "int"),
    ("1.25", "float"),
    ("'text'", "str"),
    ("b'\\x00bytes'", "bytes"),
    ("{'b': [1, 2], 'a': [3]}", "dict[str, list[int]]"),
    ("{3, 1, 2}", "set[int]"),
    ("(1, 'x')", "tuple[int, str]"),
    ("dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)", "dt.datetime"),
    ("Color.RED", "Color"),
    ("Point(1, 2.5)", "Point"),
    ("pd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})", "pd.DataFrame"),
    ("np.arange(6).reshape(2, 3)", "np.ndarray"),
]

PROBE = """
import datetime as dt, json, sys, tempfile
import numpy as np, pandas as pd
from _types_models import Color, Point
from airfoil.store.blob import LocalBlobStore
from airfoil.types import TypeEngine, ValueContext
engine = TypeEngine()
ctx = ValueContext(LocalBlobStore(tempfile.mkdtemp()))
cases = json.loads(sys.argv[1])
print(json.dumps([engine.to_value(eval(v), eval(t), ctx).hash for v, t in cases]))
"""


def _hashes_here(engine: TypeEngine, ctx: ValueContext) -> list[str]:
    env = {"dt": dt, "np": np, "pd": pd, "Color": Color, "Point": Point}
    return [engine.to_value(eval(v, env), eval(t, env), ctx).hash for v, t in HASH_CASES]


def test_hashes_are_stable_across_processes(engine: TypeEngine, ctx: ValueContext) -> None:
    here = _hashes_here(engine, ctx)
    env = dict(os.environ, PYTHONHASHSEED="12345")  # a different set/dict iteration order
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), *sys.path])
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HASH_CASES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout) == here


def test_equal_dicts_built_in_different_order_hash_equal(
    engine: TypeEngine, ctx: ValueContext
) -> None:
    a = {"x": 1, "y": 2, "z": {"k": [1], "j": [2]}}
    b = {"z": {"j": [2], "k": [1]}, "y": 2, "x": 1}
    tp = dict[str, Any]
    assert list(a) != list(b)
    tp = dict[str, int | dict[str, list[int]]]
    assert engine.to_value(a, tp, ctx).hash == engine.to_value(b, tp, ctx).hash
    ints_a = {i: str(i) for i in range(50)}
    ints_b = {i: str(i) for i in reversed(range(50))}
    tp_ints = dict[int, str]
    assert engine.to_value(ints_a, tp_ints, ctx).hash == engine.to_value(ints_b, tp_ints, ctx).hash


def test_set_order_does_not_change_the_hash(engine: TypeEngine, ctx: ValueContext) -> None:
    small_first = set(range(100))
    large_first = set()
    for i in reversed(range(1000)):
        large_first.add(i)
    large_first -= set(range(100, 1000))
    assert small_first == large_first
    tp = set[int]
    assert engine.to_value(small_first, tp, ctx).hash == engine.to_value(large_first, tp, ctx).hash
    words = frozenset(f"w{i}" for i in range(30))
    shuffled = frozenset(sorted(words, reverse=True))
    tp_words = frozenset[str]
    assert (
        engine.to_value(words, tp_words, ctx).hash == engine.to_value(shuffled, tp_words, ctx).hash
    )


def test_hash_is_sha256_of_the_canonical_json(engine: TypeEngine, ctx: ValueContext) -> None:
    stored = engine.to_value({"b": 1, "a": 2}, dict[str, int], ctx)
    assert stored.inline == b'{"b":1,"a":2}'  # stored in the user's key order
    assert stored.hash == hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    assert stored.format == "json" and stored.size == len(stored.inline)


def test_dicts_come_back_in_their_key_order(engine: TypeEngine, ctx: ValueContext) -> None:
    value = {"zeta": 1, "alpha": {"y": 2, "b": 3}, "mid": 4}
    tp = dict[str, int | dict[str, int]]
    back = engine.to_python(engine.to_value(value, tp, ctx), tp, ctx)
    assert list(back) == ["zeta", "alpha", "mid"] and list(back["alpha"]) == ["y", "b"]
    big = {f"k{999 - i}": i for i in range(1000)}  # offloaded
    small = ValueContext(ctx.blobs, offload_threshold=100)
    stored = engine.to_value(big, dict[str, int], small)
    assert stored.uri is not None
    assert list(engine.to_python(stored, dict[str, int], small)) == list(big)
    # The blob's key is the SHA-256 of its bytes; the value's hash is the canonical one.
    data = ctx.blobs.get_bytes(stored.uri)
    assert stored.uri.endswith(hashlib.sha256(data).hexdigest())
    assert stored.hash == engine.to_value(dict(sorted(big.items())), dict[str, int], small).hash


def test_different_values_hash_differently(engine: TypeEngine, ctx: ValueContext) -> None:
    hashes = {
        engine.to_value(1, int, ctx).hash,
        engine.to_value(2, int, ctx).hash,
        engine.to_value("1", str, ctx).hash,
        engine.to_value(1.0, float, ctx).hash,
        engine.to_value(True, bool, ctx).hash,
    }
    assert len(hashes) == 5


def test_small_values_stay_inline(engine: TypeEngine, blobs: LocalBlobStore) -> None:
    ctx = ValueContext(blobs, offload_threshold=100)
    stored = engine.to_value(list(range(10)), list[int], ctx)
    assert stored.inline is not None and stored.uri is None
    assert not os.path.exists(os.path.join(blobs.root, "values"))


def test_large_values_are_offloaded_by_content_hash(
    engine: TypeEngine, blobs: LocalBlobStore
) -> None:
    ctx = ValueContext(blobs, offload_threshold=100)
    value = list(range(100))
    stored = engine.to_value(value, list[int], ctx)
    assert stored.inline is None
    assert stored.uri == blobs.uri(f"values/{stored.hash[:2]}/{stored.hash}")
    blob = blobs.get_bytes(stored.uri)
    assert hashlib.sha256(blob).hexdigest() == stored.hash and len(blob) == stored.size
    assert engine.to_python(stored, list[int], ctx) == value
    # the same content gives the same blob: nothing new is written
    assert engine.to_value(list(value), list[int], ctx) == stored


def test_default_threshold_is_64_kib(engine: TypeEngine, blobs: LocalBlobStore) -> None:
    ctx = ValueContext(blobs)
    assert ctx.offload_threshold == 64 * 1024
    assert engine.to_value("x" * 60_000, str, ctx).inline is not None
    assert engine.to_value("x" * 70_000, str, ctx).inline is None
    assert engine.to_value(b"x" * 70_000, bytes, ctx).inline is None


def test_negative_threshold_is_a_config_error(blobs: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ValueContext(blobs, offload_threshold=-1)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError):
        ValueContext(blobs, scratch_dir=str(tmp_path / "file"))


def test_scratch_dir_is_created_lazily_and_removed(
    engine: TypeEngine, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "f.txt"
    src.write_text("hi")
    with ValueContext(blobs) as ctx:
        assert ctx.scratch_dir is None
        back = engine.to_python(engine.to_value(File(src), File, ctx), File, ctx)
        assert ctx.scratch_dir is not None and back.path.startswith(ctx.scratch_dir)
        scratch = ctx.scratch_dir
    assert not os.path.exists(scratch)


def _delete(blobs: LocalBlobStore, uri: str | None) -> None:
    assert uri is not None
    path = blobs.local_path(uri)
    assert path is not None and os.path.exists(path)
    blobs.delete(uri)


def test_missing_json_blob_is_not_found(engine: TypeEngine, blobs: LocalBlobStore) -> None:
    ctx = ValueContext(blobs, offload_threshold=0)
    stored = engine.to_value([Point(1)], list[Point], ctx)
    _delete(blobs, stored.uri)
    with pytest.raises(NotFoundError):
        engine.to_python(stored, list[Point], ctx)
    scalar = engine.to_value(12345, int, ctx)
    assert scalar.inline is not None  # scalars stay inline: they are smaller than a blob key


def test_missing_frame_array_and_file_blobs_are_not_found(
    engine: TypeEngine, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    ctx = ValueContext(blobs, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))
    src = tmp_path / "f.txt"
    src.write_text("content")
    cases: list[tuple[Any, Any]] = [
        (pd.DataFrame({"a": [1]}), pd.DataFrame),
        (np.arange(3), np.ndarray),
        (File(src), File),
        (b"raw", bytes),
        ([pd.DataFrame({"a": [1]})], list[pd.DataFrame]),
    ]
    for value, tp in cases:
        stored = engine.to_value(value, tp, ctx)
        if tp == list[pd.DataFrame]:  # the list itself inline-able; its frame is the blob
            ref = json.loads(blobs.get_bytes(stored.uri))[0]["$airfoil"]
            blobs.delete(blobs.uri(f"values/{ref['hash'][:2]}/{ref['hash']}"))
        else:
            _delete(blobs, stored.uri)
        with pytest.raises(NotFoundError):
            engine.to_python(stored, tp, ctx)


def test_container_hash_does_not_depend_on_the_store(engine: TypeEngine, tmp_path: Path) -> None:
    frames = [pd.DataFrame({"a": [1.0, 2.0]})]
    one = ValueContext(LocalBlobStore(str(tmp_path / "one")), offload_threshold=0)
    two = ValueContext(LocalBlobStore(str(tmp_path / "two")), offload_threshold=0)
    tp = list[pd.DataFrame]
    assert engine.to_value(frames, tp, one).hash == engine.to_value(frames, tp, two).hash


def test_equal_frames_hash_equal(engine: TypeEngine, ctx: ValueContext) -> None:
    a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    b = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    c = pd.DataFrame({"x": [1, 3], "y": ["a", "b"]})
    h = [engine.to_value(f, pd.DataFrame, ctx).hash for f in (a, b, c)]
    assert h[0] == h[1] != h[2]


def test_datetimes_in_other_zones_hash_apart(engine: TypeEngine, ctx: ValueContext) -> None:
    utc = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    plus_one = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert utc == plus_one  # same instant...
    # ...but not the same value: the zone is kept, so the hash differs
    assert (
        engine.to_value(utc, dt.datetime, ctx).hash
        != engine.to_value(plus_one, dt.datetime, ctx).hash
    )


def test_remote_store_round_trip(engine: TypeEngine, tmp_path: Path) -> None:
    """A store without local paths: frames and arrays are uploaded, then downloaded."""
    import uuid

    from airfoil.store.blob import FsspecBlobStore

    store = FsspecBlobStore(f"memory://airfoil-test-{uuid.uuid4().hex}")
    ctx = ValueContext(store, offload_threshold=100, scratch_dir=str(tmp_path / "scratch"))
    assert store.local_path(store.uri("x")) is None
    frame = pd.DataFrame(np.random.default_rng(3).random((500, 3)), columns=list("abc"))
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    cases: list[tuple[Any, Any]] = [
        (frame, pd.DataFrame),
        (np.arange(500), np.ndarray),
        (list(range(100)), list[int]),
        (File(src / "a.txt"), File),
        (Directory(src), Directory),
    ]
    for value, tp in cases:
        stored = engine.to_value(value, tp, ctx)
        assert stored.uri is not None and stored.uri.startswith("memory://")
        if tp is not Directory and tp is not File:  # a file's hash also covers its name
            data = store.get_bytes(stored.uri)
            assert digest_bytes(data, algorithm_of(stored.meta)) == stored.hash
        back = engine.to_python(stored, tp, ctx)
        if tp is pd.DataFrame:
            pd.testing.assert_frame_equal(back, value)
        elif tp is np.ndarray:
            np.testing.assert_array_equal(back, value)
        else:
            assert back == value
    stored = engine.to_value(frame, pd.DataFrame, ctx)
    store.delete(stored.uri)
    with pytest.raises(NotFoundError):
        engine.to_python(stored, pd.DataFrame, ValueContext(store))
