"""flytekit's custom dataframe handlers on Airfoil's converter API: a
``StructuredDatasetEncoder`` / ``StructuredDatasetDecoder`` registered with
``StructuredDatasetTransformerEngine.register`` makes a dataframe class of the user's (a
numpy array, a class of their own) a dataset type.

How it maps: Airfoil stores every frame as Arrow IPC. Storing a frame of a registered class
runs the user's encoder, which writes Parquet or CSV under a directory it gets from
``ctx.file_access`` (local directories here: there is no remote store to upload to); Airfoil
reads what it wrote into an Arrow table and stores that. Reading one as a registered class
writes the stored table as Parquet (``<dir>/00000``) or CSV (``<dir>/.csv``, flytekit's
names) and runs the user's decoder on that directory. So any frame -- a pandas one a task
returned, or one a custom encoder wrote -- can be opened as any registered class
(``sd.open(np.ndarray).all()``), and a task may declare a registered class as an input or
output (flytekit's engine takes those types over too).

Handlers for pandas, pyarrow and polars frames (``register_csv_handlers`` and the like) are
accepted and not used: Airfoil's own read and write those frames, in either format. Formats
other than Parquet and CSV are refused when the encoder or decoder runs (Airfoil could not
read them back into a table).
"""

from __future__ import annotations

import abc
import multiprocessing.util
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from airfoil.core.errors import DefinitionError
from airfoil.core.forks import forked_from
from airfoil.core.records import TypeSpec, Value
from airfoil.types import BlobHandler, ConversionError, Converter, Handler, ValueContext
from airfoil.types import TypeEngine as AirfoilTypeEngine

__all__ = [
    "CSV",
    "GENERIC_FORMAT",
    "PARQUET",
    "DuplicateHandlerError",
    "FileAccess",
    "LiteralStructuredDataset",
    "StructuredDatasetDecoder",
    "StructuredDatasetEncoder",
    "StructuredDatasetFormat",
    "StructuredDatasetMetadata",
    "StructuredDatasetTransformerEngine",
    "StructuredDatasetType",
]

T = TypeVar("T")

StructuredDatasetFormat = str
PARQUET: StructuredDatasetFormat = "parquet"
CSV: StructuredDatasetFormat = "csv"
GENERIC_FORMAT: StructuredDatasetFormat = ""

#: Frame libraries Airfoil reads and writes itself (their registered handlers are not used).
BUILT_IN_FRAMES = frozenset({"pandas", "pyarrow", "polars"})


class DuplicateHandlerError(ValueError):
    """flytekit's error for a second handler of one type and format without ``override``."""


class StructuredDatasetType:
    """``flytekit.models.types.StructuredDatasetType``: the columns and the format."""

    class DatasetColumn:
        def __init__(self, name: str, literal_type: Any = None) -> None:
            self.name = name
            self.literal_type = literal_type

        def __repr__(self) -> str:
            return f"DatasetColumn({self.name!r})"

    def __init__(
        self,
        columns: list[StructuredDatasetType.DatasetColumn] | None = None,
        format: str = GENERIC_FORMAT,
        external_schema_type: str | None = None,
        external_schema_bytes: bytes | None = None,
    ) -> None:
        self.columns = list(columns or [])
        self.format = format
        self.external_schema_type = external_schema_type
        self.external_schema_bytes = external_schema_bytes


class StructuredDatasetMetadata:
    """``flytekit.models.literals.StructuredDatasetMetadata``."""

    def __init__(self, structured_dataset_type: StructuredDatasetType | None = None) -> None:
        self.structured_dataset_type = structured_dataset_type or StructuredDatasetType()


class LiteralStructuredDataset:
    """``flytekit.models.literals.StructuredDataset``: where an encoder wrote a frame (a local
    directory or file here) and its metadata."""

    def __init__(self, uri: str, metadata: StructuredDatasetMetadata | None = None) -> None:
        self.uri = uri
        self.metadata = metadata or StructuredDatasetMetadata()


class _Handler(abc.ABC, Generic[T]):
    def __init__(
        self,
        python_type: type[T],
        protocol: str | None = None,
        supported_format: str | None = None,
        additional_protocols: list[str] | None = None,
    ) -> None:
        if not isinstance(python_type, type):
            raise DefinitionError(
                f"{type(self).__name__}: python_type must be a class, not {python_type!r}"
            )
        self._python_type = python_type
        self._protocol = protocol.replace("://", "") if protocol else None
        self._supported_format = supported_format or GENERIC_FORMAT

    @property
    def python_type(self) -> type[T]:
        return self._python_type

    @property
    def protocol(self) -> str | None:
        return self._protocol

    @property
    def supported_format(self) -> str:
        return self._supported_format


