"""Registered code packages inside a worker: fetch, unpack once, use as the code root.

A remote execution's ``code_root`` is a *package reference*
``airfoil-package:<sha256>:<blob store root URL>`` instead of a local directory. The worker
fetches ``packages/<sha256>.tar.gz`` from that blob store, checks its hash, unpacks it into a
cache folder keyed by the hash (``$AIRFOIL_PACKAGE_CACHE``, default ``$AIRFOIL_HOME/packages``
or ``~/.airfoil/packages``) and imports the task from there.

Invariants:

- A package folder is complete or absent: it is unpacked into a temporary folder and renamed.
- The archive's hash is checked before anything is unpacked; members that would land outside
  the folder (absolute paths, ``..``, links) are refused.
- A worker that switches to another package forgets the modules it imported from the previous
  one, so the same module name from two package versions never mixes.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import threading

from airfoil.core.errors import PlatformError

__all__ = ["PACKAGE_PREFIX", "is_package_ref", "materialize", "package_key", "package_ref"]

PACKAGE_PREFIX = "airfoil-package:"

_lock = threading.Lock()
_current: str | None = None
_last: tuple[str, str] | None = None  # the last reference materialized, and its folder


def package_key(sha256: str) -> str:
    """The blob key of a code package archive."""
    return f"packages/{sha256}.tar.gz"


def package_ref(sha256: str, blob_url: str) -> str:
    """The ``code_root`` of executions of a registered package."""
    return f"{PACKAGE_PREFIX}{sha256}:{blob_url}"


def is_package_ref(code_root: str) -> bool:
    """Whether ``code_root`` names a registered package rather than a local folder."""
    return code_root.startswith(PACKAGE_PREFIX)


def _cache_dir() -> str:
    explicit = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    if explicit:
        return explicit
    home = os.environ.get("AIRFOIL_HOME") or os.path.join(os.path.expanduser("~"), ".airfoil")
    return os.path.join(home, "packages")


def materialize(code_root: str) -> str:
    """The local folder of the package ``code_root`` names, fetched and unpacked if needed.

    Raises:
        PlatformError: the reference is malformed, or the archive is missing or corrupt.
    """
    last = _last  # the package in use, still unpacked: nothing to work out, fetch or switch
    if last is not None and last[0] == code_root and last[1] == _current and os.path.isdir(last[1]):
        return last[1]
    rest = code_root[len(PACKAGE_PREFIX) :]
    sha, sep, blob_url = rest.partition(":")
    if not sep or len(sha) != 64 or not blob_url:
        raise PlatformError(f"malformed code package reference {code_root!r}")
    target = os.path.join(_cache_dir(), sha)
    with _lock:
        if not os.path.isdir(target):
            _fetch(sha, blob_url, target)
        _switch_to(target)
        _remember(code_root, target)
    return target


def _remember(code_root: str, target: str) -> None:
    """The reference just materialized: a worker's attempts name the same one over and over,
    and the next finds its folder with one ``stat`` (no cache folder worked out, no lock)."""
    global _last
    _last = (code_root, target)


def _fetch(sha: str, blob_url: str, target: str) -> None:
    from airfoil.store.blob import open_blob_store

    blobs = open_blob_store(blob_url)
    try:
        data = blobs.get_bytes(blobs.uri(package_key(sha)))
    except Exception as exc:
        raise PlatformError(f"cannot fetch code package {sha[:12]}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != sha:
        raise PlatformError(f"code package {sha[:12]} is corrupt: its hash does not match")
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=parent)
    try:
        extract_archive(data, tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another worker won the race: theirs is identical
            if not os.path.isdir(target):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def extract_archive(data: bytes, dest: str) -> None:
    """Unpack a package archive (gzip tar of regular files and folders) into ``dest``.

    Raises:
        PlatformError: the archive is unreadable or a member would escape ``dest``.
    """
    root = os.path.realpath(dest)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                path = os.path.realpath(os.path.join(root, m.name))
                if not (m.isfile() or m.isdir()) or not path.startswith(root + os.sep):
                    raise PlatformError(f"code package member {m.name!r} is not allowed")
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and newer
                tar.extractall(root, members=members, filter="data")
            else:  # 3.11.0-3.11.3 (Debian 12's python3) have no extraction filters: the
                # members are checked above, and no owner, mode or time is taken from them
                for m in members:
                    tar.extract(m, root, set_attrs=False)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PlatformError(f"code package archive is unreadable: {exc}") from exc


def user_paths(text: str) -> str:
    """``text`` (a formatted traceback) with the files of the package in use named as in the
    user's project (``File "flow.py"``), not by the worker's package cache folder."""
    root = _current
    if root is None:
        return text
    return text.replace(f'File "{root}{os.sep}', 'File "')


def _switch_to(target: str) -> None:
    """Make ``target`` the package this process imports from, forgetting the previous one."""
    global _current
    if _current == target:
        return
    previous = _current
    _current = target
    if previous is None:
        return
    if previous in sys.path:
        sys.path.remove(previous)
    prefix = previous + os.sep
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(prefix):
            del sys.modules[name]
    from airfoil.runtime import loader

    loader._cache.clear()
