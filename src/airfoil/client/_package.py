"""Code packages: a deterministic, content-hashed archive of the user's source folder.

The same files always give the same bytes (sorted members, zeroed times, owners and modes
normalised, gzip without a timestamp), so the archive's SHA-256 names the code: uploading it
twice is a no-op and any change gives a new package.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import tarfile
from typing import Any

from airfoil.core.errors import ConfigError

__all__ = ["EXCLUDED_DIRS", "build_package", "entity_file", "source_root"]

#: Folders never packaged.
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".airfoil",
        ".tox",
        ".idea",
        ".vscode",
        "build",
        "dist",
        ".eggs",
    }
)
_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".so.tmp", ".db", ".db-wal", ".db-shm")
_MAX_BYTES = 100 * 2**20


def entity_file(entity: Any) -> str | None:
    """The file of the module that defined ``entity`` (a task's or workflow's function; a
    launch plan's workflow's), from the function's own globals: not the module that now holds
    its module's name in ``sys.modules``, which another file of the same name may have taken
    since (two projects' ``flow.py`` loaded in one process). None where it has no function."""
    for obj in (entity, getattr(entity, "workflow", None)):
        fn = getattr(obj, "__airfoil_fn__", None)
        file = getattr(fn, "__globals__", {}).get("__file__")
        if file:
            return str(file)
    return None


def source_root(module_name: str, file: str | None = None) -> str:
    """The folder holding a module's top-level package (or the script's folder); ``file``:
    the module's file where known (:func:`entity_file`), else the module of that name in
    ``sys.modules``."""
    if not file:
        file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file:
        raise ConfigError(f"module {module_name!r} has no file to package")
    path = os.path.dirname(os.path.realpath(file))
    depth = module_name.count(".")
    if os.path.basename(file).startswith("__init__."):
        depth += 1
    for _ in range(depth):
        path = os.path.dirname(path)
    return str(path)


def _files(root: str) -> list[str]:
    out: list[str] = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(_EXCLUDED_SUFFIXES):
                continue
            full = os.path.join(here, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            out.append(os.path.relpath(full, root))
    return sorted(out)


def build_package(root: str) -> tuple[bytes, str]:
    """The archive of ``root`` and its SHA-256.

    Raises:
        ConfigError: ``root`` is not a folder, or the package would exceed 100 MiB.
    """
    if not os.path.isdir(root):
        raise ConfigError(f"cannot package {root}: not a folder")
    raw = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in _files(root):
            full = os.path.join(root, rel)
            with open(full, "rb") as fh:
                data = fh.read()
            total += len(data)
            if total > _MAX_BYTES:
                raise ConfigError(
                    f"the source folder {root} holds over {_MAX_BYTES // 2**20} MiB: keep data "
                    "out of it (use File/Directory inputs) or package a smaller folder"
                )
            info = tarfile.TarInfo(rel.replace(os.sep, "/"))
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    blob = out.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()
