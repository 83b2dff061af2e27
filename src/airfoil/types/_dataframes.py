"""DataFrames: pandas and polars DataFrames and pyarrow Tables, stored as Arrow IPC.

Each flavour is recognised only when its library is already imported (``sys.modules``) and
the annotation is exactly its frame class; nothing heavy is imported before a frame is seen.

The fast path matters (frames are the big values). Between tasks a frame travels as an
uncompressed Arrow IPC stream (format ``arrow``): a large one is written once, straight to a
temporary name inside a local blob store, hashed from the file, and renamed to its
content-addressed key (:func:`~airfoil.types._base.write_file_value`); the reader memory-maps
it, so a pyarrow Table or a polars DataFrame is zero-copy over the stored file and a pandas
DataFrame costs one conversion (pandas gets writable arrays of its own). A small frame (under
the offload threshold) is serialised to memory and kept inline.

The hash of an ``arrow`` value is the SHA-256 of the frame's uncompressed IPC stream: the
schema (pandas keeps its index and dtypes in the schema's metadata) and the columns' data,
never a codec's choices. Parquet (format ``parquet``, compressed) is still written where a
:class:`~airfoil.types._base.ValueContext` asks for it (``frame_format="parquet"``: uploads
over the API) and every ``parquet`` value, including those written by
older versions, still reads.

:attr:`Value.meta <airfoil.core.records.Value.meta>` holds ``flavour``, ``rows``, and
``columns`` and ``dtypes`` as JSON text.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
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

__all__ = ["DataFrameConverter", "frame_source", "frame_value_from_file"]

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

    def to_arrow(self, obj: Any) -> Any:
        """The frame as a pyarrow Table (zero-copy where the library allows)."""
        raise NotImplementedError

    def from_arrow(self, table: Any) -> Any:
        """A frame of this library from a pyarrow Table."""
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

        pq.write_table(_with_freq(pa.Table.from_pandas(obj), obj), target)

    def read(self, source: Any) -> Any:
        return self.from_arrow(_read_arrow(source))

    def read_csv(self, path: str) -> Any:
        return sys.modules["pandas"].read_csv(path)

    def to_arrow(self, obj: Any) -> Any:
        import pyarrow as pa

        table = pa.Table.from_pandas(obj)
        meta = dict(table.schema.metadata or {})
        if b"pandas" not in meta:
            return table
        # the frame's hash is of its content and schema, not of the library versions that
        # wrote it: pandas' metadata names them, and reading does not use them
        pandas_meta = msgspec.json.decode(meta[b"pandas"])
        pandas_meta.pop("creator", None)
        pandas_meta.pop("pandas_version", None)
        meta[b"pandas"] = _json(pandas_meta)
        return _with_freq(table.replace_schema_metadata(meta), obj)

    def from_arrow(self, table: Any) -> Any:
        # one consolidating copy: pandas users may change their frame in place, and arrays
        # over the read-only mapping could not be written
        frame = table.to_pandas()
        freq = (table.schema.metadata or {}).get(_FREQ_KEY)
        if freq is not None:
            try:
                frame.index.freq = freq.decode()
            except (ValueError, TypeError, AttributeError):  # a chunk, an edited index: none
                pass
        return frame


#: The schema metadata key of a pandas index's frequency (``DatetimeIndex.freq``: "D",
#: "15min"), which pandas' own metadata does not keep: lost, a frame read back had none, and
#: ``shift``, ``asfreq`` and plots behaved otherwise than on the frame written (adv18).
_FREQ_KEY = b"airfoil.index_freq"


def _with_freq(table: Any, frame: Any) -> Any:
    """``table`` with the frequency of ``frame``'s index in its metadata, if it has one (a
    frame without keeps its bytes, and its hash, as before)."""
    pd = sys.modules["pandas"]
    index = frame.index
    # a PeriodIndex's frequency is its dtype's, which Arrow keeps
    if not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) or index.freq is None:
        return table
    freq = index.freqstr
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _FREQ_KEY: freq})


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

    def to_arrow(self, obj: Any) -> Any:
        return obj

    def from_arrow(self, table: Any) -> Any:
        return table


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

    def to_arrow(self, obj: Any) -> Any:
        return obj.to_arrow()

    def from_arrow(self, table: Any) -> Any:
        pl = sys.modules.get("polars") or __import__("polars")
        return pl.from_arrow(table)


def _read_arrow(source: Any) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, bytes):
        return pq.read_table(pa.py_buffer(source))
    return pq.read_table(source, memory_map=True)


def _write_ipc(table: Any, target: Any) -> None:
    """An uncompressed Arrow IPC stream of ``table`` to a path or an output stream."""
    import pyarrow as pa

    sink = pa.OSFile(target, "wb") if isinstance(target, str) else target
    try:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    finally:
        if isinstance(target, str):
            sink.close()


def _read_ipc(source: Any) -> Any:
    """A pyarrow Table from an IPC stream: a path (memory-mapped, zero-copy) or bytes."""
    import pyarrow as pa

    buf = pa.py_buffer(source) if isinstance(source, bytes) else pa.memory_map(source)
    return pa.ipc.open_stream(buf).read_all()


def ipc_bytes(table: Any) -> bytes:
    """The uncompressed Arrow IPC stream of a pyarrow Table (what an ``arrow`` value's hash
    covers)."""
    import pyarrow as pa

    out = pa.BufferOutputStream()
    _write_ipc(table, out)
    return bytes(out.getvalue().to_pybytes())


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
        fmt = ctx.frame_format
        small = self.flavour.estimate(obj) <= ctx.offload_threshold
        try:
            if fmt == "parquet":
                write = self.flavour.write
                if small:
                    buf = io.BytesIO()
                    write(obj, buf)
                    return write_bytes_value(buf.getvalue(), "parquet", ctx, meta)
                return write_file_value(lambda path: write(obj, path), "parquet", ctx, meta)
            table = self.flavour.to_arrow(obj)
            if small:
                return write_bytes_value(ipc_bytes(table), "arrow", ctx, meta)
            return write_file_value(lambda path: _write_ipc(table, path), "arrow", ctx, meta)
        except (TypeError, ValueError, NotImplementedError) as exc:
            # pyarrow's ArrowInvalid / ArrowTypeError derive from ValueError / TypeError
            what = "Parquet" if fmt == "parquet" else "Arrow IPC"
            raise ConversionError(f"cannot store this {self.spec} as {what}: {exc}") from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format not in ("arrow", "parquet"):
            raise self.wrong_format(value)
        if value.format == "arrow":

            def read(source: Any) -> Any:
                return self.flavour.from_arrow(_read_ipc(source))
        else:
            read = self.flavour.read
        return read(frame_source(value, ctx))

    def iter_python(self, value: Value, ctx: ValueContext, rows: int) -> Iterator[Any]:
        """The stored frame in chunks of at most ``rows`` rows, read lazily.

        An ``arrow`` value's record batches are read from the memory-mapped file and sliced
        without copying: a chunk's bytes are touched (and converted to this library's frame)
        only when the iteration reaches it, so a frame far larger than memory can be walked.
        A ``parquet`` value is read a batch at a time. A frame with no rows yields nothing.

        Raises:
            ConversionError: ``rows`` is not a whole number >= 1, or the value is no frame.
        """
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ConversionError(f"a chunk holds a whole number of rows >= 1, not {rows!r}")
        if value.format not in ("arrow", "parquet"):
            raise self.wrong_format(value)
        import pyarrow as pa

        source = frame_source(value, ctx)
        if value.format == "arrow":
            buf = pa.py_buffer(source) if isinstance(source, bytes) else pa.memory_map(source)
            batches: Iterator[Any] = iter(pa.ipc.open_stream(buf))
        else:
            import pyarrow.parquet as pq

            src = pa.BufferReader(source) if isinstance(source, bytes) else source
            batches = pq.ParquetFile(src, memory_map=True).iter_batches(batch_size=rows)
        for batch in batches:
            for start in range(0, batch.num_rows, rows):
                piece = batch.slice(start, rows)  # zero-copy
                yield self.flavour.from_arrow(pa.Table.from_batches([piece]))

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


def frame_source(value: Value, ctx: ValueContext) -> bytes | str:
    """A frame value's bytes (inline) or the local path of its blob (downloaded and checked
    once into the context's scratch directory when the store is remote)."""
    if value.inline is not None:
        return value.inline
    path = local_blob_path(value, ctx)
    if path is None:
        assert value.uri is not None
        path = os.path.join(ctx.scratch(), "download", f"{value.hash}.{value.format}")
        if not os.path.exists(path):
            from airfoil.types._integrity import check_path

            ctx.blobs.get_file(value.uri, path)
            check_path(value, path)
    return path


