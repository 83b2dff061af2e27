"""numpy arrays, stored as ``.npy`` (format ``npy``).

Recognised only when numpy is already imported: ``np.ndarray`` and ``numpy.typing.NDArray[T]``.
With a concrete dtype (``NDArray[np.float32]``) the dtype is checked strictly: a float64 array
is not silently cast. Arrays of Python objects are pickled inside the ``.npy`` (meta
``pickled``) and only such values are loaded with ``allow_pickle``.

:attr:`Value.meta <airfoil.core.records.Value.meta>` holds ``dtype`` and ``shape`` (JSON).
"""

from __future__ import annotations

import io
import os
import sys
import typing
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    TOO_DEEP,
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    local_blob_path,
    mismatch,
    not_unicode,
    read_bytes,
    write_bytes_value,
    write_file_value,
)

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["NumpyConverter"]


class NdarrayHandler(BlobHandler):
    def __init__(self, np: Any, dtype: Any) -> None:
        super().__init__(TypeSpec("ndarray", name=dtype.name if dtype is not None else ""))
        self.np = np
        self.dtype = dtype
        self.classes = (np.ndarray,)

    def check(self, obj: Any) -> None:
        np = self.np
        if type(obj) is not np.ndarray and type(obj) is not np.memmap:
            hint = (
                "ndarray subclasses would lose their class" if isinstance(obj, np.ndarray) else ""
            )
            raise mismatch(str(self.spec), obj, hint)
        if self.dtype is not None and obj.dtype != self.dtype:
            raise ConversionError(
                f"expected an array of dtype {self.dtype}, got {obj.dtype} (not cast: it could "
                "lose data)"
            )

    def _write(self, obj: Any, target: Any) -> None:
        pickled = obj.dtype.hasobject
        if isinstance(target, str):
            with open(target, "wb") as fh:
                self.np.save(fh, obj, allow_pickle=pickled)
        else:
            self.np.save(target, obj, allow_pickle=pickled)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        self.check(obj)
        meta = {"dtype": str(obj.dtype), "shape": msgspec.json.encode(list(obj.shape)).decode()}
        if obj.dtype.hasobject:
            meta["pickled"] = "1"
        try:
            if obj.nbytes <= ctx.offload_threshold:
                buf = io.BytesIO()
                self._write(obj, buf)
                return write_bytes_value(buf.getvalue(), "npy", ctx, meta)
            return write_file_value(lambda path: self._write(obj, path), "npy", ctx, meta)
        except (ValueError, TypeError) as exc:
            raise ConversionError(f"cannot store this array as .npy: {exc}") from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "npy":
            raise self.wrong_format(value)
        pickled = value.meta.get("pickled") == "1"
        path = local_blob_path(value, ctx) if value.inline is None else None
        if path is not None:
            return self.np.load(path, allow_pickle=pickled)
        return self.np.load(io.BytesIO(read_bytes(value, ctx)), allow_pickle=pickled)

    def from_path(self, path: str) -> Any:
        if not os.path.isfile(path):
            raise ConversionError(f"no such file {path!r}")
        if not path.endswith(".npy"):
            raise ConversionError(f"{path!r} is not a .npy file")
        return self.np.load(path, allow_pickle=False)

    def parse_cli(self, text: str) -> Any:
        if text.lstrip().startswith("["):
            try:
                return self.np.asarray(msgspec.json.decode(text.encode()), dtype=self.dtype)
            except UnicodeEncodeError as exc:  # an argument that is not UTF-8
                raise self.cli_error(text, not_unicode(exc)) from None
            except RecursionError:
                raise self.cli_error(text, TOO_DEEP) from None
            except (msgspec.DecodeError, ValueError, TypeError) as exc:
                raise self.cli_error(text, str(exc)) from None
        return super().parse_cli(text)

    def cli_form(self) -> str:
        return "a JSON array such as [1, 2, 3] or a path to a .npy file"


_ABSTRACT_SCALARS = (
    "generic",
    "number",
    "integer",
    "signedinteger",
    "unsignedinteger",
    "inexact",
    "floating",
    "complexfloating",
    "flexible",
    "character",
)


def _dtype_of(np: Any, py_type: Any) -> Any:
    """The concrete dtype of ``NDArray[T]``, or None for any dtype."""
    args = typing.get_args(py_type)
    if len(args) != 2:
        return None
    inner = typing.get_args(args[1])
    if len(inner) != 1 or not isinstance(inner[0], type):
        return None
    scalar = inner[0]
    abstract = {getattr(np, n) for n in _ABSTRACT_SCALARS if hasattr(np, n)}
    if scalar in abstract or not issubclass(scalar, np.generic):
        return None
    return np.dtype(scalar)


class NumpyConverter(Converter):
    """``np.ndarray`` and ``numpy.typing.NDArray[...]``."""

    formats = ("npy",)

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        np = sys.modules.get("numpy")
        if np is None:
            return None
        if py_type is np.ndarray:
            return NdarrayHandler(np, None)
        if typing.get_origin(py_type) is np.ndarray:
            return NdarrayHandler(np, _dtype_of(np, py_type))
        return None

    def preview(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        return {
            "format": "npy",
            "uri": value.uri,
            "size": value.size,
            "dtype": value.meta.get("dtype", ""),
            "shape": msgspec.json.decode(value.meta.get("shape", "[]")),
        }
