"""DataFrames: pandas and polars DataFrames and pyarrow Tables, stored as Arrow IPC.

Each flavour is recognised only when its library is already imported (``sys.modules``) and
the annotation is exactly its frame class; nothing heavy is imported before a frame is seen.

The fast path matters (frames are the big values). Between tasks a frame travels as an
uncompressed Arrow IPC stream (format ``arrow``): a large one is hashed as it is serialised
(BLAKE3 over its buffers in place) and written only when the store does not hold that hash
yet, in 256 KiB writes (:class:`~airfoil.types._base.PieceFile`), straight to a temporary
name inside a local blob store and renamed to its content-addressed key
(:func:`~airfoil.types._base.write_hashed_value`). The reader
memory-maps it: a pyarrow Table or a polars DataFrame is zero-copy over the stored file, and a
pandas DataFrame of numeric columns without nulls is zero-copy over a private copy-on-write
mapping of it (writable: a page is copied only when the frame changes it); other pandas
frames cost one ``to_pandas`` copy. A numeric pandas frame without NaN is turned into its
Arrow table without ``from_pandas``' per-value null scan (the same table). A small frame
(under the offload threshold) is serialised to memory and kept inline.

The hash of an ``arrow`` value is the BLAKE3 of the frame's uncompressed IPC stream (its meta
says ``"digest": "blake3"``; ``arrow`` values written before, hashed by SHA-256, have no
``digest`` and still read: :mod:`airfoil.types._digests`): the schema (pandas keeps its index
and dtypes in the schema's metadata) and the columns' data, in one batch whatever chunks the
frame was in, never a codec's choices, inline or offloaded, in any blob store. Parquet (format
``parquet``, compressed) is still written where a :class:`~airfoil.types._base.ValueContext`
asks for it (``frame_format="parquet"``: uploads over the API) and every ``parquet`` value,
including those written by older versions, still reads.

:attr:`Value.meta <airfoil.core.records.Value.meta>` holds ``flavour``, ``rows``, and
``columns`` and ``dtypes`` as JSON text.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    PieceFile,
    ValueContext,
    blob_file,
    mismatch,
    write_bytes_value,
    write_file_value,
    write_hashed_value,
)
from airfoil.types._digests import BLAKE3

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

    def read_ipc(self, source: Any) -> Any:
        """A frame of this library from an IPC stream: a path (memory-mapped) or bytes."""
        return self.from_arrow(_read_ipc(source))


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

        table = pa.Table.from_pandas(obj)
        _refuse_changed_dicts(obj, table)
        pq.write_table(_with_freq(table, obj), target)

    def read(self, source: Any) -> Any:
        return self.from_arrow(_read_arrow(source))

    def read_csv(self, path: str) -> Any:
        return sys.modules["pandas"].read_csv(path)

    def to_arrow(self, obj: Any) -> Any:
        import pyarrow as pa

        table = _numeric_table(obj)
        if table is None:  # (a table of no rows is falsy)
            table = pa.Table.from_pandas(obj)
            _refuse_changed_dicts(obj, table)
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
        return _copied_frame(table)

    def read_ipc(self, source: Any) -> Any:
        if isinstance(source, bytes):
            return self.from_arrow(_read_ipc(source))
        return _private_frame(source)


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


def _copied_frame(table: Any) -> Any:
    """A pandas DataFrame of its own (one ``to_pandas`` copy) from ``table``, its index's
    frequency kept."""
    return _keep_freq(table.to_pandas(), table)


def _keep_freq(frame: Any, table: Any) -> Any:
    """``frame`` (read from ``table``) with its index's frequency, where ``table`` keeps one."""
    freq = (table.schema.metadata or {}).get(_FREQ_KEY)
    if freq is not None:
        try:
            frame.index.freq = freq.decode()
        except (ValueError, TypeError, AttributeError):  # a chunk, an edited index: none
            pass
    return frame


