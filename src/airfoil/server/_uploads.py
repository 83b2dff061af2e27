"""Launch inputs that are not JSON: files, dataframes and arrays, uploaded by content.

A client serialises such a value with the type engine (the same bytes a local run stores),
uploads the bytes with ``PUT .../uploads/{sha256}`` unless they are small enough to travel
inline, and names them in the launch request by a reference::

    {"$airfoil": {"format": "parquet", "hash": "...", "size": 123, "meta": {...},
                  "sha256": "<sha256 of the uploaded bytes>"}}   # or "inline": "<base64>"

Values of a kind a user's converter writes (``airfoil.types.add_converter``) travel the same
way, in the converter's own format, and must be content-addressed (their hash is the bytes'
SHA-256, as :func:`~airfoil.types.write_bytes_value` makes it).

The server checks the reference against the input's declared type and the bytes against the
hashes (so a launch never names a value that is not what it claims), then stores the bytes
where the type engine keeps values (``values/<hash[:2]>/<hash>``). It never decodes them:
a Parquet or ``.npy`` payload is only checked by its magic bytes; the worker reads it.

Invariants:

- An upload is kept under ``uploads/<sha256[:2]>/<sha256>`` only if its SHA-256 matches.
- A value's hash is recomputed here: for Parquet and ``.npy`` it is the bytes' SHA-256, for a
  ``File`` the hash of its name and its bytes' SHA-256 (as ``FileHandler`` computes it).
- Directories cannot be uploaded yet (a clear 422 says so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.records import TypeSpec, Value
from airfoil.store.base import BlobStore

__all__ = ["MAX_UPLOAD", "UPLOAD_KINDS", "store_upload", "upload_key", "uploaded_value"]

#: Largest upload accepted, in bytes.
MAX_UPLOAD = 1024 * 2**20
#: Input type kind -> the value format its uploads must have.
UPLOAD_KINDS = {"file": "file", "dataframe": "parquet", "ndarray": "npy"}
_MAGIC = {"parquet": b"PAR1", "npy": b"\x93NUMPY"}


def upload_key(sha256: str) -> str:
    """Blob key of an uploaded payload."""
    return f"uploads/{sha256[:2]}/{sha256}"


def store_upload(blobs: BlobStore, sha256: str, data: bytes) -> int:
    """Keep an uploaded payload under its SHA-256 (checked); returns its size.

    Raises:
        InvalidInputError: too large, or the bytes do not hash to ``sha256``.
    """
    if len(data) > MAX_UPLOAD:
        raise InvalidInputError(f"the upload is {len(data)} bytes; the limit is {MAX_UPLOAD}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise InvalidInputError(f"the uploaded bytes' SHA-256 is {actual}, not {sha256}")
    key = upload_key(sha256)
    if not blobs.exists(blobs.uri(key)):
        blobs.put_bytes(key, data)
    return len(data)


def uploaded_value(blobs: BlobStore, name: str, spec: TypeSpec, data: Any) -> Value:
    """The :class:`Value` of input ``name`` (of a file, dataframe or array type) from its
    reference, its bytes checked and stored where values live.

    Raises:
        InvalidInputError: not a reference, the wrong format for the type, a missing upload, or
            bytes that do not match the reference's hashes.
    """
    if spec.kind == "directory":
        raise InvalidInputError(
            f"input {name!r} ({spec}): directories cannot be sent over the API yet; send a "
            "File (an archive of it) or give the input a default"
        )
    fmt = UPLOAD_KINDS.get(spec.kind, "")  # "": a converter's kind, in its own format
    body = data.get("$airfoil") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise InvalidInputError(
            f"input {name!r} expects {spec}, which is not JSON: launch it from Python "
            "(airfoil.client.Client.launch uploads it) or with `airfoil run --remote`, or send "
            'a reference {"$airfoil": {...}} to an upload'
        )
    try:
        given_format, digest = str(body["format"]), str(body["hash"])
        size, meta = int(body.get("size", 0)), {str(k): str(v) for k, v in body["meta"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidInputError(
            f"input {name!r}: a reference needs format, hash, size and meta"
        ) from None
    if not fmt and given_format not in ("", "pickle"):
        fmt = given_format  # a converter's own kind: content-addressed bytes, never decoded here
    if given_format != fmt:
        raise InvalidInputError(
            f"input {name!r} expects {spec} (format {fmt!r}), got a {given_format!r} value"
        )
    inline = body.get("inline")
    if inline is not None:
        try:
            content = base64.b64decode(str(inline), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(f"input {name!r}: inline is not base64") from None
    else:
        sha = str(body.get("sha256", ""))
        try:
            content = blobs.get_bytes(blobs.uri(upload_key(sha)))
        except (NotFoundError, FileNotFoundError):
            raise InvalidInputError(
                f"input {name!r}: no upload with SHA-256 {sha!r}: PUT its bytes to "
                f"uploads/{sha or '<sha256>'} first"
            ) from None
    content_sha = hashlib.sha256(content).hexdigest()
    if fmt == "file":
        from airfoil.types._files import file_value_hash

        expected = file_value_hash(meta.get("name", ""), content_sha)
        matches = meta.get("sha256") == content_sha and digest == expected
    else:
        matches = digest == content_sha and content.startswith(_MAGIC.get(fmt, b""))
    if not matches or size != len(content):
        raise InvalidInputError(
            f"input {name!r}: the bytes do not match the reference (hash, size or {fmt} "
            "header): serialise the value with Airfoil's type engine"
        )
    if inline is not None:
        return Value(hash=digest, format=fmt, inline=content, size=size, meta=meta)
    key = f"values/{digest[:2]}/{digest}"
    uri = blobs.uri(key)
    if not blobs.exists(uri):
        uri = blobs.put_bytes(key, content)
    return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta)
