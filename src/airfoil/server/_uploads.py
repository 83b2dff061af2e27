"""Launch inputs that are not JSON: files, dataframes and arrays, uploaded by content.

A client serialises such a value with the type engine (the same bytes a local run stores),
uploads the bytes with ``PUT /projects/{project}/uploads/{sha256}`` unless they are small
enough to travel inline, and names them in the launch request by a value reference
(:class:`airfoil.types._refs.ValueRef`, the one codec of that form)::

    {"$airfoil": {"format": "arrow", "hash": "...", "size": 123, "meta": {...},
                  "sha256": "<sha256 of the uploaded bytes>"}}   # or "inline": "<base64>"

An upload belongs to the project it was sent to; a reference may add ``"project": "other"``
to name an upload of another project, which is allowed only if the caller may read it.

Values of a kind a user's converter writes (``airfoil.types.add_converter``) travel the same
way, in the converter's own format, and must be content-addressed (their hash is the bytes'
SHA-256, as :func:`~airfoil.types.write_bytes_value` makes it).

The server checks the reference against the input's declared type and the bytes against the
hashes (so a launch never names a value that is not what it claims), then stores the bytes
where the type engine keeps values (``values/<hash[:2]>/<hash>``). It never decodes what the
type engine serialised: an Arrow IPC or ``.npy`` payload is only checked by its magic bytes;
the worker reads it.

Invariants:

- An upload is kept under ``uploads/<project>/<sha256[:2]>/<sha256>`` only if its SHA-256
  matches; a launch finds it only in its own project or one the caller may read.
- A value's hash is recomputed here: for Arrow IPC and ``.npy`` it is the bytes' digest by
  the algorithm the reference's meta names (``"digest": "blake3"`` for a frame the type
  engine serialised, frame or array; none: SHA-256, as older clients send), for a ``File``
  the hash of its name and its bytes' SHA-256 (as ``FileHandler`` computes it).
- A user's ``.npy`` file as it is (a reference without ``shape`` in its meta: what the
  console sends) is read and stored as ``airfoil run --a data.npy`` stores it (its
  ``np.save`` bytes keyed by their BLAKE3), so the value and its hash are the CLI's.
- Directories cannot be uploaded yet (a clear 422 says so).
- A DataFrame travels as Arrow IPC (what the client sends: the bytes a task returning the same
  frame stores, so both have one hash and one cache key). It also takes a ``.parquet`` or
  ``.csv`` upload (reference format ``"parquet"`` / ``"csv"``, hash = the bytes' SHA-256, what
  the console sends: a user's file as it is): converted as ``airfoil run --x data.parquet``
  converts it (read with the input's library, stored as Arrow IPC), so the value and its hash
  are the CLI's, whatever format the frame arrived in.
- A list of files, dataframes or arrays (``list[File]``) takes a JSON array of references;
  its value is the list the type engine would write for those members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from airfoil.core.errors import CorruptBlobError, InvalidInputError, NotFoundError
from airfoil.core.records import TypeSpec, Value
from airfoil.store.base import BlobStore
from airfoil.types._base import values_key
from airfoil.types._digests import SHA256, algorithm_of, digest_bytes
from airfoil.types._refs import REF_KEY, UPLOAD_FORMATS, ValueRef, ValueRefError

__all__ = [
    "MAX_UPLOAD",
    "store_upload",
    "upload_key",
    "uploaded_list",
    "uploaded_value",
]

#: Largest upload accepted, in bytes.
MAX_UPLOAD = 1024 * 2**20
_MAGIC = {"arrow": b"\xff\xff\xff\xff", "npy": b"\x93NUMPY"}  # Arrow IPC: a stream's marker
#: Files a DataFrame input also takes, converted as the CLI converts a path of that suffix.
_FRAME_FILES = {"parquet": ".parquet", "csv": ".csv"}
_FRAME_NAMES = {"parquet": "Parquet", "csv": "CSV"}


def upload_key(project: str, sha256: str) -> str:
    """Blob key of a payload uploaded to ``project``."""
    return f"uploads/{project}/{sha256[:2]}/{sha256}"


def store_upload(blobs: BlobStore, project: str, sha256: str, data: bytes) -> int:
    """Keep an uploaded payload under its SHA-256 (checked); returns its size.

    Raises:
        InvalidInputError: too large, or the bytes do not hash to ``sha256``.
    """
    if len(data) > MAX_UPLOAD:
        raise InvalidInputError(f"the upload is {len(data)} bytes; the limit is {MAX_UPLOAD}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise InvalidInputError(f"the uploaded bytes' SHA-256 is {actual}, not {sha256}")
    key = upload_key(project, sha256)
    if not blobs.exists(blobs.uri(key)):
        blobs.put_bytes(key, data)
    return len(data)


def uploaded_value(
    blobs: BlobStore,
    project: str,
    name: str,
    spec: TypeSpec,
    data: Any,
    may_read: Callable[[str], bool] = lambda _: False,
) -> Value:
    """The :class:`Value` of input ``name`` (of a file, dataframe or array type) of a launch in
    ``project`` from its reference, its bytes checked and stored where values live.

    Raises:
        InvalidInputError: not a reference, the wrong format for the type, a missing upload
            (or one of a project the caller may not read), or bytes that do not match the
            reference's hashes.
    """
    if spec.kind == "directory":
        raise InvalidInputError(
            f"input {name!r} ({spec}): directories cannot be sent over the API yet; send a "
            "File (an archive of it) or give the input a default"
        )
    fmt = UPLOAD_FORMATS.get(spec.kind, "")  # "": a converter's kind, in its own format
    if not (isinstance(data, dict) and REF_KEY in data):
        raise InvalidInputError(
            f"input {name!r} expects {spec}, which is not JSON: launch it from Python "
            "(airfoil.client.Client.launch uploads it) or with `airfoil run --remote`, or send "
            'a reference {"$airfoil": {...}} to an upload'
        )
    try:
        ref = ValueRef.from_json(data)
    except ValueRefError as exc:
        raise InvalidInputError(f"input {name!r}: {exc}") from None
    given_format, digest, size, meta = ref.format, ref.hash, ref.size, ref.meta
    if not fmt and given_format not in ("", "pickle"):
        fmt = given_format  # a converter's own kind: content-addressed bytes, never decoded here
    frame_file = _FRAME_FILES.get(given_format) if fmt == "arrow" else None
    if given_format != fmt and frame_file is None:
        raise InvalidInputError(
            f"input {name!r} expects {spec} (format {fmt!r}), got a {given_format!r} value"
        )
    inline = ref.inline
    if inline is not None:
        content = inline
    else:
        sha = ref.sha256 or ""
        owner = ref.project or project
        missing = InvalidInputError(
            f"input {name!r}: no upload with SHA-256 {sha!r} in project {owner!r}: PUT its "
            f"bytes to /api/v1/projects/{project}/uploads/{sha or '<sha256>'} first"
        )
        if len(sha) != 64 or (owner != project and not may_read(owner)):
            raise missing  # another project's upload: as if it did not exist
        try:
            content = blobs.get_bytes(blobs.uri(upload_key(owner, sha)))
        except (NotFoundError, FileNotFoundError):
            raise missing from None
    content_sha = hashlib.sha256(content).hexdigest()
    if frame_file is not None:
        if digest != content_sha or size != len(content):
            raise InvalidInputError(
                f"input {name!r}: the {_FRAME_NAMES[given_format]} bytes do not match the "
                "reference (hash or size)"
            )
        return _from_frame_file(blobs, name, spec, content, frame_file)
    if fmt == "file":
        from airfoil.types._files import file_name_problem, file_value_hash

        problem = file_name_problem(meta.get("name", ""))
        if problem is not None:
            raise InvalidInputError(
                f"input {name!r}: the file's name {problem}: name the file by the last part "
                "of its path (as airfoil.client.Client.launch does)"
            )
        expected = file_value_hash(meta.get("name", ""), content_sha)
        matches = meta.get("sha256") == content_sha and digest == expected
    else:
        try:
            algorithm = algorithm_of(meta)
        except CorruptBlobError as exc:
            raise InvalidInputError(f"input {name!r}: {exc}") from None
        own = content_sha if algorithm == SHA256 else digest_bytes(content, algorithm)
        matches = digest == own and content.startswith(_MAGIC.get(fmt, b""))
    if not matches or size != len(content):
        raise InvalidInputError(
            f"input {name!r}: the bytes do not match the reference (hash, size or {fmt} "
            "header): serialise the value with Airfoil's type engine"
        )
    if fmt == "npy" and "shape" not in meta:  # a user's .npy file as it is (the console)
        converted = _from_npy_file(blobs, name, content)
        if converted is not None:
            return converted
    if inline is not None:
        return Value(hash=digest, format=fmt, inline=content, size=size, meta=meta)
    key = values_key(digest)
    uri = blobs.uri(key)
    if not blobs.exists(uri):
        uri = blobs.put_bytes(key, content)
    return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta)


def _from_npy_file(blobs: BlobStore, name: str, content: bytes) -> Value | None:
    """An array value from a user's ``.npy`` file as it is (what the console sends), as the
    CLI makes it from a path (:func:`~airfoil.types._numpy.array_value_from_npy`: stored as
    the type engine stores that array, so both launches share cache entries); None where this
    server has no numpy (the bytes are then stored as they are, by their SHA-256). The header
    is read first: an array of Python objects is refused unread (loading it would unpickle
    what the uploader wrote)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with the server's extras
        return None
    import io

    from airfoil.types import ValueContext
    from airfoil.types._base import ConversionError
    from airfoil.types._numpy import array_value_from_npy

    fmt = np.lib.format
    buf = io.BytesIO(content)
    try:
        version = fmt.read_magic(buf)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}[version]
        _, _, dtype = read(buf)  # the header only: no data is read
    except (ValueError, OSError, KeyError):
        raise InvalidInputError(f"input {name!r}: the .npy header cannot be read") from None
    if dtype.hasobject:
        raise InvalidInputError(
            f"input {name!r}: an array of Python objects cannot be uploaded (it would be "
            "unpickled); send numbers or strings"
        )
    try:
        return array_value_from_npy(content, ValueContext(blobs=blobs))
    except ConversionError as exc:
        raise InvalidInputError(f"input {name!r}: the .npy file cannot be read: {exc}") from None


