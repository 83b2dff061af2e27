"""Secret files at a path known before the task runs (flytekit's ``get_secrets_file``, whose
path a test compares with the one a task saw: ``<dir>/<group>/<key>``).

A task's own secret files (:meth:`airfoil.Secrets.file`) live in a private directory made for
the attempt. A *shared* one is at a fixed path, under a directory only this user can use
(checked: owned by this user, mode 0700), so it must be written and removed with care:

- each attempt that mounts it leaves a marker in ``<path>.users/``; it is written (0600,
  atomically) by the first, and removed with the markers' directory when the last marker is
  removed (:func:`unmount`);
- every change happens under an exclusive ``flock`` of ``<dir>/.lock``;
- a file already there holding *another* value (another project's secret of that name, on a
  shared worker) is never overwritten or read: :func:`mount` says so and the caller falls back
  to a private file.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import uuid
from collections.abc import Iterator

__all__ = ["mount", "shared_path", "unmount"]


def _base() -> str:
    return os.path.join(tempfile.gettempdir(), f"airfoil-secrets-{os.getuid()}")


def _part(text: str) -> str:
    clean = re.sub(r"[^a-z0-9._-]", "_", text.lower())
    return "_" + clean if clean in ("", ".", "..") or clean.startswith(".") else clean


def shared_path(*parts: str) -> str:
    """``<this user's secrets directory>/<part>/.../<part>`` (each part lower-cased, made
    safe as a file name). Pure: nothing is written."""
    return os.path.join(_base(), *(_part(p) for p in parts if p))


def _private_dir(path: str) -> None:
    """Make ``path``, a directory under this user's secrets directory, and every directory
    between them, directories only this user can use.

    Raises:
        PermissionError: one exists but is not a directory of this user's with mode 0700.
    """
    base = _base()
    rel = os.path.relpath(path, base)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise PermissionError(f"{path} is not under {base}")
    parts = [] if rel == os.curdir else rel.split(os.sep)
    for i in range(len(parts) + 1):
        d = os.path.join(base, *parts[:i])
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise PermissionError(
                f"{d} must be a directory owned by this user with mode 0700 to hold secret "
                "files; remove it (or fix its owner and mode) and run again"
            )


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    import fcntl

    fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def mount(path: str, value: str) -> str | None:
    """Write ``value`` at ``path`` (a :func:`shared_path`) for one user of it; return the
    marker to give :func:`unmount`, or ``None`` when another value is there (then nothing
    was written)."""
    directory = os.path.dirname(path)
    _private_dir(directory)
    users = path + ".users"
    with _locked(directory):
        held = os.path.isdir(users) and bool(os.listdir(users))
        if held:
            with open(path, encoding="utf-8") as f:
                if f.read() != value:
                    return None
        else:  # first user (a file left by a killed run is replaced)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(value)
            os.replace(tmp, path)
            os.makedirs(users, mode=0o700, exist_ok=True)
        marker = os.path.join(users, uuid.uuid4().hex)
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return marker


def unmount(path: str, marker: str) -> None:
    """Remove one user's marker; the last one removes the file."""
    directory = os.path.dirname(path)
    users = path + ".users"
    with _locked(directory):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker)
        if os.path.isdir(users) and not os.listdir(users):
            os.rmdir(users)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
