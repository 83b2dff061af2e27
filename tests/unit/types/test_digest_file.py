"""``digest_file``: a stored file's digest, as a reader checks a frame's or an array's blob."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest
from blake3 import blake3

from airfoil.core.errors import CorruptBlobError
from airfoil.types._digests import BLAKE3, SHA256, digest_file


def _file(tmp_path: Path, size: int) -> tuple[str, bytes]:
    data = os.urandom(size)
    path = tmp_path / f"blob-{size}"
    path.write_bytes(data)
    return str(path), data


@pytest.mark.parametrize("size", [0, 1, 16 * 1024 - 1, 16 * 1024, 3 * 1024 * 1024 + 7])
def test_a_file_s_digest_is_its_bytes_by_either_algorithm(tmp_path: Path, size: int) -> None:
    path, data = _file(tmp_path, size)
    assert digest_file(path, BLAKE3) == blake3(data).hexdigest()
    assert digest_file(path, SHA256) == hashlib.sha256(data).hexdigest()


def test_checking_a_file_s_blake3_allocates_no_buffer(tmp_path: Path) -> None:
    """A server's threads check a frame per read: a call allocated an 8 MiB buffer (on
    main: a traced peak of 8 MiB for a 3 MB file); it now maps the file, allocating none."""
    path, data = _file(tmp_path, 3 * 1024 * 1024)
    tracemalloc.start()
    try:
        found = digest_file(path, BLAKE3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == blake3(data).hexdigest()
    assert peak < 64 * 1024


@pytest.mark.parametrize("algorithm", [BLAKE3, SHA256])
def test_a_missing_file_is_file_not_found(tmp_path: Path, algorithm: str) -> None:
    with pytest.raises(FileNotFoundError):
        digest_file(str(tmp_path / "gone"), algorithm)


def test_an_unknown_algorithm_is_refused_by_name(tmp_path: Path) -> None:
    path, _ = _file(tmp_path, 10)
    with pytest.raises(CorruptBlobError, match="'md5', which this version"):
        digest_file(path, "md5")
