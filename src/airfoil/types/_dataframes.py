"""DataFrames: pandas and polars DataFrames and pyarrow Tables, stored as Parquet.

Each flavour is recognised only when its library is already imported (``sys.modules``) and
the annotation is exactly its frame class; nothing heavy is imported before a frame is seen.

The fast path matters (frames are the big values): a large frame is written once, straight
to a temporary name inside a local blob store, hashed from the file, and renamed to its
content-addressed key (:func:`~airfoil.types._base.write_file_value`); it is read back with
a memory-mapped Parquet reader. A small frame (under the offload threshold) is written to
memory and kept inline. pandas frames keep their index and dtypes through pandas' Parquet
metadata; polars uses its own Parquet reader and writer.

:attr:`Value.meta <airfoil.core.records.Value.meta>` holds ``flavour``, ``rows``, and
``columns`` and ``dtypes`` as JSON text.
"""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    local_blob_path,
    mismatch,
    write_bytes_value,
    write_file_value,
)

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["DataFrameConverter", "frame_value_from_csv"]

_json = msgspec.json.encode


class _Flavour:
    """How one library writes and reads Parquet."""

    name = ""
    module = ""

    def frame_class(self) -> Any:
        raise NotImplementedError

    def describe(self, obj: Any) -> tuple[int, list[str], list[str]]:
        """Rows, column names, dtype names."""
        raise NotImplementedError

    def estimate(self, obj: Any) -> int:
        """A cheap guess of the frame's size in bytes (to pick memory or file)."""
        raise NotImplementedError

    def write(self, obj: Any, target: Any) -> None:
        """Write Parquet to a path or a binary file object."""
        raise NotImplementedError

    def read(self, source: Any) -> Any:
        """Read Parquet from a path (memory-mapped) or a bytes buffer."""
        raise NotImplementedError

    def read_csv(self, path: str) -> Any:
        raise NotImplementedError


class _Pandas(_Flavour):
    name = "pandas"
    module = "pandas"

    def frame_class(self) -> Any:
        return sys.modules["pandas"].DataFrame

    def describe(self, obj: Any) -> tuple[int, list[str], list[str]]:
        return len(obj), [str(c) for c in obj.columns], [str(t) for t in obj.dtypes]

    def estimate(self, obj: Any) -> int:
        rows, cols = obj.shape
        return int(rows) * (int(cols) + 1) * 8

    def write(self, obj: Any, target: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(obj), target)

    def read(self, source: Any) -> Any:
        return _read_arrow(source).to_pandas()

    def read_csv(self, path: str) -> Any:
        return sys.modules["pandas"].read_csv(path)


class _Arrow(_Flavour):
    name = "pyarrow"
    module = "pyarrow"

    def frame_class(self) -> Any:
        return sys.modules["pyarrow"].Table

    def describe(self, obj: Any) -> tuple[int, list[str], list[str]]:
        return obj.num_rows, list(obj.column_names), [str(f.type) for f in obj.schema]

    def estimate(self, obj: Any) -> int:
        return int(obj.nbytes)

    def write(self, obj: Any, target: Any) -> None:
        import pyarrow.parquet as pq

        pq.write_table(obj, target)

    def read(self, source: Any) -> Any:
        return _read_arrow(source)

    def read_csv(self, path: str) -> Any:
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)


class _Polars(_Flavour):
    name = "polars"
    module = "polars"

    def frame_class(self) -> Any:
        return sys.modules["polars"].DataFrame

    def describe(self, obj: Any) -> tuple[int, list[str], list[str]]:
        return obj.height, list(obj.columns), [str(t) for t in obj.dtypes]

    def estimate(self, obj: Any) -> int:
        return int(obj.estimated_size())

    def write(self, obj: Any, target: Any) -> None:
        obj.write_parquet(target)

    def read(self, source: Any) -> Any:
        pl = sys.modules.get("polars") or __import__("polars")
        if isinstance(source, bytes):
            return pl.read_parquet(io.BytesIO(source))
        return pl.read_parquet(source, memory_map=True)

    def read_csv(self, path: str) -> Any:
        return sys.modules["polars"].read_csv(path)


def _read_arrow(source: Any) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, bytes):
        return pq.read_table(pa.py_buffer(source))
    return pq.read_table(source, memory_map=True)