def uploaded_list(
    blobs: BlobStore,
    project: str,
    name: str,
    spec: TypeSpec,
    data: Any,
    may_read: Callable[[str], bool] = lambda _: False,
) -> Value:
    """The value of a list input of uploaded members (:func:`is_upload_list`) from a JSON
    array of references, each checked as :func:`uploaded_value` checks one.

    Raises:
        InvalidInputError: not an array, or a member that :func:`uploaded_value` refuses
            (named by its index).
    """
    from airfoil.types import ValueContext
    from airfoil.types._base import json_value, value_to_ref

    if not isinstance(data, list):
        raise InvalidInputError(f"input {name!r} expects {spec}: a JSON array of upload references")
    members = [
        uploaded_value(blobs, project, f"{name}[{i}]", spec.args[0], item, may_read)
        for i, item in enumerate(data)
    ]
    return json_value([value_to_ref(v) for v in members], ValueContext(blobs=blobs))


def _from_frame_file(
    blobs: BlobStore, name: str, spec: TypeSpec, content: bytes, suffix: str
) -> Value:
    """A DataFrame value from an uploaded ``.csv`` or ``.parquet`` file's bytes, as the CLI
    makes it from a path with that suffix."""
    import os
    import tempfile

    from airfoil.types import ValueContext
    from airfoil.types._base import ConversionError
    from airfoil.types._dataframes import frame_value_from_file

    with tempfile.TemporaryDirectory(prefix="airfoil-frame-") as tmp:
        path = os.path.join(tmp, "upload" + suffix)
        with open(path, "wb") as fh:
            fh.write(content)
        try:
            return frame_value_from_file(path, spec, ValueContext(blobs=blobs))
        except ConversionError as exc:
            what = _FRAME_NAMES[suffix.lstrip(".")]
            raise InvalidInputError(
                f"input {name!r} ({spec}): the uploaded {what} file cannot be read: "
                + str(exc).replace(path, "upload")
            ) from None
