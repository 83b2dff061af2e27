"""Which algorithm a value's content hash is of, and computing it.

Every value's hash was the SHA-256 of its bytes until Arrow IPC frames (format ``arrow``, the
big values between tasks) moved to BLAKE3, which hashes ~2.5x faster on one core (an
80 MB frame in ~18 ms against SHA-256's ~45 ms), and NumPy arrays (format ``npy``, but for
arrays of Python objects) with them. A value says its algorithm in its meta:
``meta["digest"] == "blake3"``; no ``digest`` means SHA-256, so every value written before
(and every value of another format) reads and checks as it did.

Invariants:

- The algorithm travels with the value (its meta, which a container's reference keeps), so a
  container holding a frame hashes differently for each algorithm, and a cache key names the
  algorithm of every input that is not SHA-256 (``engine.cache.key_parts``): an entry written
  under a frame's SHA-256 key is an honest miss for the same frame's BLAKE3 key, never a hit
  on other content.
- An algorithm this version does not know is refused with an error that names it, never
  checked with another algorithm.
- Hashing a frame or an array needs the ``blake3`` package, a dependency of Airfoil's core
  install: a process where it is missing anyway (a broken install) fails with an error that
  says what to install, never computes another key for the same frame or array.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from airfoil.core.errors import ConfigError, CorruptBlobError

__all__ = [
    "BLAKE3",
    "DIGEST_META",
    "SHA256",
    "algorithm_of",
    "digest_bytes",
    "digest_file",
    "hasher",
]

#: The meta key naming a value's hash algorithm (absent: SHA-256).
DIGEST_META = "digest"
SHA256 = "sha256"
BLAKE3 = "blake3"
_KNOWN = (SHA256, BLAKE3)


def algorithm_of(meta: Mapping[str, str]) -> str:
    """The algorithm of the hash of a value with ``meta``.

    Raises:
        CorruptBlobError: the meta names an algorithm this version does not know (a value
            written by a newer version, or a hand-edited record).
    """
    algorithm = meta.get(DIGEST_META, SHA256)
    if algorithm not in _KNOWN:
        raise CorruptBlobError(
            f"the value's hash is of algorithm {algorithm!r}, which this version of Airfoil "
            f"does not know (it knows {', '.join(_KNOWN)}): upgrade Airfoil where it is read"
        )
    return algorithm


def _blake3() -> Any:
    try:
        import blake3
    except ImportError:
        raise ConfigError(
            "hashing an Arrow frame or a NumPy array needs the blake3 package (both are "
            "content-addressed by BLAKE3), a dependency of airfoil missing here: reinstall "
            "airfoil, or pip install blake3"
        ) from None
    return blake3.blake3


def hasher(algorithm: str) -> Any:
    """A new hash object (``update(buffer)``, ``hexdigest()``) of ``algorithm``; both read
    each buffer in place (no copy)."""
    if algorithm == BLAKE3:
        return _blake3()()
    return hashlib.sha256()


def digest_bytes(data: Any, algorithm: str) -> str:
    """The hex digest of a bytes-like object."""
    if algorithm == BLAKE3:
        return str(_blake3()(data).hexdigest())
    return hashlib.sha256(data).hexdigest()


def digest_file(path: str, algorithm: str) -> str:
    """The hex digest of a file's bytes.

    SHA-256 reads the file in ``hashlib.file_digest``'s 256 KiB chunks. BLAKE3 hashes it
    through a read-only memory map (``blake3``'s ``update_mmap``, one thread, the GIL
    released), so a call allocates no buffer: the chunked read it replaces allocated 8 MiB a
    call (2,050 page faults in a new process, held by the allocator of every thread that ever
    checked a file) and copied every byte into it, for ~25% more CPU
    (``benchmarks/bench_digest_file.py``). The map holds the page cache's own pages (those
    a reader of a frame or an array maps next), which count in the process's RSS while it is
    hashed and are no new memory. A blob's file is content-addressed and replaced only by a
    rename, never truncated in place, so the map meets no missing page (``SIGBUS``), as the
    readers' own maps of the same file do not.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it is missing).
        CorruptBlobError: ``algorithm`` is none this version knows.
    """
    if algorithm_of({DIGEST_META: algorithm}) == SHA256:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    h = _blake3()()
    h.update_mmap(path)
    return str(h.hexdigest())
