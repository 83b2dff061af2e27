"""Blob stores through fsspec: a local directory by default, any fsspec URL in production.

A reader never sees a half-written blob. A local store writes to a temporary file in one
``tmp/`` folder under its root (the same filesystem, so the rename is atomic) and renames it
into place; an object store (s3, gs, az, memory...) takes each blob in one PUT straight to its
key, which is atomic there, so an interrupted write leaves nothing; other fsspec filesystems
stage under ``tmp/`` as a local store does. ``remove_stale_temporaries`` (both stores) deletes
the temporaries a crashed writer left.

Durability (the ``durability`` setting): ``process`` (default) survives a crash of the
process: a renamed blob is in the OS's page cache. ``power`` also survives a power loss: the
blob's data is fsynced before the rename and its directory after it, so the blob is on disk
before :meth:`put_bytes` returns, hence before any commit that references it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

from airfoil.core.blobs import DIRECTORY_MARKER, BlobStore
from airfoil.core.errors import ConfigError, NotFoundError, StoreError

__all__ = [
    "DURABILITY_LEVELS",
    "Durability",
    "ATOMIC_PUT_PROTOCOLS",
    "FsspecBlobStore",
    "LocalBlobStore",
    "open_blob_store",
]

_COMPLETE_MARKER = DIRECTORY_MARKER
_TMP_DIR = "tmp"
_LEGACY_TMP_DIR = "values/tmp"  # where frames were staged before tmp/
Durability = Literal["process", "power"]
DURABILITY_LEVELS: tuple[str, ...] = ("process", "power")


def _check_durability(durability: str) -> None:
    if durability not in DURABILITY_LEVELS:
        raise ConfigError(
            f"invalid durability {durability!r}: use 'process' (survives a crash of the "
            "process) or 'power' (also survives a power loss; slower writes)"
        )


def _fsync_path(path: str) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _writing(key: str) -> Iterator[None]:
    """A local write's OS error (disk full, a read-only or missing folder, a file where a
    folder must go) as the store failure it is: a :class:`StoreError`, so the attempt that
    wrote is a system failure (retried on ``system_retries``), not the user's error."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"could not write blob {key!r} to the local blob store: {exc}") from exc


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ConfigError(f"invalid blob key {key!r}: use a relative path without '..'")
    return key


