"""Blob stores through fsspec: a local directory by default, any fsspec URL in production.

Writes go to a temporary name beside the target and are renamed into place (local and most
object stores make a single put atomic), so a reader never sees a half-written blob.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

from airfoil.core.errors import ConfigError, NotFoundError, StoreError
from airfoil.store.base import BlobStore

__all__ = ["FsspecBlobStore", "LocalBlobStore", "open_blob_store"]

_COMPLETE_MARKER = ".airfoil-complete"


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ConfigError(f"invalid blob key {key!r}: use a relative path without '..'")
    return key


class LocalBlobStore(BlobStore):
    """Blobs as files under a local directory (the embedded default)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))

    def _path(self, uri: str) -> str:
        if uri.startswith("file://"):
            uri = uri[len("file://") :]
        if not os.path.isabs(uri):
            uri = os.path.join(self.root, _check_key(uri))
        return uri

    def _key_path(self, key: str) -> str:
        # Writes take a key, never a URI or an absolute path: they must stay under the root.
        return os.path.join(self.root, _check_key(key))

    def uri(self, key: str) -> str:
        return "file://" + self._key_path(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._key_path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return "file://" + path

    def get_bytes(self, uri: str) -> bytes:
        path = self._path(uri)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise NotFoundError(f"blob {uri} does not exist") from None

    def exists(self, uri: str) -> bool:
        return os.path.exists(self._path(uri))

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)

    def put_file(self, key: str, local_path: str) -> str:
        path = self._key_path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        shutil.copyfile(local_path, tmp)
        os.replace(tmp, path)
        return "file://" + path

    def get_file(self, uri: str, local_path: str) -> None:
        path = self._path(uri)
        if not os.path.isfile(path):
            raise NotFoundError(f"blob {uri} does not exist")
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        shutil.copyfile(path, local_path)

    def put_dir(self, key: str, local_dir: str) -> str:
        path = self._key_path(key)
        if os.path.exists(os.path.join(path, _COMPLETE_MARKER)):
            return "file://" + path
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        shutil.copytree(local_dir, tmp)
        with open(os.path.join(tmp, _COMPLETE_MARKER), "w") as fh:
            fh.write("ok")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.replace(tmp, path)
        except OSError:
            # Another writer put the same content-addressed tree first.
            shutil.rmtree(tmp, ignore_errors=True)
        return "file://" + path

    def get_dir(self, uri: str, local_dir: str) -> None:
        path = self._path(uri)
        if not os.path.exists(os.path.join(path, _COMPLETE_MARKER)):
            raise NotFoundError(f"directory blob {uri} does not exist or is incomplete")
        shutil.copytree(
            path, local_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_COMPLETE_MARKER)
        )

    def local_path(self, uri: str) -> str | None:
        return self._path(uri)

    def append_text(self, key: str, text: str) -> str:
        path = self._key_path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
        return "file://" + path


class FsspecBlobStore(BlobStore):
    """Blobs under any fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``memory://...``)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url, **storage_options)
        self._protocol = url.split("://", 1)[0] if "://" in url else "file"

    def _path(self, uri: str) -> str:
        if "://" in uri:
            return uri.split("://", 1)[1] if self._protocol != "memory" else uri[len("memory:/") :]
        return f"{self.base}/{_check_key(uri)}"

    def uri(self, key: str) -> str:
        return f"{self.url}/{_check_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> str:
        path = f"{self.base}/{_check_key(key)}"  # a key, never a URI
        tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except OSError as exc:
            raise StoreError(f"could not write blob {self.uri(key)}: {exc}") from exc
        return self.uri(key)

    def get_bytes(self, uri: str) -> bytes:
        try:
            data: bytes = self.fs.cat_file(self._path(uri))
        except FileNotFoundError:
            raise NotFoundError(f"blob {uri} does not exist") from None
        return data

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self._path(uri)))

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def put_file(self, key: str, local_path: str) -> str:
        with open(local_path, "rb") as fh:
            return self.put_bytes(key, fh.read())

    def get_file(self, uri: str, local_path: str) -> None:
        data = self.get_bytes(uri)
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        with open(local_path, "wb") as fh:
            fh.write(data)

    def put_dir(self, key: str, local_dir: str) -> str:
        for dirpath, _dirs, files in os.walk(local_dir):
            for name in files:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, local_dir).replace(os.sep, "/")
                self.put_file(f"{key}/{rel}", full)
        self.put_bytes(f"{key}/{_COMPLETE_MARKER}", b"ok")
        return self.uri(key)

    def get_dir(self, uri: str, local_dir: str) -> None:
        base = self._path(uri)
        if not self.fs.exists(f"{base}/{_COMPLETE_MARKER}"):
            raise NotFoundError(f"directory blob {uri} does not exist or is incomplete")
        for path in self.fs.find(base):
            rel = path[len(base) :].lstrip("/")
            if rel == _COMPLETE_MARKER:
                continue
            target = os.path.join(local_dir, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(self.fs.cat_file(path))

    def local_path(self, uri: str) -> str | None:
        return None


def open_blob_store(url: str) -> BlobStore:
    """Open a blob store: a local path or ``file://`` URL gives a :class:`LocalBlobStore`,
    any other fsspec URL a :class:`FsspecBlobStore`."""
    if "://" not in url:
        return LocalBlobStore(url)
    if url.startswith("file://"):
        return LocalBlobStore(url[len("file://") :])
    return FsspecBlobStore(url)
