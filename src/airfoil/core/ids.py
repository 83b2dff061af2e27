"""Identifiers: execution ids, hashing helpers.

Execution ids are short, sortable by creation time and safe in URLs and file names.
"""

from __future__ import annotations

import hashlib
import os
import re
import time

__all__ = ["new_execution_id", "sha256_hex", "stable_hash", "validate_execution_id"]

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
#: Used with ``fullmatch``: ``re.match`` with ``$`` also takes a name ending in "\n".
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def _base36(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_execution_id() -> str:
    """Return a new execution id: ``"f" + 8 chars of time + 8 random chars`` (sortable)."""
    millis = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(6), "big")
    return "f" + _base36(millis, 9) + _base36(rand, 8)


def validate_execution_id(value: str, what: str = "execution id") -> str:
    """Check a user-chosen execution id (``what``: how the caller names it, e.g. the API's
    ``"name"`` field) and return it.

    Raises:
        ConfigError: the id is not 1-63 characters of ``a-z0-9_-`` starting alphanumeric.
    """
    from airfoil.core.errors import ConfigError

    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        shown = f"empty {what}" if not value else f"invalid {what} {value!r}"
        raise ConfigError(
            f"{shown}: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def stable_hash(*parts: str) -> str:
    """Hash several strings unambiguously (length-prefixed) into one hex SHA-256."""
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode()
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return h.hexdigest()