class StructuredDatasetEncoder(_Handler[T]):
    """flytekit's encoder: ``encode(ctx, structured_dataset, structured_dataset_type)`` writes
    ``structured_dataset.dataframe`` under a directory (``ctx.file_access``) and returns a
    ``literals.StructuredDataset(uri=that_directory, metadata=...)``."""

    @abc.abstractmethod
    def encode(
        self, ctx: Any, structured_dataset: Any, structured_dataset_type: StructuredDatasetType
    ) -> LiteralStructuredDataset: ...


class StructuredDatasetDecoder(_Handler[T]):
    """flytekit's decoder: ``decode(ctx, flyte_value, current_task_metadata)`` reads the
    directory ``flyte_value.uri`` into the frame class."""

    @abc.abstractmethod
    def decode(
        self,
        ctx: Any,
        flyte_value: LiteralStructuredDataset,
        current_task_metadata: StructuredDatasetMetadata,
    ) -> Any: ...


_lock = threading.Lock()
_encoders: dict[type, dict[str, StructuredDatasetEncoder[Any]]] = {}
_decoders: dict[type, dict[str, StructuredDatasetDecoder[Any]]] = {}
_renderers: dict[type, Any] = {}


class StructuredDatasetTransformerEngine:
    """flytekit's registry of dataframe handlers (see the module)."""

    @classmethod
    def register(
        cls,
        h: StructuredDatasetEncoder[Any] | StructuredDatasetDecoder[Any],
        default_for_type: bool = False,
        override: bool = False,
        default_format_for_type: bool = False,
        default_storage_for_type: bool = False,
    ) -> None:
        """Use ``h`` to write (an encoder) or read (a decoder) frames of ``h.python_type`` in
        ``h.supported_format``, in every task of this process (a worker process has those its
        imports of the user's modules register).

        Raises:
            TypeError: ``h`` is neither an encoder nor a decoder.
            DuplicateHandlerError: one of another class is registered for that type and
                format, and ``override`` is not set.
        """
        table: Any
        if isinstance(h, StructuredDatasetEncoder):  # (typed Any: one table or the other)
            table = _encoders
        elif isinstance(h, StructuredDatasetDecoder):
            table = _decoders
        else:
            raise TypeError(
                f"StructuredDatasetTransformerEngine.register takes a StructuredDatasetEncoder "
                f"or StructuredDatasetDecoder instance, not {h!r}"
            )
        with _lock:
            by_format = table.setdefault(h.python_type, {})
            old = by_format.get(h.supported_format)
            if old is not None and type(old) is not type(h) and not override:
                raise DuplicateHandlerError(
                    f"a {type(old).__name__} is already registered for "
                    f"{h.python_type.__name__} in format {h.supported_format!r}: pass "
                    "override=True to replace it"
                )
            by_format[h.supported_format] = h
        if h.python_type.__module__.split(".")[0] not in BUILT_IN_FRAMES:
            from airfoil.types import add_converter

            add_converter(CustomFramesConverter())

    @classmethod
    def register_renderer(cls, python_type: type, renderer: Any) -> None:
        """Recorded (a deck renderer: Airfoil writes task reports to the log)."""
        with _lock:
            _renderers[python_type] = renderer


def _chosen(table: dict[type, dict[str, Any]], python_type: type, fmt: str) -> Any:
    with _lock:
        by_format = table.get(python_type)
        if not by_format:
            return None
        return by_format.get(fmt) or by_format.get(GENERIC_FORMAT) or next(iter(by_format.values()))


def custom_class(python_type: Any) -> bool:
    """Whether frames of ``python_type`` go through a registered encoder or decoder."""
    if not isinstance(python_type, type):
        return False
    if python_type.__module__.split(".")[0] in BUILT_IN_FRAMES:
        return False
    with _lock:
        return python_type in _encoders or python_type in _decoders


