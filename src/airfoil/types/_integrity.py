"""Checking an offloaded value's blob against the content hash recorded when it was written.

A value's hash says what its blob must contain: the digest of the blob's bytes (every format
but ``file`` and ``directory``; SHA-256, or the algorithm the value's ``meta["digest"]`` names:
:mod:`airfoil.types._digests`), of the file's bytes for a ``file`` (``meta["sha256"]``, and
the hash covers the name too), and of the sorted manifest of the tree for a ``directory``.
Reads check it, so a blob damaged after it was written (a disk fault, a power loss under the
``process`` durability, a hand edit) is a :class:`~airfoil.core.errors.CorruptBlobError`
naming the blob, never a silently wrong input.

An inline value is never checked when read (its bytes are in the record): one that comes
from outside the process (a registered spec's default or constant, a launch plan's input) is
checked where it arrives (:func:`inline_hash_problem`), as its hash is what cache keys are
made of: a value whose hash names other content would leave its results under that other
content's key.
"""

from __future__ import annotations

import hashlib
import os

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import CorruptBlobError, NotFoundError, TypeTransformError
from airfoil.core.records import Value
from airfoil.types._digests import SHA256, algorithm_of, digest_bytes, digest_file

__all__ = ["check_blob", "check_bytes", "check_path", "inline_hash_problem", "remember_digest"]

#: Formats whose hash is the digest of their bytes (by the algorithm their meta names).
_BYTES_DIGEST_FORMATS = frozenset({"arrow", "npy", "parquet", "pickle", "bytes"})


def _algorithm(value: Value) -> str:
    """The algorithm of the digest the blob's bytes must have (a file's is SHA-256)."""
    return SHA256 if value.format == "file" else algorithm_of(value.meta)


def _content_sha(value: Value) -> str:
    """The digest the blob's bytes must have (not for directories)."""
    if value.format == "file":
        return value.meta.get("sha256", "")
    # JSON stored in the user's key order but hashed canonically records its bytes' SHA-256.
    return value.meta.get("sha256") or value.hash


def _corrupt(value: Value, found: str) -> CorruptBlobError:
    return CorruptBlobError(
        f"blob {value.uri} (value hash {value.hash}) is corrupt: its content hashes to "
        f"{found[:16]}..., but the {value.format} value written there had "
        f"{_content_sha(value)[:16]}... (the file was changed or damaged after it was "
        "written); rerun the task that produced it"
    )


def check_bytes(value: Value, data: bytes) -> None:
    """Check a blob's bytes against the value's hash.

    Raises:
        CorruptBlobError: they do not match.
    """
    found = digest_bytes(data, _algorithm(value))
    if found != _content_sha(value):
        raise _corrupt(value, found)


_checked: dict[tuple[str, int, int, int, str], str] = {}


def _hash_file(path: str, algorithm: str) -> str:
    """A file's digest, remembered per (path, inode, size, mtime, algorithm): a blob read by
    many tasks of one process is hashed once, and any rewrite of it is hashed again."""
    st = os.stat(path)
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns, algorithm)
    known = _checked.get(key)
    if known is not None:
        return known
    digest = digest_file(path, algorithm)
    if len(_checked) >= 4096:
        _checked.clear()
    _checked[key] = digest
    return digest


def remember_digest(path: str, digest: str, algorithm: str = SHA256) -> None:
    """Record the digest (of ``algorithm``) of a file this process has just written and
    hashed, so that reading it back in this process does not hash it again (a later rewrite
    changes its key)."""
    st = os.stat(path)
    if len(_checked) >= 4096:
        _checked.clear()
    _checked[(path, st.st_ino, st.st_size, st.st_mtime_ns, algorithm)] = digest


def check_path(value: Value, path: str) -> tuple[str, str] | None:
    """Check a local copy of a value's blob (a file, or a directory tree).

    Returns:
        ``(algorithm, digest)`` of the file's bytes, proved to be the value's (a node's
        cache keeps it for its entry: no second hash), or None for a directory.

    Raises:
        CorruptBlobError: it does not match the value's hash.
    """
    if value.format == "directory":
        from airfoil.types._files import directory_digest

        found = directory_digest(path, value.meta.get("name", os.path.basename(path)))
        if found != value.hash:
            raise CorruptBlobError(
                f"directory blob {value.uri} (value hash {value.hash}) is corrupt: its files "
                "no longer hash to the "
                "value's hash (a file was changed, added or removed after it was written); "
                "rerun the task that produced it"
            )
        return None
    algorithm = _algorithm(value)
    found = _hash_file(path, algorithm)
    if found != _content_sha(value):
        raise _corrupt(value, found)
    return algorithm, found


def check_blob(value: Value, blobs: BlobStore) -> None:
    """Check an offloaded value's blob where it lives (reading it once).

    Raises:
        NotFoundError: the blob is missing.
        CorruptBlobError: its content does not match the value's hash.
    """
    if value.uri is None:
        return
    local = blobs.local_path(value.uri)
    if local is not None and not os.path.exists(local):
        raise NotFoundError(f"blob {value.uri} does not exist")
    if local is not None and value.format != "directory":
        check_path(value, local)
        return
    if value.format == "directory":  # a copy: the stored tree also holds a completion marker
        import tempfile

        with tempfile.TemporaryDirectory(prefix="airfoil-check-") as scratch:
            target = os.path.join(scratch, "dir")  # the hash takes the name from the value
            blobs.get_dir(value.uri, target)
            check_path(value, target)
        return
    check_bytes(value, blobs.get_bytes(value.uri))


def inline_hash_problem(value: Value) -> str | None:
    """What is wrong with an inline value's hash (None: it is its content's, or the value is
    not inline, or its format's hash is not made of its bytes alone: files, containers).

    A ``json`` value's hash is the SHA-256 of its canonical form (keys sorted), which its
    bytes are unless they hold an object in the user's key order: those bytes are read and
    written canonically only when their own digest is not the hash.

    Raises:
        CorruptBlobError: the value's meta names a digest algorithm this version lacks.
    """
    data = value.inline
    if data is None:
        return None
    if value.format == "json":
        if hashlib.sha256(data).hexdigest() == value.hash:
            return None
        from airfoil.types._base import canonical_json, decode_json_bytes

        try:
            canonical = canonical_json(decode_json_bytes(data))
        except TypeTransformError:  # not JSON, or JSON that does not encode back (ConversionError)
            return "holds bytes that are not JSON"
        if hashlib.sha256(canonical).hexdigest() == value.hash:
            return None
        return "has a hash that is not its JSON content's (SHA-256 of its canonical form)"
    own = value.format in _BYTES_DIGEST_FORMATS and digest_bytes(data, algorithm_of(value.meta))
    if own and own != value.hash:
        return "has a hash that is not its bytes' digest"
    return None