def _private_frame(path: str) -> Any:
    """A pandas DataFrame read from a stored IPC stream through a private (copy-on-write)
    mapping of the file: zero-copy where every column is an integer or float32/64 column
    without nulls and the index is no stored column, else one ``to_pandas`` copy.

    The mapping is the reader's own: a page is read from the page cache when first touched,
    and copied only when this frame writes to it, so the frame may be changed in place (its
    arrays are writable, which ``to_pandas`` over a read-only mapping cannot give) and the
    stored blob, like every other reader's frame, never sees the change. Index, column labels
    and ``attrs`` are ``to_pandas``'s own (of the same table, split into blocks, no copy).
    """
    import mmap

    import pandas as pd
    import pyarrow as pa

    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    buf = pa.py_buffer(mapped)
    table = pa.ipc.open_stream(buf).read_all()
    arrays = _mapped_columns(table, mapped, buf.address)
    if arrays is None:
        return _copied_frame(table)
    shell = table.to_pandas(split_blocks=True)  # the labels; its arrays are read-only views
    if len(shell.columns) != len(arrays) or any(
        a.dtype != t for a, t in zip(arrays, shell.dtypes, strict=True)
    ):
        return _copied_frame(table)
    frame = pd.DataFrame(dict(enumerate(arrays)), index=shell.index, copy=False)
    frame.columns = shell.columns
    frame.attrs = shell.attrs
    return _keep_freq(frame, table)


def _mapped_columns(table: Any, mapped: Any, base: int) -> list[Any] | None:
    """Writable NumPy views of ``table``'s columns in the private mapping its buffers lie in,
    or None when a column is not one plain numeric array there."""
    import numpy as np
    import pyarrow.types as pat

    arrays = []
    for column in table.columns:
        if column.num_chunks != 1 or column.null_count:
            return None
        chunk = column.chunk(0)
        kind = chunk.type
        if not (pat.is_integer(kind) or pat.is_float32(kind) or pat.is_float64(kind)):
            return None
        dtype = np.dtype(kind.to_pandas_dtype())
        start = chunk.buffers()[1].address - base + chunk.offset * dtype.itemsize
        if start < 0 or start + len(chunk) * dtype.itemsize > len(mapped):
            return None  # not in the mapping (pyarrow copied it, e.g. to swap its byte order)
        arrays.append(np.frombuffer(mapped, dtype=dtype, count=len(chunk), offset=start))
    return arrays


def _numeric_table(frame: Any) -> Any:
    """``pa.Table.from_pandas(frame)`` without its per-value null scan, where that gives the
    same table: every column a NumPy integer or float32/64 array without NaN, and nothing of
    the index stored as a column (a ``RangeIndex``: the schema's metadata only); else None.

    ``from_pandas`` reads a float NaN as a null, so it builds a validity bitmap of each float
    column value by value (~2 ns a value) and drops it when no value was null; here one NumPy
    sum a column shows there is no NaN (a NaN sum: a NaN or opposite infinities; either way
    ``from_pandas`` decides), and the arrays are wrapped as they are (no copy of contiguous
    ones). The schema, pandas' metadata included, is ``pa.Schema.from_pandas``'s: the one
    ``from_pandas`` builds. So the table, its IPC stream and its hash are those of
    ``from_pandas`` (``test_frames_arrow.py::test_a_frame_s_hash_is_that_of_from_pandas``).
    """
    import numpy as np
    import pyarrow as pa

    dtypes = frame.dtypes
    if not all(isinstance(t, np.dtype) and (t.kind in "iu" or t in _FLOATS) for t in dtypes):
        return None
    schema = pa.Schema.from_pandas(frame)
    if len(schema) != len(dtypes):  # an index stored as columns
        return None
    arrays = []
    with np.errstate(all="ignore"):  # inf - inf, or a sum past the largest float
        for i, field in enumerate(schema):
            values = frame.iloc[:, i].to_numpy()
            if values.dtype.kind == "f" and np.isnan(np.add.reduce(values)):
                return None
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


_FLOATS = ("float32", "float64")


def _holds_struct(arrow_type: Any) -> bool:
    """Whether an Arrow type is a struct or holds one (a list of structs)."""
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _holds_struct(arrow_type.value_type)
    if pa.types.is_fixed_size_list(arrow_type):
        return _holds_struct(arrow_type.value_type)
    return False


_Check = Callable[[Any], "tuple[Any, list[str]] | None"]