class LocalBlobStore(BlobStore):
    """Blobs as files under a local directory (the embedded default)."""

    def __init__(self, root: str, durability: str = "process") -> None:
        _check_durability(durability)
        self.root = os.path.abspath(os.path.expanduser(root))
        self.durability = durability
        self._sync = durability == "power"

    def _tmp_path(self) -> str:
        tmp_dir = os.path.join(self.root, _TMP_DIR)
        os.makedirs(tmp_dir, exist_ok=True)
        return os.path.join(tmp_dir, uuid.uuid4().hex)

    def _place(self, tmp: str, path: str) -> None:
        """Rename a finished temporary file into place (fsyncing first in ``power``)."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if self._sync:
            _fsync_path(tmp)
        os.replace(tmp, path)
        if self._sync:
            _fsync_path(os.path.dirname(path))

    def persist(self, uri: str) -> None:
        if not self._sync:
            return
        path = self._path(uri)
        if os.path.isdir(path):
            for dirpath, _dirs, files in os.walk(path):
                for name in files:
                    _fsync_path(os.path.join(dirpath, name))
                _fsync_path(dirpath)
        else:
            _fsync_path(path)
        _fsync_path(os.path.dirname(path))

    def remove_stale_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files and trees a writer left behind (it crashed between writing
        and renaming), untouched for ``older_than_s``; the number removed. Younger ones may
        belong to a write in flight in another process and are kept."""
        removed = 0
        cutoff = time.time() - older_than_s
        for folder in (_TMP_DIR, _LEGACY_TMP_DIR):
            base = os.path.join(self.root, folder)
            try:
                entries = list(os.scandir(base))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.remove(entry.path)
                    removed += 1
                except FileNotFoundError:  # another process cleaned it first
                    continue
        return removed

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
        with _writing(key):
            tmp = self._tmp_path()
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                self._place(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
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

    def size(self, uri: str) -> int | None:
        try:
            return os.stat(self._path(uri)).st_size
        except FileNotFoundError:
            raise NotFoundError(f"blob {uri} does not exist") from None

    def open_read(self, uri: str) -> BinaryIO:
        try:
            return open(self._path(uri), "rb")  # the caller closes it
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"blob {uri} does not exist") from None

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)

    def put_file(self, key: str, local_path: str) -> str:
        path = self._key_path(key)
        if not os.path.isfile(local_path):  # the caller's file, not the store: not wrapped
            raise FileNotFoundError(f"no such file to store: {local_path!r}")
        with _writing(key):
            tmp = self._tmp_path()
            try:
                shutil.copyfile(local_path, tmp)
                self._place(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
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
        if not os.path.isdir(local_dir):  # the caller's folder, not the store: not wrapped
            raise FileNotFoundError(f"no such folder to store: {local_dir!r}")
        with _writing(key):
            tmp = self._tmp_path()
            try:
                shutil.copytree(local_dir, tmp)
                with open(os.path.join(tmp, _COMPLETE_MARKER), "w") as fh:
                    fh.write("ok")
                if self._sync:
                    self.persist("file://" + tmp)
                os.makedirs(os.path.dirname(path), exist_ok=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            try:
                os.replace(tmp, path)
            except OSError as exc:
                try:
                    self._replace_unfinished(tmp, path, exc)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            if self._sync:
                _fsync_path(os.path.dirname(path))
        return "file://" + path

    def _replace_unfinished(self, tmp: str, path: str, exc: OSError) -> None:
        """The rename of a finished tree onto ``path`` failed with ``exc``. Another writer's
        tree of the same content there is success. A tree without the completion marker (a
        delete cut short, files written under the key) is no writer's tree in flight, as
        writers rename whole trees: it is moved aside and replaced, once. Anything else is
        this write failing: it is raised, never answered with a URI that is not there."""
        marker = os.path.join(path, _COMPLETE_MARKER)
        if os.path.exists(marker):
            return
        if os.path.isdir(path):
            aside = self._tmp_path()
            with contextlib.suppress(FileNotFoundError):  # another writer moved it first
                os.replace(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
            try:
                os.replace(tmp, path)
                return
            except OSError as again:
                exc = again
        if not os.path.exists(marker):
            raise StoreError(f"could not store the directory blob at {path}: {exc}") from exc

    def get_dir(self, uri: str, local_dir: str) -> None:
        path = self._path(uri)
        if not os.path.exists(os.path.join(path, _COMPLETE_MARKER)):
            raise NotFoundError(f"directory blob {uri} does not exist or is incomplete")
        # Only the top's marker is the store's: a file of that name deeper in the tree is
        # the user's (ignore_patterns dropped it at every level, and the read failed as corrupt).
        shutil.copytree(
            path,
            local_dir,
            dirs_exist_ok=True,
            ignore=lambda folder, _names: [_COMPLETE_MARKER] if folder == path else [],
        )

    def local_path(self, uri: str) -> str | None:
        return self._path(uri)

    def append_text(self, key: str, text: str) -> str:
        path = self._key_path(key)
        with _writing(key):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(text)
        return "file://" + path


#: fsspec protocols whose single PUT is atomic (a reader sees the whole object or none) and
#: whose "rename" is a copy and a delete: blobs are written straight to their key there.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss", "memory"})


class FsspecBlobStore(BlobStore):
    """Blobs under any fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``memory://...``).

    On an object store (:data:`ATOMIC_PUT_PROTOCOLS`) a blob is written with one PUT straight
    to its key: the object appears whole once the bytes are complete, and a write interrupted
    before that leaves nothing behind. Elsewhere (sftp, hdfs, ...; or ``atomic_put=False``) it
    is written under ``tmp/<unix ms>-<random>`` and moved into place;
    :meth:`remove_stale_temporaries` (run by entry points when they open the store) deletes
    the temporaries of writers that died between the two.

    Args:
        url: the store's root URL.
        atomic_put: whether one PUT is atomic on this filesystem (default: by protocol).
        storage_options: passed to fsspec.
    """

    def __init__(self, url: str, *, atomic_put: bool | None = None, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self._protocol = url.split("://", 1)[0] if "://" in url else "file"
        if self._protocol in ("file", "local"):  # folders made as an object store's keys are
            storage_options.setdefault("auto_mkdir", True)
        self.fs, self.base = fsspec.core.url_to_fs(self.url, **storage_options)
        self.atomic_put = (
            self._protocol in ATOMIC_PUT_PROTOCOLS if atomic_put is None else atomic_put
        )

    def remove_stale_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Delete temporaries under ``tmp/`` older than ``older_than_s`` (their writer died
        between writing and moving them into place); the number removed. Younger ones may be
        a write in flight in another process and are kept."""
        cutoff_ms = (time.time() - older_than_s) * 1000
        try:
            names = self.fs.ls(f"{self.base}/{_TMP_DIR}", detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        removed = 0
        for name in names:
            stamp = str(name).rstrip("/").rsplit("/", 1)[-1].split("-", 1)[0]
            if not stamp.isdigit() or int(stamp) >= cutoff_ms:
                continue
            try:
                self.fs.rm(name, recursive=True)
                removed += 1
            except FileNotFoundError:  # another process cleaned it first
                continue
        return removed

    def _path(self, uri: str) -> str:
        if "://" in uri:
            return uri.split("://", 1)[1] if self._protocol != "memory" else uri[len("memory:/") :]
        return f"{self.base}/{_check_key(uri)}"

    def uri(self, key: str) -> str:
        return f"{self.url}/{_check_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> str:
        path = f"{self.base}/{_check_key(key)}"  # a key, never a URI
        if self.atomic_put:
            try:
                self.fs.pipe_file(path, data)
            except OSError as exc:
                raise StoreError(f"could not write blob {self.uri(key)}: {exc}") from exc
            return self.uri(key)
        tmp = f"{self.base}/{_TMP_DIR}/{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
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

    def size(self, uri: str) -> int | None:
        try:
            found = self.fs.size(self._path(uri))
        except FileNotFoundError:
            raise NotFoundError(f"blob {uri} does not exist") from None
        return None if found is None else int(found)

    def open_read(self, uri: str) -> BinaryIO:
        try:
            opened: BinaryIO = self.fs.open(self._path(uri), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {uri} does not exist") from None
        return opened

    def delete(self, uri: str) -> None:
        path = self._path(uri)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def put_file(self, key: str, local_path: str) -> str:
        with open(local_path, "rb") as fh:
            return self.put_bytes(key, fh.read())

    def get_file(self, uri: str, local_path: str) -> None:
        # streamed in pieces: a blob's bytes are never all in memory (a reader maps the file)
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        with self.open_read(uri) as src, open(local_path, "wb") as fh:
            shutil.copyfileobj(src, fh, 1 << 20)

    def put_dir(self, key: str, local_dir: str) -> str:
        # Linked folders are followed, as LocalBlobStore's copytree does and a directory
        # value's hash does (the type engine refuses a tree with a loop before storing it).
        for dirpath, _dirs, files in os.walk(local_dir, followlinks=True):
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


def open_blob_store(url: str, durability: str = "process") -> BlobStore:
    """Open a blob store: a local path or ``file://`` URL gives a :class:`LocalBlobStore`,
    any other fsspec URL a :class:`FsspecBlobStore` (an object store's PUT is durable when
    it returns, so ``durability`` changes nothing there).

    Raises:
        ConfigError: an unknown durability level.
    """
    _check_durability(durability)
    if "://" not in url:
        return LocalBlobStore(url, durability)
    if url.startswith("file://"):
        return LocalBlobStore(url[len("file://") :], durability)
    return FsspecBlobStore(url)
