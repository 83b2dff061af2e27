"""numpy arrays, stored as ``.npy`` (format ``npy``).

Recognised only when numpy is already imported: ``np.ndarray`` and ``numpy.typing.NDArray[T]``.
With a concrete dtype (``NDArray[np.float32]``) the dtype is checked strictly: a float64 array
is not silently cast. Arrays of Python objects are pickled inside the ``.npy`` (meta
``pickled``) and only such values are loaded with ``allow_pickle``.

Arrays are the big values between tasks with frames, and travel as frames do
(:mod:`airfoil.types._dataframes`): an array's hash is the BLAKE3 of its ``.npy`` bytes, the
bytes ``np.save`` writes (meta ``"digest": "blake3"``; values written before, hashed by
SHA-256, have no ``digest`` and still read: :mod:`airfoil.types._digests`), inline or
offloaded, in any blob store. A large array is hashed as it is serialised, a C- or
Fortran-contiguous one from its own buffer in place (the header, then the data: no copy),
another as numpy writes it, and written only when the store does not hold that hash yet
(:func:`~airfoil.types._base.write_hashed_value`): never read back to be hashed. A reader of a
local store gets a plain ``np.ndarray`` over a private copy-on-write mapping of the blob
(``np.load(mmap_mode="c")``): no copy is read, a page is copied only when the task writes to
it, and the stored blob never sees the change. (The converse holds because Airfoil never
rewrites a blob in place: a blob cut short is replaced by a rename, which a mapping does not
see; a hand edit of the file in place would show through the pages the task has not written,
as it would for a mapped frame.) A remote store's reader maps, the same way, the copy
downloaded once (streamed) into its context's scratch directory and checked before it is
mapped, as a frame's (:func:`~airfoil.types._base.blob_file`). Arrays of Python objects keep
SHA-256 and are read whole (unpickling copies them anyway).

:attr:`Value.meta <airfoil.core.records.Value.meta>` holds ``dtype`` and ``shape`` (JSON).
"""

from __future__ import annotations

import io
import os
import sys
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    TOO_DEEP,
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    PieceFile,
    ValueContext,
    blob_file,
    local_blob_path,
    mismatch,
    not_unicode,
    read_bytes,
    write_bytes_value,
    write_file_value,
    write_hashed_value,
)
from airfoil.types._digests import BLAKE3

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["NumpyConverter", "array_value_from_npy"]


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
        """An array of Python objects as ``np.save`` writes it (pickled), to a path or a
        binary file object."""
        if isinstance(target, str):
            with open(target, "wb") as fh:
                self.np.save(fh, obj, allow_pickle=True)
        else:
            self.np.save(target, obj, allow_pickle=True)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        self.check(obj)
        meta = {"dtype": str(obj.dtype), "shape": msgspec.json.encode(list(obj.shape)).decode()}
        small = obj.nbytes <= ctx.offload_threshold
        try:
            if obj.dtype.hasobject:
                meta["pickled"] = "1"
                if small:
                    buf = io.BytesIO()
                    self._write(obj, buf)
                    return write_bytes_value(buf.getvalue(), "npy", ctx, meta)
                return write_file_value(lambda path: self._write(obj, path), "npy", ctx, meta)
            emit = _npy_writer(self.np, obj)
            if small:
                buf = io.BytesIO()
                emit(buf)
                return write_bytes_value(buf.getvalue(), "npy", ctx, meta, algorithm=BLAKE3)
            return write_hashed_value(
                emit, lambda path: _to_path(emit, path), "npy", ctx, meta, BLAKE3
            )
        except (ValueError, TypeError) as exc:
            raise ConversionError(f"cannot store this array as .npy: {exc}") from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "npy":
            raise self.wrong_format(value)
        pickled = value.meta.get("pickled") == "1"
        if value.inline is not None:
            return self.np.load(io.BytesIO(value.inline), allow_pickle=pickled)
        if pickled:  # unpickling copies the objects anyway: a remote one is read whole
            path = local_blob_path(value, ctx)  # (checked)
            if path is None:
                return self.np.load(io.BytesIO(read_bytes(value, ctx)), allow_pickle=True)
            return self.np.load(path, allow_pickle=True)
        # a private copy-on-write mapping of the (local or downloaded, checked) blob, as a
        # plain ndarray (the memmap is its base)
        return self.np.asarray(self.np.load(blob_file(value, ctx), mmap_mode="c"))

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


#: dtype kinds whose ``.npy`` data is the array's own bytes (numpy pickles objects and writes
#: its new-style dtypes, such as ``StringDType``, otherwise)
_RAW_KINDS = frozenset("biufcmMSUV")


def _npy_writer(np: Any, obj: Any) -> Callable[[Any], None]:
    """A function writing ``obj``'s ``.npy`` bytes (those of ``np.save``) to a binary file
    object: a contiguous array's header, then its data from its own buffer in place (the
    hash reads it where it lies, a file is written from it: no copy); any other array as
    ``np.save`` writes it."""
    data = _raw_data(np, obj)
    header = _npy_header(np, obj) if data is not None else None
    if data is None or header is None:
        return lambda fh: np.save(fh, obj, allow_pickle=False)

    def emit(fh: Any) -> None:
        fh.write(header)
        fh.write(data)

    return emit


def _raw_data(np: Any, obj: Any) -> Any:
    """The bytes ``np.save`` writes after the header, as a flat ``uint8`` view of ``obj``'s
    buffer (a Fortran-ordered array's are its transpose's, C order), or None where numpy
    writes them otherwise (objects, new-style dtypes) or they are not one block."""
    if obj.dtype.hasobject or obj.dtype.kind not in _RAW_KINDS or obj.dtype.itemsize == 0:
        return None
    if obj.flags.c_contiguous:
        flat = obj
    elif obj.flags.f_contiguous:
        flat = obj.T
    else:
        return None
    return flat.reshape(-1).view(np.uint8)


def _npy_header(np: Any, obj: Any) -> bytes | None:
    """``obj``'s ``.npy`` header as ``np.save`` writes it (version 1.0, or 2.0 where the
    header is too long for 1.0), or None where numpy would pick another version (field names
    outside Latin-1)."""
    fmt = np.lib.format
    fields = fmt.header_data_from_array_1_0(obj)
    for write in (fmt.write_array_header_1_0, fmt.write_array_header_2_0):
        buf = io.BytesIO()
        try:
            write(buf, fields)
        except UnicodeEncodeError:
            return None
        except ValueError:  # too long for version 1.0
            continue
        return buf.getvalue()
    return None


def _to_path(emit: Callable[[Any], None], path: str) -> None:
    with PieceFile(path) as out:  # in 256 KiB writes, as a frame's file
        emit(out)


def array_value_from_npy(data: bytes, ctx: ValueContext) -> Value:
    """The value of a user's ``.npy`` file (its bytes), as ``airfoil run --a data.npy`` makes
    it: read, then stored as the type engine stores that array (its ``np.save`` bytes, keyed
    by their BLAKE3), so a launch from the console hits the cache entries of a launch from the
    CLI and of a task that returned the same array, whichever numpy wrote the file.

    Raises:
        ConversionError: the bytes are no ``.npy`` file, or an array of Python objects
            (reading it would unpickle what the uploader wrote).
    """
    import numpy as np

    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ConversionError(
                "an array of Python objects cannot be read from a file (it would be "
                "unpickled); send numbers or strings"
            ) from None
        raise ConversionError(f"not a .npy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ConversionError(f"not a .npy file: {exc}") from None
    return NdarrayHandler(np, None).to_value(array, ctx)


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
