"""Turning the server's raw values back into :class:`Value` records the type engine reads.

Offloaded values are downloaded into an in-memory blob store for the duration of one
``Client.outputs`` call; their records point at it (``mem://`` URIs), so the type engine's
converters (parquet, npy, files) read them as they would from any store.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.records import Value
from airfoil.types._base import values_key
from airfoil.types._refs import ValueRef
from airfoil.wire import RawValue

__all__ = ["DownloadedBlobs", "python_outputs", "to_value"]

_HEX = re.compile(r"[0-9a-f]{64}")


class DownloadedBlobs(BlobStore):
    """A small in-memory blob store holding downloaded values.

    ``fetch(digest)`` downloads a value the store does not hold yet: one inside another (a
    frame of a ``list[pd.DataFrame]``, a member of a list the workflow assembled), which
    the type engine asks for by a URI ending in its content's SHA-256 -- ``mem://`` for one
    named by reference, the server's own for a member record."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None) -> None:
        self._data: dict[str, bytes] = {}
        self._fetch = fetch

    def uri(self, key: str) -> str:
        return f"mem://{key}"

    def put_bytes(self, key: str, data: bytes) -> str:
        self._data[self.uri(key)] = data
        return self.uri(key)

    def get_bytes(self, uri: str) -> bytes:
        found = self._data.get(uri)
        if found is not None:
            return found
        digest = uri.rsplit("/", 1)[-1]
        if self._fetch is None or not _HEX.fullmatch(digest):
            raise NotFoundError(f"blob {uri} was not downloaded")
        data = self._data[uri] = self._fetch(digest)
        return data

    def exists(self, uri: str) -> bool:
        return uri in self._data

    def delete(self, uri: str) -> None:
        self._data.pop(uri, None)

    def put_file(self, key: str, local_path: str) -> str:
        with open(local_path, "rb") as fh:
            return self.put_bytes(key, fh.read())

    def get_file(self, uri: str, local_path: str) -> None:
        data = self.get_bytes(uri)
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        with open(local_path, "wb") as fh:
            fh.write(data)

    def put_dir(self, key: str, local_dir: str) -> str:
        # what Client.upload_value meets converting a Directory launch input (or one inside
        # a list or dict): the server takes no directory upload (server._uploads)
        raise InvalidInputError(
            f"cannot send the directory {local_dir!r} as a launch input over the API yet: "
            "send a File (an archive of it, shutil.make_archive) and unpack it in the task, "
            "or give the input a default"
        )

    def get_dir(self, uri: str, local_dir: str) -> None:
        raise NotFoundError("directory outputs cannot be fetched through the API yet")

    def local_path(self, uri: str) -> str | None:
        return None


def to_value(raw: RawValue, data: bytes | None, blobs: DownloadedBlobs) -> Value:
    """The :class:`Value` of a raw value (``data``: the downloaded bytes of an offloaded one).

    Raises:
        ValueRefError: the inline bytes are not base64.
    """
    inline = None if raw.inline is None else ValueRef.decode_inline(raw.inline)
    ref = ValueRef(raw.format, raw.hash, raw.size, dict(raw.meta), inline)
    if inline is not None:
        return ref.to_value()
    return ref.to_value(blobs.put_bytes(values_key(raw.hash), data or b""))


def python_outputs(values: dict[str, Value], entity: Any, blobs: DownloadedBlobs) -> Any:
    """An execution's output values as the Python value(s) ``entity``'s signature promises."""
    from airfoil.types import ValueContext, default_type_engine

    py = entity.py_interface
    engine = default_type_engine()
    ctx = ValueContext(blobs=blobs)
    if py.interface.output_style == "none":
        return None
    decoded = {n: engine.to_python(values[n], tp, ctx) for n, tp in py.output_types.items()}
    if py.interface.output_style == "tuple":
        from airfoil.core.outputs import tuple_outputs

        names = tuple(py.output_types)
        return tuple_outputs(names)(*(decoded[n] for n in names))
    if py.interface.output_style == "single":
        return decoded["o0"]
    return py.return_type(**decoded)
