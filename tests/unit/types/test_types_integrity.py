"""A blob read back for a value is checked against the value's hash: a damaged blob is a
clear CorruptBlobError naming it, never a silently wrong input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airfoil.core.errors import CorruptBlobError, NotFoundError
from airfoil.store.blob import LocalBlobStore
from airfoil.types import Directory, File, TypeEngine, ValueContext
from airfoil.types._integrity import check_blob


def _damage(blobs: LocalBlobStore, uri: str) -> None:
    path = blobs.local_path(uri)
    assert path is not None
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


@pytest.fixture
def offloading(blobs: LocalBlobStore, tmp_path: Path) -> ValueContext:
    return ValueContext(blobs, offload_threshold=0, scratch_dir=str(tmp_path / "scratch"))


@pytest.mark.parametrize(
    ("obj", "tp"),
    [
        (list(range(1000)), list[int]),
        ({"a": "x" * 500}, dict[str, str]),
        (np.arange(1000, dtype=np.int64), np.ndarray),
        (pd.DataFrame({"x": range(20_000)}), pd.DataFrame),
    ],
    ids=["json-list", "json-dict", "numpy", "pandas"],
)
def test_a_damaged_blob_is_a_corrupt_blob_error(
    engine: TypeEngine, offloading: ValueContext, blobs: LocalBlobStore, obj: Any, tp: Any
) -> None:
    value = engine.to_value(obj, tp, offloading)
    assert value.uri is not None
    check_blob(value, blobs)  # intact
    _damage(blobs, value.uri)
    with pytest.raises(CorruptBlobError, match="corrupt") as err:
        engine.to_python(value, tp, offloading)
    assert value.uri in str(err.value)
    with pytest.raises(CorruptBlobError):
        check_blob(value, blobs)


def test_damaged_file_and_directory_blobs(
    engine: TypeEngine, offloading: ValueContext, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "report.txt"
    src.write_text("hello world")
    fval = engine.to_value(File(str(src)), File, offloading)
    assert fval.uri is not None
    _damage(blobs, fval.uri)
    with pytest.raises(CorruptBlobError):
        engine.to_python(fval, File, offloading)

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("aaaa")
    dval = engine.to_value(Directory(str(tree)), Directory, offloading)
    assert dval.uri is not None
    check_blob(dval, blobs)
    stored = blobs.local_path(dval.uri)
    assert stored is not None
    Path(stored, "a.txt").write_text("bbbb")
    with pytest.raises(CorruptBlobError, match="directory blob"):
        engine.to_python(dval, Directory, offloading)
    with pytest.raises(CorruptBlobError):
        check_blob(dval, blobs)


def test_a_missing_blob_is_still_not_found(
    engine: TypeEngine, offloading: ValueContext, blobs: LocalBlobStore
) -> None:
    value = engine.to_value(list(range(100)), list[int], offloading)
    assert value.uri is not None
    path = blobs.local_path(value.uri)
    assert path is not None
    os.remove(path)
    with pytest.raises(NotFoundError):
        check_blob(value, blobs)


@pytest.mark.parametrize(
    ("obj", "tp"),
    [
        (np.arange(1000, dtype=np.int64), np.ndarray),
        (pd.DataFrame({"x": range(20_000)}), pd.DataFrame),
    ],
)
def test_writing_a_value_again_replaces_a_truncated_blob(
    engine: TypeEngine, offloading: ValueContext, blobs: LocalBlobStore, obj: Any, tp: Any
) -> None:
    # Before: a value written to a file is renamed to its content-addressed key unless a blob
    # is there already; one cut short (a power loss under the ``process`` durability, a full
    # disk) was kept, so every later task returning the same value "wrote" it and the next
    # task failed with CorruptBlobError, whose "rerun the task that produced it" fixed nothing.
    value = engine.to_value(obj, tp, offloading)
    assert value.uri is not None
    path = blobs.local_path(value.uri)
    assert path is not None
    whole = Path(path).read_bytes()
    Path(path).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorruptBlobError):
        engine.to_python(value, tp, offloading)
    again = engine.to_value(obj, tp, offloading)
    assert again.uri == value.uri and Path(path).read_bytes() == whole
    back = engine.to_python(again, tp, offloading)
    assert back.equals(obj) if isinstance(obj, pd.DataFrame) else np.array_equal(back, obj)
