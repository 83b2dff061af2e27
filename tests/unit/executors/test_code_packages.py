"""A worker's registered code packages (``runtime._packages``): fetched and unpacked once,
the package in use found again cheaply, never a stale or missing folder used."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.runtime import _packages
from airfoil.runtime._packages import materialize, package_key, package_ref
from airfoil.store.blob import LocalBlobStore


def _archive(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _register(blobs: LocalBlobStore, url: str, text: str) -> str:
    data = _archive({"pkg_mod.py": text})
    sha = hashlib.sha256(data).hexdigest()
    blobs.put_bytes(package_key(sha), data)
    return package_ref(sha, url)


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_packages, "_current", None)
    monkeypatch.setattr(_packages, "_last", None)
    path = list(sys.path)
    yield
    sys.path[:] = path


def test_the_package_in_use_is_found_again_and_a_removed_folder_fetched_again(
    tmp_path: Path, worker: None
) -> None:
    url = str(tmp_path / "blobs")
    blobs = LocalBlobStore(url)
    one, two = _register(blobs, url, "V = 1\n"), _register(blobs, url, "V = 2\n")
    first = materialize(one)
    assert materialize(one) == first and os.path.isfile(os.path.join(first, "pkg_mod.py"))
    second = materialize(two)  # another package: switched to...
    assert second != first and _packages._current == second
    assert materialize(one) == first and _packages._current == first  # ...and back
    shutil.rmtree(first)  # someone emptied the cache: fetched and unpacked anew
    assert materialize(one) == first and os.path.isfile(os.path.join(first, "pkg_mod.py"))


def test_a_package_unpacks_on_a_python_without_extraction_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11.0-3.11.3 (Debian 12's ``python3`` is 3.11.2) have no ``filter`` argument
    to ``TarFile.extractall`` nor ``tarfile.data_filter``: every server attempt failed there
    with ``TypeError: ... unexpected keyword argument 'filter'``."""
    real = tarfile.TarFile.extractall

    def extractall_of_3_11_2(
        self: tarfile.TarFile,
        path: str = ".",
        members: object = None,
        *,
        numeric_owner: bool = False,
    ) -> None:
        real(self, path, members, numeric_owner=numeric_owner)  # type: ignore[arg-type]

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall_of_3_11_2)
    data = _archive({"pkg_mod.py": "X = 1\n", "sub/inner.py": "Y = 2\n"})
    _packages.extract_archive(data, str(tmp_path))
    assert (tmp_path / "pkg_mod.py").read_text() == "X = 1\n"
    assert (tmp_path / "sub" / "inner.py").read_text() == "Y = 2\n"
    with pytest.raises(_packages.PlatformError, match="not allowed"):
        _packages.extract_archive(_archive({"../escape.py": "Z = 3\n"}), str(tmp_path / "x"))
    assert not (tmp_path / "escape.py").exists()