def _unlike_check(arrow_type: Any) -> _Check:
    """A check of a cell against a type holding structs: the dict inside the cell (a dict,
    or a list holding dicts) that the struct would not hold as it is, with the struct's
    keys, or ``None`` when all fit. Only keys are compared: a struct gives every dict every
    key of the column (missing ones as None); its values keep their values (an int read back
    as a float is the same number). Built once per column: a row costs a key comparison."""
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        fields = [arrow_type.field(k) for k in range(arrow_type.num_fields)]
        names = [f.name for f in fields]
        keys = set(names)
        inner = [(f.name, _unlike_check(f.type)) for f in fields if _holds_struct(f.type)]

        def struct(cell: Any) -> tuple[Any, list[str]] | None:
            if not isinstance(cell, dict):
                return None  # absent, or not a dict that was made a struct
            if len(cell) != len(names) or cell.keys() != keys:
                return cell, names
            for name, check in inner:
                found = check(cell[name])
                if found is not None:
                    return found
            return None

        return struct
    item_check = _unlike_check(arrow_type.value_type)

    def sequence(cell: Any) -> tuple[Any, list[str]] | None:
        if isinstance(cell, list | tuple) or type(cell).__name__ == "ndarray":
            for item in cell:
                found = item_check(item)
                if found is not None:
                    return found
        return None

    return sequence


def _refuse_changed_dicts(frame: Any, table: Any) -> None:
    """Refuse a pandas frame whose column of dicts Arrow would change: Arrow gives the column
    one struct type, so every dict gets every key seen in the column (missing ones as None),
    and the frame read back holds other data than was written.

    Raises:
        ValueError: naming the column, the first changed row, and what to do instead.
    """
    import reprlib

    for position, (name, column) in enumerate(frame.items()):
        if column.dtype != object:
            continue
        arrow_type = table.schema.field(position).type  # pandas' columns come first, in order
        if not _holds_struct(arrow_type):
            continue
        check = _unlike_check(arrow_type)
        for row, cell in enumerate(column.tolist()):
            found = check(cell)
            if found is None:
                continue
            mine, keys = found
            raise ValueError(
                f"column {name!r} would not come back as it is: row {row} holds "
                f"{reprlib.repr(mine)}, which would be read back with the keys "
                f"{', '.join(map(repr, keys))} (missing ones as None). Arrow stores a column "
                "of dicts as one struct type: every dict gets every key of the column. Make "
                "the dicts alike, or store the column as JSON text "
                f"(df[{name!r}] = df[{name!r}].map(json.dumps))"
            )


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


def _one_chunk(table: Any) -> Any:
    """``table`` with each column in one chunk: the IPC stream writes a batch per chunk, so
    the same frame built by concatenation (one chunk per part) would otherwise hash unlike
    the same frame read from a file. Columns already in one chunk are not copied; a column
    that cannot be one chunk (a string column past 2 GiB of offsets) stays as it is."""
    if all(column.num_chunks <= 1 for column in table.columns):
        return table
    try:
        return table.combine_chunks()
    except (ValueError, OverflowError):  # pyarrow's ArrowInvalid (offset overflow)
        return table


def _read_arrow(source: Any) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, bytes):
        return pq.read_table(pa.py_buffer(source))
    return pq.read_table(source, memory_map=True)


def _write_ipc(table: Any, sink: Any) -> None:
    """An uncompressed Arrow IPC stream of ``table`` to a pyarrow output stream."""
    import pyarrow as pa

    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def _write_ipc_file(table: Any, path: str) -> None:
    """An uncompressed Arrow IPC stream of ``table`` to a new file at ``path``."""
    with PieceFile(path) as out:
        _write_ipc(table, _arrow_sink(out))


def _arrow_sink(stream: Any) -> Any:
    """A Python binary file object as a pyarrow output stream (buffers passed, not copied)."""
    import pyarrow as pa

    return pa.PythonFile(stream, mode="w")


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
            table = _one_chunk(self.flavour.to_arrow(obj))
            if small:
                return write_bytes_value(ipc_bytes(table), "arrow", ctx, meta, algorithm=BLAKE3)
            return write_hashed_value(
                lambda sink: _write_ipc(table, _arrow_sink(sink)),
                lambda path: _write_ipc_file(table, path),
                "arrow",
                ctx,
                meta,
                BLAKE3,
            )
        except (TypeError, ValueError, NotImplementedError) as exc:
            # pyarrow's ArrowInvalid / ArrowTypeError derive from ValueError / TypeError
            what = "Parquet" if fmt == "parquet" else "Arrow IPC"
            raise ConversionError(f"cannot store this {self.spec} as {what}: {exc}") from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format not in ("arrow", "parquet"):
            raise self.wrong_format(value)
        read = self.flavour.read_ipc if value.format == "arrow" else self.flavour.read
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
    once into the context's scratch directory when the store is remote: :func:`blob_file`)."""
    if value.inline is not None:
        return value.inline
    return blob_file(value, ctx)


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