def frame_value_from_file(path: str, spec: TypeSpec, ctx: ValueContext) -> Value:
    """The value of a ``.csv`` or ``.parquet`` file for a DataFrame of type ``spec``, as
    ``airfoil run --x data.csv`` makes it: read with the spec's library and stored in the
    context's frame format (Arrow IPC unless asked otherwise), so the bytes and the hash are the
    same and a launch from the console or the client hits the cache entries of a launch from
    the CLI and of a task that returned the same frame.

    Raises:
        ConversionError: the spec names no known library, it is not installed here, or the
            file cannot be read.
    """
    flavour = next((f for f in _FLAVOURS if f.name == (spec.name or "pandas")), None)
    if flavour is None:
        raise ConversionError(f"no DataFrame library is called {spec.name!r}")
    try:
        __import__(flavour.module)
    except ImportError:
        raise ConversionError(
            f"reading a file into a {spec} needs {flavour.module}, which is not installed here"
        ) from None
    handler = DataFrameHandler(flavour)
    return handler.to_value(handler.from_path(path), ctx)


class DataFrameConverter(Converter):
    """pandas and polars DataFrames, pyarrow Tables (Arrow IPC; Parquet still reads)."""

    formats = ("arrow", "parquet")

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
            "format": value.format,
            "flavour": meta.get("flavour", spec.name),
            "uri": value.uri,
            "size": value.size,
            "rows": int(meta.get("rows", "0")),
            "columns": msgspec.json.decode(meta.get("columns", "[]")),
            "dtypes": msgspec.json.decode(meta.get("dtypes", "[]")),
        }