class FileAccess:
    """``ctx.file_access`` of flytekit's context, over local directories: "remote" paths are
    local ones (Airfoil stores what the encoder wrote itself), made under the running task's
    working directory, or a directory of this process removed when it exits."""

    def __init__(self, root: str | None = None) -> None:
        self._root = root

    @property
    def local_sandbox_dir(self) -> str:
        return self._root or _process_dir()

    @property
    def raw_output_prefix(self) -> str:
        return self.local_sandbox_dir

    def get_random_local_directory(self) -> str:
        return tempfile.mkdtemp(prefix="local-", dir=self.local_sandbox_dir)

    def get_random_remote_directory(self) -> str:
        return tempfile.mkdtemp(prefix="remote-", dir=self.local_sandbox_dir)

    def get_random_local_path(self, file_path_or_file_name: str | None = None) -> str:
        name = os.path.basename(file_path_or_file_name or "") or "file"
        return os.path.join(self.get_random_local_directory(), name)

    def get_random_remote_path(self, file_path_or_file_name: str | None = None) -> str:
        name = os.path.basename(file_path_or_file_name or "") or "file"
        return os.path.join(self.get_random_remote_directory(), name)

    def is_remote(self, path: str) -> bool:
        return "://" in str(path) and not str(path).startswith("file://")

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def exists(self, path: str) -> bool:
        return os.path.exists(_local(path))

    def get_filesystem_for_path(self, path: str = "", **_: Any) -> Any:
        import fsspec

        _local(path)  # refuses a remote path
        return fsspec.filesystem("file")

    def put_data(self, local_path: str, remote_path: str, is_multipart: bool = False) -> str:
        _copy(local_path, remote_path)
        return remote_path

    def get_data(self, remote_path: str, local_path: str, is_multipart: bool = False) -> str:
        _copy(remote_path, local_path)
        return local_path

    def upload_directory(self, local_path: str, remote_path: str) -> str:
        return self.put_data(local_path, remote_path, True)

    def download_directory(self, remote_path: str, local_path: str) -> str:
        return self.get_data(remote_path, local_path, True)

    def upload(self, file_path: str, to_path: str) -> str:
        return self.put_data(file_path, to_path)

    def download(self, remote_path: str, local_path: str) -> str:
        return self.get_data(remote_path, local_path)


def _local(path: str) -> str:
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        raise DefinitionError(
            f"{text!r}: Airfoil's file_access reaches local paths only; read remote data in "
            "the task yourself (fsspec) and give the local path"
        )
    return text.removeprefix("file://")


def _copy(source: str, target: str) -> None:
    source, target = _local(source), _local(target)
    if os.path.abspath(source) == os.path.abspath(target):
        return
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        if target.endswith(os.sep) or os.path.isdir(target):
            target = os.path.join(target, os.path.basename(source))
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        shutil.copyfile(source, target)


_process_root: str | None = None


def _process_dir() -> str:
    global _process_root
    with _lock:
        if _process_root is None:
            _process_root = tempfile.mkdtemp(prefix="airfoil-flytekit-")
            # multiprocessing's exit finalizers, not atexit: they run at this process's exit
            # (multiprocessing registers them with atexit) and at a multiprocessing child's,
            # which ends with os._exit and runs no atexit hook (a process executor's worker:
            # one directory left behind per worker)
            multiprocessing.util.Finalize(
                None, _remove_process_dir, args=(_process_root, os.getpid()), exitpriority=0
            )
        return _process_root


def _remove_process_dir(path: str, pid: int) -> None:
    """At exit: remove the directory of process ``pid``, if this is that process (a child
    forked from it inherits the exit hook, and may exit while the parent uses the
    directory)."""
    if not forked_from(pid):
        shutil.rmtree(path, ignore_errors=True)


def _context() -> Any:
    """flytekit's context for a handler, its ``file_access`` under the task's directory."""
    from airfoil.compat.flytekit.core.context_manager import FlyteContext

    return FlyteContext()


def _columns_type(columns: Iterable[str] | None, fmt: str) -> StructuredDatasetType:
    cols = [StructuredDatasetType.DatasetColumn(c) for c in columns or ()]
    return StructuredDatasetType(columns=cols, format=fmt)


def _checked_format(fmt: str, who: Any) -> str:
    if fmt not in (PARQUET, CSV, GENERIC_FORMAT):
        raise ConversionError(
            f"{type(who).__name__} handles format {fmt!r}: Airfoil stores frames as Arrow and "
            "reads back only Parquet or CSV that an encoder writes (register it with PARQUET "
            "or CSV)"
        )
    return fmt or PARQUET


