"""Value references: the one JSON form of a value that is not written as JSON.

A value a converter writes in its own format (a Parquet frame, an ``.npy`` array, a file, a
user converter's bytes) travels in JSON as a reference naming it by content hash::

    {"$airfoil": {"format": "arrow", "hash": "<sha256>", "size": 123,
                  "meta": {...},                 # left out when empty
                  "inline": "<base64>"           # small values: the bytes themselves
                  "sha256": "<sha256>",          # launch inputs: the uploaded bytes'
                  "project": "other"}}           # launch inputs: an upload of another project

The same form is written inside containers (a list of frames), by the client for launch
inputs it uploads, and read back by the type engine and by the server; the API's raw values
(``wire.RawValue``: the same fields, with a download link instead of an upload's hash) are
built and read with it too. This module is the only place that writes or parses a value's
reference form (:class:`ValueRef`).

Invariants: a reference never names a URI (a container's hash must not depend on the store
that holds its parts); meta kept for previews only (``repr``) is left out; ``inline`` is the
value's bytes, base64 in JSON text.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from airfoil.core.records import TypeSpec, Value

__all__ = [
    "REF_KEY",
    "UPLOAD_FORMATS",
    "ValueRef",
    "ValueRefError",
    "is_upload_list",
    "travels_as_reference",
]

REF_KEY = "$airfoil"
#: Meta kept for previews only, which may differ between equal values (a pickled object's
#: repr shows its address): left out of references so a container's hash is its content's.
_PREVIEW_ONLY_META = frozenset({"repr"})
#: Input type kind -> the format its references must have (built-in leaf formats).
UPLOAD_FORMATS = {"file": "file", "dataframe": "arrow", "ndarray": "npy"}


class ValueRefError(ValueError):
    """Data that is not a well-formed value reference (the message says what is wrong)."""


def travels_as_reference(spec: TypeSpec) -> bool:
    """Whether a launch input of type ``spec`` is sent as a reference, never as JSON: files,
    directories, frames, arrays, and kinds a user's converter owns."""
    from airfoil.types._from_json import converter_kind

    return spec.kind == "directory" or spec.kind in UPLOAD_FORMATS or converter_kind(spec)


def is_upload_list(spec: TypeSpec) -> bool:
    """Whether ``spec`` is a list of uploaded values (``list[File]``, ``list[DataFrame]``,
    arrays): sent as a JSON array of references."""
    return spec.kind == "list" and bool(spec.args) and spec.args[0].kind in UPLOAD_FORMATS


class ValueRef(msgspec.Struct, frozen=True):
    """A parsed value reference (see the module docstring).

    Attributes:
        format / hash / size / meta: the value's.
        inline: its bytes when they travel in the reference itself.
        sha256: the SHA-256 of the uploaded bytes a launch input names.
        project: the project of that upload, when not the launch's own.
    """

    format: str
    hash: str
    size: int = 0
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    inline: bytes | None = None
    sha256: str | None = None
    project: str | None = None

    @classmethod
    def of_value(
        cls, value: Value, *, sha256: str | None = None, previews: bool = False
    ) -> ValueRef:
        """The reference to ``value``; its preview-only meta is left out unless ``previews``
        (an API answer showing the value, not naming it inside a container)."""
        meta = dict(value.meta)
        if not previews:
            meta = {k: v for k, v in meta.items() if k not in _PREVIEW_ONLY_META}
        return cls(value.format, value.hash, value.size, meta, value.inline, sha256)

    @property
    def inline_text(self) -> str | None:
        """The inline bytes as base64 text (None when the value is offloaded)."""
        return None if self.inline is None else base64.b64encode(self.inline).decode("ascii")

    @staticmethod
    def decode_inline(text: str) -> bytes:
        """Base64 text back into inline bytes.

        Raises:
            ValueRefError: the text is not base64.
        """
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueRefError("inline is not base64") from None

    def to_json(self, *, inline_as_bytes: bool = False) -> dict[str, Any]:
        """``{"$airfoil": {...}}``. With ``inline_as_bytes`` the inline bytes stay ``bytes``
        (for msgspec, which writes them base64: the same JSON text)."""
        body: dict[str, Any] = {"format": self.format, "hash": self.hash, "size": self.size}
        if self.meta:
            body["meta"] = dict(self.meta)
        if self.inline is not None:
            body["inline"] = self.inline if inline_as_bytes else self.inline_text
        if self.sha256 is not None:
            body["sha256"] = self.sha256
        if self.project is not None:
            body["project"] = self.project
        return {REF_KEY: body}

    @classmethod
    def from_json(cls, data: object) -> ValueRef:
        """Parse a reference.

        Raises:
            ValueRefError: not a reference, or a field missing or of the wrong type.
        """
        body = data.get(REF_KEY) if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise ValueRefError('not a value reference {"$airfoil": {...}}')
        try:
            fmt, digest = body["format"], body["hash"]
            if not isinstance(fmt, str) or not isinstance(digest, str):
                raise TypeError("format and hash must be strings")
            size = int(body.get("size", 0))
            raw_meta = body.get("meta", {})
            if not isinstance(raw_meta, dict):
                raise TypeError("meta must be an object")
            meta = {str(k): str(v) for k, v in raw_meta.items()}
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueRefError(
                f"a reference needs format, hash, size and meta ({detail})"
            ) from None
        inline = body.get("inline")
        content: bytes | None = None
        if isinstance(inline, bytes):
            content = inline
        elif inline is not None:
            content = cls.decode_inline(str(inline))
        sha, project = body.get("sha256"), body.get("project")
        return cls(
            fmt,
            digest,
            size,
            meta,
            content,
            None if sha is None else str(sha),
            None if not project else str(project),
        )

    def to_value(self, uri: str | None = None) -> Value:
        """The :class:`Value` it names (``uri``: where its bytes are, unless inline)."""
        return Value(
            hash=self.hash,
            format=self.format,
            inline=self.inline,
            uri=None if self.inline is not None else uri,
            size=self.size,
            meta=dict(self.meta),
        )