_FLAVOURS: tuple[_Flavour, ...] = (_Pandas(), _Polars(), _Arrow())


class DataFrameHandler(BlobHandler):
    """One flavour's frames <-> Parquet values."""

    def __init__(self, flavour: _Flavour) -> None:
        super().__init__(TypeSpec("dataframe", name=flavour.name))
        self.flavour = flavour
        self.classes = (flavour.frame_class(),)

    def check(self, obj: Any) -> None:
        if type(obj) is not self.classes[0]:
            raise mismatch(str(self.spec), obj)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        self.check(obj)
        rows, columns, dtypes = self.flavour.describe(obj)
        meta = {
            "flavour": self.flavour.name,
            "rows": str(rows),
            "columns": _json(columns).decode(),
            "dtypes": _json(dtypes).decode(),
        }
        write = self.flavour.write
        try:
            if self.flavour.estimate(obj) <= ctx.offload_threshold:
                buf = io.BytesIO()
                write(obj, buf)
                return write_bytes_value(buf.getvalue(), "parquet", ctx, meta)
            return write_file_value(lambda path: write(obj, path), "parquet", ctx, meta)
        except (TypeError, ValueError, NotImplementedError) as exc:
            # pyarrow's ArrowInvalid / ArrowTypeError derive from ValueError / TypeError
            raise ConversionError(f"cannot store this {self.spec} as Parquet: {exc}") from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "parquet":
            raise self.wrong_format(value)
        if value.inline is not None:
            return self.flavour.read(value.inline)
        path = local_blob_path(value, ctx)
        if path is None:
            assert value.uri is not None
            path = os.path.join(ctx.scratch(), "download", f"{value.hash}.parquet")
            if not os.path.exists(path):
                from airfoil.types._integrity import check_path

                ctx.blobs.get_file(value.uri, path)
                check_path(value, path)
        return self.flavour.read(path)

    def from_path(self, path: str) -> Any:
        if not os.path.isfile(path):
            raise ConversionError(f"no such file {path!r}")
        ext = os.path.splitext(path)[1].lower()
        try:
            if ext == ".csv":
                return self.flavour.read_csv(path)
            if ext in (".parquet", ".pq"):
                return self.flavour.read(path)
        except (OSError, ValueError) as exc:
            raise ConversionError(f"cannot read {path!r}: {exc}") from None
        raise ConversionError(f"{path!r} is neither a .csv nor a .parquet file")

    def cli_form(self) -> str:
        return "a path to a .csv or .parquet file"


def frame_value_from_csv(path: str, spec: TypeSpec, ctx: ValueContext) -> Value:
    """The value of a ``.csv`` file for a DataFrame of type ``spec``, as ``airfoil run
    --x data.csv`` makes it: read with the spec's library (its ``read_csv``) and stored as
    Parquet, so the bytes and the hash are the same.

    Raises:
        ConversionError: the spec names no known library, it is not installed here, or the
            file cannot be read as CSV.
    """
    flavour = next((f for f in _FLAVOURS if f.name == (spec.name or "pandas")), None)
    if flavour is None:
        raise ConversionError(f"no DataFrame library is called {spec.name!r}")
    try:
        __import__(flavour.module)
    except ImportError:
        raise ConversionError(
            f"reading CSV into a {spec} needs {flavour.module}, which is not installed here: "
            "send a Parquet file instead"
        ) from None
    handler = DataFrameHandler(flavour)
    return handler.to_value(handler.from_path(path), ctx)


class DataFrameConverter(Converter):
    """pandas and polars DataFrames, pyarrow Tables (Parquet)."""

    formats = ("parquet",)

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if not isinstance(py_type, type):
            return None
        for flavour in _FLAVOURS:
            if flavour.module in sys.modules and py_type is flavour.frame_class():
                return DataFrameHandler(flavour)
        return None

    def preview(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        meta = value.meta
        return {
            "format": "parquet",
            "flavour": meta.get("flavour", spec.name),
            "uri": value.uri,
            "size": value.size,
            "rows": int(meta.get("rows", "0")),
            "columns": msgspec.json.decode(meta.get("columns", "[]")),
            "dtypes": msgspec.json.decode(meta.get("dtypes", "[]")),
        }
