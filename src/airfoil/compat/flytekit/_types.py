"""flytekit's data types on Airfoil's type engine: FlyteFile, FlyteDirectory,
StructuredDataset (+ ``kwtypes`` column subsets), HashMethod, TypeTransformer / TypeEngine.

Their converters are added to the process's type engine (:func:`airfoil.types.add_converter`)
by :func:`install`, which the compat decorators call before building an interface: importing
this module adds nothing. Worker processes rebuild the same engine from the recorded paths.
"""

from __future__ import annotations

import os
import tempfile
import threading
import typing
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from airfoil.compat.flytekit._structured import decode_from_table, encode_to_table
from airfoil.core.errors import DefinitionError
from airfoil.core.records import TypeSpec, Value
from airfoil.types import (
    BlobHandler,
    ConversionError,
    Converter,
    Directory,
    File,
    Handler,
    ValueContext,
)
from airfoil.types import TypeEngine as AirfoilTypeEngine

__all__ = [
    "BatchSize",
    "FlyteDirectory",
    "TypeEngine",
    "TypeTransformer",
    "FlyteFile",
    "FlytePickle",
    "FlyteSchema",
    "FlyteTypesConverter",
    "HashMethod",
    "StructuredDataset",
    "install",
    "kwtypes",
]

T = TypeVar("T")


def _local_path(kind: str, path: str | os.PathLike[str], passes: str) -> str:
    """The local path a ``FlyteFile``/``FlyteDirectory`` (``kind``) is made of: ``file://``
    dropped.

    Raises:
        DefinitionError: a remote path (``s3://...``): Airfoil passes ``passes``.
    """
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        raise DefinitionError(
            f"{kind}({text!r}): Airfoil passes {passes} and return {kind}(local_path)"
        )
    return text.removeprefix("file://")


class FlyteFile(File):
    """flytekit's ``FlyteFile``: a local file passed between tasks by content (an Airfoil
    :class:`~airfoil.File`). ``FlyteFile[typing.TypeVar("csv")]`` records a format and is the
    same type. Remote paths (``s3://...``) are not fetched: give a local path."""

    def __init__(self, path: str | os.PathLike[str], *_: Any, **__: Any) -> None:
        passes = "local files by content; download the remote file in the task (fsspec)"
        super().__init__(_local_path("FlyteFile", path, passes))

    def __class_getitem__(cls, _format: Any) -> type[FlyteFile]:
        return cls

    def __fspath__(self) -> str:
        return self.path

    def download(self) -> str:
        """The local path (the file is already local)."""
        return self.path

    @property
    def remote_source(self) -> str:
        return self.path

    @classmethod
    def from_source(cls, source: str | os.PathLike[str]) -> FlyteFile:
        return cls(source)

    @classmethod
    def new_remote_file(cls, name: str | None = None, alt: str | None = None) -> FlyteFile:
        """A new file to write (``with f.open("w")``) and return: flytekit makes it under its
        remote prefix; here it is a fresh path under the task's working directory."""
        return cls(os.path.join(_fresh_dir(), name or uuid.uuid4().hex))

    @classmethod
    def new(cls, filename: str | os.PathLike[str]) -> FlyteFile:
        """A file named ``filename`` in the task's working directory."""
        if os.path.isabs(filename):
            raise ValueError(f"FlyteFile.new({os.fspath(filename)!r}): give a relative path")
        return cls(os.path.join(_working_directory(), filename))

    def open(self, mode: str = "r", **kwargs: Any) -> typing.IO[Any]:
        """Open the file; writing makes its parent directories, as flytekit's does."""
        if any(flag in mode for flag in "wax"):
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        return super().open(mode, **kwargs)

    def __repr__(self) -> str:
        return f"FlyteFile({self.path!r})"