def encode_to_table(frame: Any, fmt: str, columns: list[str] | None) -> Any:
    """The Arrow table of ``frame`` as the encoder registered for its class writes it."""
    from airfoil.compat.flytekit._types import StructuredDataset

    encoder = _chosen(_encoders, type(frame), fmt)
    if encoder is None:
        raise ConversionError(
            f"no StructuredDatasetEncoder is registered for {type(frame).__qualname__}: "
            "register one (StructuredDatasetTransformerEngine.register) or return a pandas, "
            "polars or pyarrow frame"
        )
    fmt = _checked_format(encoder.supported_format or fmt, encoder)
    try:
        written = encoder.encode(
            _context(), StructuredDataset(dataframe=frame), _columns_type(columns, fmt)
        )
    except Exception as exc:
        raise ConversionError(f"{type(encoder).__name__}.encode failed: {exc}") from exc
    if not isinstance(written, LiteralStructuredDataset):
        raise ConversionError(
            f"{type(encoder).__name__}.encode must return literals.StructuredDataset(uri=...), "
            f"not {type(written).__name__}"
        )
    written_fmt = written.metadata.structured_dataset_type.format or fmt
    return _read_table(_local(written.uri), _checked_format(written_fmt, encoder))


def _read_table(path: str, fmt: str) -> Any:
    import pyarrow as pa

    if fmt == CSV:
        from pyarrow import csv

        files = (
            [os.path.join(path, n) for n in sorted(os.listdir(path))]
            if os.path.isdir(path)
            else [path]
        )
        tables = [csv.read_csv(f) for f in files if os.path.isfile(f)]
        if not tables:
            raise ConversionError(f"the encoder wrote no CSV file under {path}")
        return pa.concat_tables(tables)
    import pyarrow.parquet as pq

    return pq.read_table(path)


def decode_from_table(table: Any, python_type: type, fmt: str, columns: list[str] | None) -> Any:
    """``table`` as the decoder registered for ``python_type`` reads it."""
    decoder = _chosen(_decoders, python_type, fmt)
    if decoder is None:
        raise ConversionError(
            f"no StructuredDatasetDecoder is registered for {python_type.__qualname__}: "
            "register one (StructuredDatasetTransformerEngine.register) or open the dataset "
            "as pd.DataFrame, pl.DataFrame or pa.Table"
        )
    fmt = _checked_format(decoder.supported_format or fmt, decoder)
    ctx = _context()
    where = ctx.file_access.get_random_local_directory()
    if fmt == CSV:
        from pyarrow import csv

        csv.write_csv(table, os.path.join(where, ".csv"))  # flytekit's name for it
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, os.path.join(where, "00000"))
    meta = StructuredDatasetMetadata(_columns_type(columns, fmt))
    try:
        return decoder.decode(ctx, LiteralStructuredDataset(uri=where, metadata=meta), meta)
    except Exception as exc:
        raise ConversionError(f"{type(decoder).__name__}.decode failed: {exc}") from exc


class _CustomFrameHandler(BlobHandler):
    """A registered frame class as a task's input or output type: stored as an Arrow frame
    (so it binds with every other frame type), written and read by the user's handlers."""

    def __init__(self, engine: AirfoilTypeEngine, python_type: type) -> None:
        super().__init__(TypeSpec("dataframe"))  # no flavour: any frame binds to it
        self.engine = engine
        self.python_type = python_type
        self.classes = (python_type,)

    def check(self, obj: Any) -> None:
        if not isinstance(obj, self.python_type):
            raise ConversionError(
                f"expected {self.python_type.__qualname__}, got {type(obj).__qualname__}"
            )

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        import pyarrow as pa

        self.check(obj)
        table = encode_to_table(obj, PARQUET, None)
        return self.engine.handler(pa.Table).to_value(table, ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        import pyarrow as pa

        table = self.engine.handler(pa.Table).to_python(value, ctx)
        return decode_from_table(table, self.python_type, PARQUET, None)

    def cli_form(self) -> str:
        return f"a {self.python_type.__qualname__} (not given on the command line)"


class CustomFramesConverter(Converter):
    """The frame classes registered with ``StructuredDatasetTransformerEngine`` in this
    process (a worker process has those its imports of the user's modules register)."""

    def handler(self, py_type: Any, engine: AirfoilTypeEngine) -> Handler | None:
        if custom_class(py_type):
            return _CustomFrameHandler(engine, py_type)
        return None