class FlyteDirectory(Directory):
    """flytekit's ``FlyteDirectory``: a local directory tree passed by content."""

    def __init__(self, path: str | os.PathLike[str], *_: Any, **__: Any) -> None:
        passes = "local directories by content; download it in the task"
        super().__init__(_local_path("FlyteDirectory", path, passes))

    def __class_getitem__(cls, _format: Any) -> type[FlyteDirectory]:
        return cls

    def __fspath__(self) -> str:
        return self.path

    def download(self) -> str:
        return self.path

    @classmethod
    def new_remote(cls, stem: str | None = None, alt: str | None = None) -> FlyteDirectory:
        """A new, empty directory to fill (``d.new_file(name)``) and return: flytekit makes it
        under its remote prefix; here it is made under the task's working directory."""
        if stem and os.path.splitext(stem)[1]:
            raise ValueError(f"FlyteDirectory.new_remote({stem!r}): a stem has no extension")
        path = os.path.join(_fresh_dir(), stem or uuid.uuid4().hex)
        os.makedirs(path, exist_ok=True)
        return cls(path)

    @classmethod
    def new(cls, dirname: str | os.PathLike[str]) -> FlyteDirectory:
        """A new directory named ``dirname`` in the task's working directory."""
        if os.path.isabs(dirname):
            raise ValueError(f"FlyteDirectory.new({os.fspath(dirname)!r}): give a relative path")
        path = os.path.join(_working_directory(), dirname)
        os.makedirs(path, exist_ok=False)
        return cls(path)

    def new_file(self, name: str | None = None) -> FlyteFile:
        """A file (to write) inside this directory; a random name when none is given."""
        return FlyteFile(os.path.join(self.path, name or uuid.uuid4().hex))

    def new_dir(self, name: str | None = None) -> FlyteDirectory:
        """A subdirectory of this directory (made now); a random name when none is given."""
        path = os.path.join(self.path, name or uuid.uuid4().hex)
        os.makedirs(path, exist_ok=True)
        return FlyteDirectory(path)

    def crawl(
        self, maxdepth: int | None = None, topdown: bool = True, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        """Every file under the directory as ``(base, relative_path)``, as flytekit's
        ``crawl`` yields them (``detail=True``: ``(base, {relative_path: info})``): the files
        the value stores (:meth:`Directory.listing`: a linked folder's too), a folder's files
        before (``topdown=False``: after) its subfolders', sorted by name.

        Raises:
            ConversionError: a broken link, a loop or a non-file in the tree, as storing it.
        """
        base = self.path
        own = 0 if topdown else 2  # a folder's own files sort before (after) its subfolders'
        found = [rel.split("/") for rel in self.listing()]
        for parts in sorted(found, key=lambda p: (*((1, f) for f in p[:-1]), (own, p[-1]))):
            if maxdepth is not None and len(parts) > maxdepth:
                continue  # maxdepth=1: the top level's files only, as fsspec's find
            rel = os.path.join(*parts)
            if not kwargs.get("detail"):
                yield base, rel
                continue
            full = os.path.join(base, rel)
            yield base, {rel: {"name": full, "size": os.path.getsize(full), "type": "file"}}

    @classmethod
    def listdir(cls, directory: FlyteDirectory) -> list[FlyteFile | FlyteDirectory]:
        """The entries of ``directory`` (files and subdirectories), sorted by name."""
        out: list[FlyteFile | FlyteDirectory] = []
        for name in sorted(os.listdir(directory.path)):
            full = os.path.join(directory.path, name)
            out.append(FlyteDirectory(full) if os.path.isdir(full) else FlyteFile(full))
        return out

    def __repr__(self) -> str:
        return f"FlyteDirectory({self.path!r})"


def _working_directory() -> str:
    """The running task's working directory (a fresh temporary one outside a task)."""
    from airfoil.sdk._context import current_context as airfoil_context

    ctx = airfoil_context()
    if ctx.execution_id == "local":
        return tempfile.mkdtemp(prefix="flytekit-")
    return ctx.working_directory


def _fresh_dir() -> str:
    """A new directory under the task's working directory (for ``new_remote*`` paths)."""
    return tempfile.mkdtemp(prefix="remote-", dir=_working_directory())


class FlytePickle(Generic[T]):
    """flytekit's ``FlytePickle`` (``flytekit.types.pickle``): an annotation for any Python
    object, stored pickled. ``FlytePickle[Model]`` is the same type (the parameter is recorded).
    Airfoil stores such a value as JSON when it is plain data, else pickled."""

    def __class_getitem__(cls, python_type: Any) -> Any:  # type: ignore[override]
        return cls

    @classmethod
    def python_type(cls) -> type:
        return type(None)


def kwtypes(**columns: Any) -> OrderedDict[str, Any]:
    """Column names and types, for ``Annotated[StructuredDataset, kwtypes(a=int)]``."""
    return OrderedDict(columns)


class HashMethod(Generic[T]):
    """flytekit's ``HashMethod(fn)`` in ``Annotated[T, HashMethod(fn)]``. Airfoil keys its
    cache by the stored value's content hash already, so the function is recorded and not
    needed; the annotation is the type ``T``."""

    def __init__(self, function: Callable[[T], str]) -> None:
        self.function = function

    def calculate(self, obj: T) -> str:
        return self.function(obj)


class BatchSize:
    """flytekit's ``Annotated[list[T], BatchSize(n)]`` (pickled lists in batches): Airfoil
    stores a list's items as values of their own type, so the size is recorded and the
    annotation is ``list[T]``."""

    def __init__(self, val: int) -> None:
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise DefinitionError(f"BatchSize takes a whole number >= 1, not {val!r}")
        self.val = val


_FRAME_FORMATS = ("parquet", "csv", "arrow", "")


def _mashumaro_base() -> type:
    """mashumaro's ``SerializableType`` when mashumaro is installed, else ``object``.

    flytekit's ``StructuredDataset`` is one, so a dataclass using mashumaro's
    ``DataClassJSONMixin`` (flytekit's documented dataclass idiom) may have a
    ``StructuredDataset`` field: mashumaro compiles the class's (de)serialiser when the class
    is defined and refuses a field type it cannot serialise. Airfoil does not depend on
    mashumaro: it is imported only where it is installed. (``FlyteFile`` / ``FlyteDirectory``
    are ``os.PathLike``, which mashumaro serialises as their path.)"""
    import importlib
    import importlib.util

    if importlib.util.find_spec("mashumaro") is None:
        return object
    base: type = importlib.import_module("mashumaro.types").SerializableType  # optional
    return base


if TYPE_CHECKING:
    _SerializableBase = object
else:
    _SerializableBase = _mashumaro_base()

#: Rows per chunk of :meth:`StructuredDataset.iter` when none is asked for.
DEFAULT_CHUNK_ROWS = 65_536


class StructuredDataset(_SerializableBase):
    """flytekit's ``StructuredDataset``: a dataframe (pandas, polars or a pyarrow Table),
    stored by Airfoil as Arrow IPC, read back lazily with ``sd.open(pd.DataFrame).all()`` or
    in chunks with ``.iter()``.

    ``Annotated[StructuredDataset, kwtypes(a=int, b=str)]`` reads only those columns.

    Args:
        dataframe: the frame to store (when a task returns one).
        uri: a local ``.csv`` or ``.parquet`` file (a path or ``file://``) read into the frame
            when it is stored; remote URIs are refused (download in the task).
        file_format: ``"parquet"``, ``"csv"`` (how ``uri`` is read when its name does not
            say) or ``""``; kept as :attr:`file_format`. Airfoil stores every frame as Arrow
            IPC, whatever the format declared.
    """

    def __init__(
        self,
        dataframe: Any = None,
        uri: str | None = None,
        metadata: Any = None,
        file_format: str = "parquet",
        **_: Any,
    ) -> None:
        if file_format not in _FRAME_FORMATS:
            raise DefinitionError(
                f"StructuredDataset(file_format={file_format!r}): the formats are "
                "'parquet' and 'csv'"
            )
        if uri is not None and dataframe is None:
            path = uri.removeprefix("file://")
            if "://" in path:
                raise DefinitionError(
                    f"StructuredDataset(uri={uri!r}): Airfoil reads local files only; "
                    "download the data in the task and give its path (or the frame)"
                )
            if not os.path.isfile(path):
                raise DefinitionError(f"StructuredDataset(uri={uri!r}): no such file")
        self._dataframe = dataframe
        self._uri = uri if dataframe is None else None
        self._columns: list[str] | None = None
        self._stored: tuple[Value, ValueContext, AirfoilTypeEngine] | None = None
        self._read_as: Any = None
        self.file_format = file_format or "parquet"
        self.uri = uri

    @property
    def dataframe(self) -> Any:
        """The frame given (or read back as pandas on first use)."""
        if self._dataframe is None and (self._stored is not None or self._uri is not None):
            import pandas as pd

            self._dataframe = self.open(pd.DataFrame).all()
        return self._dataframe

    def open(self, dataframe_type: type) -> StructuredDataset:
        """Choose the frame type :meth:`all` and :meth:`iter` return (``pd.DataFrame``,
        ``pl.DataFrame``, ``pa.Table``)."""
        self._read_as = dataframe_type
        return self

    def _read_type(self) -> Any:
        if self._read_as is not None:
            return self._read_as
        import pandas as pd

        return pd.DataFrame

    def _from_uri(self) -> Any:
        """The frame of the local file ``uri`` names (CSV or Parquet), as :meth:`open` chose."""
        assert self._uri is not None
        import pandas as pd
        import pyarrow as pa

        path = self._uri.removeprefix("file://")
        csv = path.lower().endswith(".csv") or (
            self.file_format == "csv" and not path.lower().endswith((".parquet", ".pq"))
        )
        frame = pd.read_csv(path) if csv else pd.read_parquet(path)
        read_as = self._read_type()
        if read_as is pd.DataFrame:
            return frame
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if read_as is pa.Table:
            return table
        import polars as pl

        return pl.from_arrow(table)

    def all(self) -> Any:
        """The whole frame, as the type given to :meth:`open` (default pandas; a class with
        a registered ``StructuredDatasetDecoder`` is read by it)."""
        if self._stored is not None:
            value, ctx, engine = self._stored
            read_as = self._read_type()
            if not _built_in_class(read_as):  # a registered StructuredDatasetDecoder reads it
                import pyarrow as pa

                table = engine.handler(pa.Table).to_python(value, ctx)
                return decode_from_table(table, read_as, self.file_format, self._columns)
            frame = engine.handler(read_as).to_python(value, ctx)
        elif self._dataframe is None and self._uri is not None:
            frame = self._from_uri()
        else:
            frame = self._dataframe
        if self._columns is not None:
            frame = _select(frame, self._columns)
        return frame

    def iter(self, rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Any]:
        """The frame in chunks of at most ``rows`` rows, as the type given to :meth:`open`.

        A stored frame is read lazily: each chunk is a slice of the memory-mapped Arrow IPC
        value's record batches, converted only when it is reached (the whole frame is never
        read at once). A frame held in memory yields itself, in chunks.
        """
        if self._stored is not None and not _built_in_class(self._read_type()):
            decoded = self.all()  # a decoder may give a generator of chunks
            yield from decoded if isinstance(decoded, Iterator) else [decoded]
            return
        if self._stored is not None:
            value, ctx, engine = self._stored
            handler: Any = engine.handler(self._read_type())
            chunks = handler.iter_python(value, ctx, rows)
        else:
            whole = self.all()
            chunks = (_rows(whole, i, rows) for i in range(0, max(len(whole), 1), rows))
        for chunk in chunks:
            yield _select(chunk, self._columns) if self._columns is not None else chunk

    def _serialize(self) -> dict[str, Any]:
        """mashumaro's form (``to_dict()`` / ``to_json()`` of a dataclass holding it), as
        flytekit's: the URI (a local file's path, or ``""`` for a frame) and the format."""
        return {"uri": self._uri or "", "file_format": self.file_format}

    @classmethod
    def _deserialize(cls, value: dict[str, Any]) -> StructuredDataset:
        """The dataset :meth:`_serialize` describes (its file is read when it is used)."""
        sd = cls(file_format=str(value.get("file_format") or "parquet"))
        sd.uri = sd._uri = value.get("uri") or None
        return sd

    def __repr__(self) -> str:
        cols = f", columns={self._columns}" if self._columns else ""
        where = "stored" if self._stored else (f"uri={self._uri!r}" if self._uri else "in memory")
        return f"StructuredDataset({where}{cols})"


class FlyteSchema(StructuredDataset):
    """flytekit's deprecated ``FlyteSchema`` (``flytekit.types.schema``): a dataset read with
    ``schema.open().all()`` (a pandas frame unless another type is given).
    ``FlyteSchema[kwtypes(a=int)]`` is the same type (the columns are not checked)."""

    def __init__(
        self,
        local_path: str | os.PathLike[str] | None = None,
        remote_path: str | None = None,
        supported_mode: Any = None,
        downloader: Any = None,
        **_: Any,
    ) -> None:
        """``FlyteSchema(local_path)``: the Parquet file, or a directory of Parquet files, a
        task wrote (read when the schema is stored or opened).

        Raises:
            DefinitionError: a remote path, or a local one that does not exist.
        """
        super().__init__()
        path = remote_path if local_path is None else os.fspath(local_path)
        if path is not None:
            text = str(path).removeprefix("file://")
            if "://" in text:
                raise DefinitionError(
                    f"FlyteSchema({path!r}): Airfoil reads local files only; download the "
                    "data in the task and give its local path"
                )
            if not os.path.exists(text):
                raise DefinitionError(f"FlyteSchema({path!r}): no such file or directory")
            self._uri = self.uri = text

    def __class_getitem__(cls, _columns: Any) -> type[FlyteSchema]:
        return cls

    def open(self, dataframe_type: type | None = None, mode: Any = None) -> FlyteSchema:
        """The reader: ``.all()`` gives the frame as ``dataframe_type`` (default pandas)."""
        if dataframe_type is not None:
            self._read_as = dataframe_type
        return self

    def __repr__(self) -> str:
        return "FlyteSchema" + super().__repr__().removeprefix("StructuredDataset")


def _rows(frame: Any, start: int, rows: int) -> Any:
    """Rows ``start`` to ``start + rows`` of a pandas / polars frame or a pyarrow Table."""
    if type(frame).__module__.split(".")[0] == "pandas":
        return frame.iloc[start : start + rows]
    return frame.slice(start, rows)


def _written(frame: Any, columns: list[str]) -> Any:
    """What is stored of a frame whose type declares ``columns``: those columns only, and a
    pandas frame's index, as flytekit's Parquet keeps it (read as pandas, the index comes
    back; read as arrow or polars, only the declared columns: see :func:`_declared`)."""
    try:
        return _select(frame, columns)
    except Exception as exc:  # a missing column (each library raises its own error)
        raise ConversionError(f"the frame has no column(s) {columns}: {exc}") from None


#: Value.meta key of a frame written with declared columns (JSON list): flytekit's stored
#: dataset type carries them, and its readers select them (an arrow reader of a plain
#: ``StructuredDataset`` gets those columns, not the pandas index column as well).
_DECLARED = "flytekit_columns"


def _declaring(value: Value, columns: list[str] | None) -> Value:
    if not columns:
        return value
    import json

    return msgspec.structs.replace(value, meta={**value.meta, _DECLARED: json.dumps(columns)})


def _declared(value: Value) -> list[str] | None:
    """The columns a frame was written with (``None``: the whole frame)."""
    import json

    text = value.meta.get(_DECLARED)
    return list(json.loads(text)) if text else None


class _ColumnsHandler(BlobHandler):
    """``Annotated[pd.DataFrame | pa.Table | pl.DataFrame, kwtypes(...)]``: the frame type's
    handler, writing and reading only the declared columns."""

    def __init__(self, inner: Handler, columns: list[str]) -> None:
        super().__init__(inner.spec)
        assert isinstance(inner, BlobHandler)
        self.inner = inner
        self.columns = columns
        self.classes = inner.classes

    def check(self, obj: Any) -> None:
        self.inner.check(obj)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        return _declaring(self.inner.to_value(_written(obj, self.columns), ctx), self.columns)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        return _select(self.inner.to_python(value, ctx), self.columns)

    def cli_form(self) -> str:
        return self.inner.cli_form()


def _select(frame: Any, columns: list[str]) -> Any:
    module = type(frame).__module__.split(".")[0]
    if module == "pyarrow":
        return frame.select(columns)
    if module == "polars":
        return frame.select(columns)
    return frame[columns]


def _built_in_frame(frame: Any) -> bool:
    """A pandas, polars or pyarrow frame (else a registered encoder writes it)."""
    return _built_in_class(type(frame))


def _built_in_class(cls: Any) -> bool:
    """A pandas, polars or pyarrow frame class (else a registered decoder reads it)."""
    return str(getattr(cls, "__module__", "")).split(".")[0] in _FRAME_LIBRARIES


class _StructuredHandler(BlobHandler):
    classes = (StructuredDataset,)

    def __init__(
        self,
        engine: AirfoilTypeEngine,
        columns: list[str] | None,
        file_format: str = "",
        cls: type[StructuredDataset] = StructuredDataset,
    ) -> None:
        super().__init__(TypeSpec("dataframe"))  # no flavour: any frame binds to it
        self.engine = engine
        self.cls = cls
        self.columns = columns
        self.file_format = file_format  # declared in the annotation (stored as Arrow IPC)

    def _frame(self, obj: Any) -> Any:
        if isinstance(obj, StructuredDataset):
            obj = obj.all() if obj._stored is not None or obj._uri else obj._dataframe
        if obj is None:
            raise ConversionError("a StructuredDataset with no dataframe")
        return obj

    def check(self, obj: Any) -> None:
        frame = self._frame(obj)
        if _built_in_frame(frame):
            self.engine.handler(type(frame)).check(frame)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        frame = self._frame(obj)
        if not _built_in_frame(frame):  # the user's StructuredDatasetEncoder writes it
            fmt = self.file_format or (
                obj.file_format if isinstance(obj, StructuredDataset) else ""
            )
            frame = encode_to_table(frame, fmt, self.columns)
        if self.columns is not None:
            frame = _written(frame, self.columns)
        return _declaring(self.engine.handler(type(frame)).to_value(frame, ctx), self.columns)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format not in ("arrow", "parquet"):
            raise self.wrong_format(value)
        sd = self.cls(file_format=self.file_format)
        sd._stored = (value, ctx, self.engine)
        sd._columns = self.columns if self.columns is not None else _declared(value)
        return sd


class _PathHandler(BlobHandler):
    """Airfoil's File / Directory handler, giving back flytekit's class."""

    def __init__(self, inner: Handler, cls: type[FlyteFile] | type[FlyteDirectory]) -> None:
        super().__init__(inner.spec)
        assert isinstance(inner, BlobHandler)
        self.inner = inner
        self.cls = cls
        self.classes = (cls,)

    def check(self, obj: Any) -> None:
        self.inner.check(obj)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        return self.inner.to_value(obj, ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        return self.cls(self.inner.to_python(value, ctx).path)

    def from_path(self, path: str) -> Any:
        return self.cls(self.inner.from_path(path).path)

    def cli_form(self) -> str:
        return self.inner.cli_form()


_FRAME_LIBRARIES = frozenset({"pandas", "pyarrow", "polars"})


class FlyteTypesConverter(Converter):
    """FlyteFile, FlyteDirectory and StructuredDataset (with ``kwtypes`` columns)."""

    def handler(self, py_type: Any, engine: AirfoilTypeEngine) -> Handler | None:
        columns: list[str] | None = None
        file_format = ""
        if typing.get_origin(py_type) is typing.Annotated:
            base, *meta = typing.get_args(py_type)
            for m in meta:
                if isinstance(m, dict) and m:
                    columns = list(m)
                elif isinstance(m, str) and m in _FRAME_FORMATS:  # flytekit's CSV / PARQUET
                    file_format = m
            if base is not StructuredDataset:
                if columns is None or base.__module__.split(".")[0] not in _FRAME_LIBRARIES:
                    return None
                inner = engine.handler(base)
                if inner.spec.kind != "dataframe":
                    return None
                return _ColumnsHandler(inner, columns)
            py_type = base
        if py_type is FlyteFile:
            return _PathHandler(engine.handler(File), FlyteFile)
        if py_type is FlyteDirectory:
            return _PathHandler(engine.handler(Directory), FlyteDirectory)
        if py_type is StructuredDataset:
            return _StructuredHandler(engine, columns, file_format)
        if py_type is FlyteSchema:
            return _StructuredHandler(engine, columns, file_format, FlyteSchema)
        if isinstance(py_type, type) and issubclass(py_type, FlytePickle):
            return engine.handler(Any)  # any object: JSON when it can be, else pickled
        return None


# --- custom transformers ---------------------------------------------------------------------


class TypeTransformer(Generic[T]):
    """flytekit's base class of a custom type's transformer. Implement ``to_literal`` (return a
    ``Literal`` of primitives or generic JSON) and ``to_python_value``; ``get_literal_type``
    is kept for flytekit's sake. Add it with ``TypeEngine.register(MyTransformer())``."""

    def __init__(self, name: str, t: type[T], enable_type_assertions: bool = True) -> None:
        self._name = name
        self._t = t

    @property
    def name(self) -> str:
        return self._name

    @property
    def python_type(self) -> type[T]:
        return self._t

    def get_literal_type(self, t: type[T]) -> Any:
        from airfoil.compat.flytekit._models import LiteralType, SimpleType

        return LiteralType(simple=SimpleType.STRUCT)

    def to_literal(self, ctx: Any, python_val: T, python_type: type[T], expected: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement to_literal")

    def to_python_value(self, ctx: Any, lv: Any, expected_python_type: type[T]) -> T:
        raise NotImplementedError(f"{type(self).__name__} must implement to_python_value")

    def assert_type(self, t: type[T], v: T) -> None:
        if not isinstance(v, t):
            raise TypeError(f"{v!r} is not a {t.__name__}")


_transformers: dict[type, TypeTransformer[Any]] = {}
_transformers_lock = threading.Lock()


class _TransformerHandler(Handler):
    def __init__(self, transformer: TypeTransformer[Any], py_type: type) -> None:
        super().__init__(TypeSpec("struct", name=f"flytekit:{transformer.name}"))
        self.transformer = transformer
        self.py_type = py_type
        self.classes = (py_type,)

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        from airfoil.compat.flytekit._models import literal_to_data

        if not isinstance(obj, self.py_type):
            raise ConversionError(f"expected {self.py_type.__name__}, got {type(obj).__name__}")
        try:
            lit = self.transformer.to_literal(None, obj, self.py_type, None)
            return literal_to_data(lit)
        except ConversionError:
            raise
        except Exception as exc:
            raise ConversionError(f"{self.transformer.name}.to_literal failed: {exc}") from exc

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        from airfoil.compat.flytekit._models import literal_from_data

        if not isinstance(data, dict):
            raise ConversionError(f"not a {self.transformer.name} literal: {data!r}")
        try:
            return self.transformer.to_python_value(None, literal_from_data(data), self.py_type)
        except Exception as exc:
            raise ConversionError(f"{self.transformer.name}.to_python_value failed: {exc}") from exc


class FlyteTransformersConverter(Converter):
    """The transformers given to ``TypeEngine.register`` in this process (a worker process
    has those its imports of the user's modules register)."""

    def handler(self, py_type: Any, engine: AirfoilTypeEngine) -> Handler | None:
        if not isinstance(py_type, type):
            return None
        with _transformers_lock:
            found = _transformers.get(py_type)
        return _TransformerHandler(found, py_type) if found is not None else None


class TypeEngine:
    """flytekit's ``TypeEngine``: :meth:`register` adds a custom transformer."""

    @classmethod
    def register(cls, transformer: TypeTransformer[Any], *_: Any, **__: Any) -> None:
        """Use ``transformer`` for its Python type in every task of this process.

        Raises:
            DefinitionError: not a :class:`TypeTransformer`.
        """
        if not isinstance(transformer, TypeTransformer):
            raise DefinitionError(
                f"TypeEngine.register takes a TypeTransformer instance, not {transformer!r}"
            )
        from airfoil.types import add_converter

        with _transformers_lock:
            _transformers[transformer.python_type] = transformer
        add_converter(FlyteTransformersConverter())

    @classmethod
    def get_transformer(cls, python_type: type) -> TypeTransformer[Any]:
        with _transformers_lock:
            found = _transformers.get(python_type)
        if found is None:
            raise DefinitionError(f"no TypeTransformer registered for {python_type!r}")
        return found


_installed = False


def install() -> None:
    """Add the flytekit types' converter to the process's type engine (once)."""
    global _installed
    if not _installed:
        from airfoil.types import add_converter

        add_converter(FlyteTypesConverter())
        _installed = True
