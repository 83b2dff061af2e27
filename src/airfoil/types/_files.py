"""Files and directories: the user-facing :class:`File` and :class:`Directory`, and their
handlers.

A file or directory is always stored in the blob store (format ``file`` / ``directory``),
whatever its size: it is a reference by nature. Its hash covers its name and its bytes
(for a directory: the name, and every file's relative path and SHA-256), so renaming or
editing gives a new hash and the same content always gives the same one.

Coming back, a file or directory is copied into the context's scratch directory under
``<hash[:16]>/<name>``, so the task gets a local path that exists, keeps its name, and can be
modified without touching the store.
"""

from __future__ import annotations

import hashlib
import os
from typing import IO, TYPE_CHECKING, Any

from airfoil.core.blobs import DIRECTORY_MARKER
from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    canonical_json,
    hash_file,
    mismatch,
    values_key,
)

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = [
    "Directory",
    "File",
    "FileConverter",
    "directory_digest",
    "file_name_problem",
    "file_value_hash",
]


class _LocalPath:
    """What :class:`File` and :class:`Directory` share: a local path (``os.PathLike``), and
    pydantic fields of their type."""

    __slots__ = ("_path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)

    @property
    def path(self) -> str:
        """The local path."""
        return self._path

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """So a pydantic model may have a field of this type (no ``arbitrary_types_allowed``)."""
        return _pydantic_schema(cls, handler)

    def __fspath__(self) -> str:
        return self._path


class File(_LocalPath):
    """A local file, passed between tasks by content.

    A task returns ``File("out.csv")`` (or takes a ``File`` input) and Airfoil uploads it to the
    blob store; the next task receives a ``File`` whose :attr:`path` is a local copy.

    Two files are equal when they have the same name and the same bytes.

    Args:
        path: the file's local path.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        """The file's name (the last part of its path)."""
        return os.path.basename(self._path.rstrip(os.sep))

    def open(self, mode: str = "r", **kwargs: Any) -> IO[Any]:
        """Open the file, as the built-in :func:`open` does."""
        return open(self._path, mode, **kwargs)

    def read_bytes(self) -> bytes:
        """The file's bytes."""
        with open(self._path, "rb") as fh:
            return fh.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        """The file's text."""
        with open(self._path, encoding=encoding) as fh:
            return fh.read()

    def exists(self) -> bool:
        """Whether the path is an existing file."""
        return os.path.isfile(self._path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, File):
            return NotImplemented
        if self.name != other.name:
            return False
        if os.path.abspath(self._path) == os.path.abspath(other._path):
            return True
        return self.exists() and other.exists() and hash_file(self._path) == hash_file(other._path)

    def __hash__(self) -> int:
        return hash(("File", self.name))

    def __repr__(self) -> str:
        return f"File({self._path!r})"


class Directory(_LocalPath):
    """A local directory tree, passed between tasks by content.

    Two directories are equal when they have the same name and the same files (relative
    paths and bytes). Empty subdirectories are not part of a directory's content.

    Args:
        path: the directory's local path.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        """The directory's name (the last part of its path)."""
        return os.path.basename(os.path.abspath(self._path))

    def listing(self) -> list[str]:
        """Relative paths (``/``-separated) of every file in the tree, sorted. A symbolic link
        is its target's content, as a stored copy of the tree holds it.

        Raises:
            ConversionError: the tree holds a broken link, a link to a folder above it (a
                loop) or something that is not a file (a pipe, a socket, a device).
        """
        return sorted(_tree_files(self._path))

    def files(self) -> list[File]:
        """Every file in the tree, sorted by relative path."""
        return [self.file(rel) for rel in self.listing()]

    def file(self, relative_path: str) -> File:
        """The file at ``relative_path`` inside the directory."""
        return File(os.path.join(self._path, *relative_path.split("/")))

    def exists(self) -> bool:
        """Whether the path is an existing directory."""
        return os.path.isdir(self._path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Directory):
            return NotImplemented
        if self.name != other.name or not (self.exists() and other.exists()):
            return False
        return _manifest(self._path) == _manifest(other._path)

    def __hash__(self) -> int:
        return hash(("Directory", self.name))

    def __repr__(self) -> str:
        return f"Directory({self._path!r})"


def _tree_files(top: str) -> list[str]:
    """Relative paths of every file under ``top``, following symbolic links as the blob
    stores' copies do (``shutil.copytree`` copies a linked folder's files): the hash must
    cover what is stored, or an edit under a linked folder kept its hash (a stale cache hit)
    and every read of the stored copy failed its check as corrupt.

    Raises:
        ConversionError: a broken link, a loop, or an entry that is not a regular file.
    """
    import stat

    out: list[str] = []
    pending = [("", os.path.realpath(top), frozenset[str]())]
    while pending:
        rel_dir, real_dir, above = pending.pop()
        above = above | {real_dir}
        with os.scandir(os.path.join(top, rel_dir)) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = os.path.join(top, rel)
            try:
                mode = os.stat(full).st_mode
            except OSError as exc:
                if not os.path.islink(full):
                    what = f"unreadable ({exc.strerror})"
                    raise _tree_error(top, rel, what, "make it readable") from None
                raise _tree_error(
                    top,
                    rel,
                    f"a link to {os.readlink(full)!r}, which does not exist",
                    "remove the link or make it point at a file",
                ) from None
            if stat.S_ISDIR(mode):
                real = os.path.realpath(full)
                if real in above:
                    raise _tree_error(
                        top, rel, "a link to a folder that holds it (a loop)", "remove the link"
                    )
                pending.append((rel, real, above))
            elif stat.S_ISREG(mode):
                out.append(rel)
            else:
                raise _tree_error(
                    top,
                    rel,
                    "not a regular file (a pipe, socket or device)",
                    "remove it or copy its content into a file",
                )
    return out


def _tree_error(top: str, rel: str, what: str, fix: str) -> ConversionError:
    return ConversionError(
        f"Directory {top!r} holds {rel!r}, {what}: {fix}; its files are stored by content"
    )


def _manifest(path: str) -> list[list[Any]]:
    """``[relative path, sha256, size]`` of every file under ``path``, sorted."""
    d = Directory(path)
    return [[rel, hash_file(f.path), os.path.getsize(f.path)] for rel, f in _files_of(d)]


def _files_of(d: Directory) -> list[tuple[str, File]]:
    return [(rel, d.file(rel)) for rel in d.listing()]


def _digest(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


def directory_digest(path: str, name: str) -> str:
    """The content hash of a :class:`Directory` value of the tree at ``path``."""
    return _digest({"name": name, "files": _manifest(path)})


def file_value_hash(name: str, content_sha256: str) -> str:
    """The content hash of a :class:`File` value: its name and its bytes' SHA-256."""
    return _digest({"name": name, "sha256": content_sha256})


def file_name_problem(name: str) -> str | None:
    """Why ``name`` (a file or directory value's ``meta["name"]``) is not a plain name a
    value may carry, or None. Reading a value places it at ``<scratch>/<hash>/<name>``, so a
    name with a separator, ``..`` or an absolute path would write outside the scratch folder
    (values written by Airfoil carry a path's last part, which never has one)."""
    if name in ("", ".", ".."):
        return f"{name!r} is not a file name"
    if "/" in name or "\\" in name or "\x00" in name:
        return f"{name!r} holds a path separator or a NUL character"
    return None


def _stored_name(value: Value) -> str:
    """The name a file or directory value is placed under when read back.

    Raises:
        ConversionError: the value's name is not a plain name (:func:`file_name_problem`).
    """
    name = value.meta.get("name", "file" if value.format == "file" else "dir")
    problem = file_name_problem(name)
    if problem is not None:
        raise ConversionError(
            f"{value.format} value {value.hash[:16]} is named {name!r}, which is refused: "
            f"{problem} (a name must be one path component; Airfoil writes the last part of "
            "the path)"
        )
    return name


def _local_path(obj: Any, cls: type, label: str, exists: Any) -> str:
    if isinstance(obj, cls):
        path = obj.path  # type: ignore[attr-defined]
    elif isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
    else:
        raise mismatch(f"{label} (or a path)", obj)
    if not exists(path):
        raise ConversionError(f"{label} path {path!r} does not exist or is not a {label.lower()}")
    return str(path)


def _pydantic_schema(cls: type, handler: Any) -> Any:
    """A pydantic core schema for a File / Directory field: an instance, or a path (``str`` /
    ``os.PathLike``) made into one; dumped as its path. (The type engine writes such fields
    of a model itself, by content: see ``types._structs``.)"""
    from pydantic_core import core_schema

    def build(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str | os.PathLike):
            return cls(value)
        raise ValueError(f"expected a {cls.__name__} or a path, got {type(value).__name__}")

    return core_schema.no_info_plain_validator_function(
        build,
        serialization=core_schema.plain_serializer_function_ser_schema(
            lambda v: os.fspath(v), when_used="always"
        ),
    )


class FileHandler(BlobHandler):
    classes = (File,)

    def __init__(self) -> None:
        super().__init__(TypeSpec("file"))

    def check(self, obj: Any) -> None:
        _local_path(obj, File, "File", os.path.isfile)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        path = _local_path(obj, File, "File", os.path.isfile)
        name = os.path.basename(path)
        content = hash_file(path)
        digest = file_value_hash(name, content)
        key = values_key(digest)
        uri = ctx.blobs.uri(key)
        if not ctx.blobs.exists(uri):
            uri = ctx.blobs.put_file(key, path)
        meta = {"name": name, "sha256": content}
        return Value(hash=digest, format="file", uri=uri, size=os.path.getsize(path), meta=meta)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "file" or value.uri is None:
            raise self.wrong_format(value)
        target = os.path.join(ctx.scratch(), value.hash[:16], _stored_name(value))
        ctx.blobs.get_file(value.uri, target)
        from airfoil.types._integrity import check_path

        check_path(value, target)
        return File(target)

    def from_path(self, path: str) -> Any:
        return File(os.path.abspath(_local_path(path, File, "File", os.path.isfile)))

    def cli_form(self) -> str:
        return "a path to an existing local file"


class DirectoryHandler(BlobHandler):
    classes = (Directory,)

    def __init__(self) -> None:
        super().__init__(TypeSpec("directory"))

    def check(self, obj: Any) -> None:
        _local_path(obj, Directory, "Directory", os.path.isdir)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        path = _local_path(obj, Directory, "Directory", os.path.isdir)
        if os.path.lexists(os.path.join(path, DIRECTORY_MARKER)):
            raise ConversionError(
                f"Directory {path!r} holds {DIRECTORY_MARKER!r} at its top, the name the blob "
                "store gives the file that completes a stored tree (it would be replaced): "
                "rename that file, or pass the folder above it"
            )
        name = Directory(path).name
        manifest = _manifest(path)
        digest = _digest({"name": name, "files": manifest})
        key = values_key(digest)
        target = ctx.blobs.local_path(ctx.blobs.uri(key))
        source = os.path.abspath(path)
        if target is not None and os.path.commonpath([source, target]) == source:
            raise ConversionError(f"Directory {path!r} contains the blob store it would go to")
        uri = ctx.blobs.put_dir(key, path)
        meta = {"name": name, "files": str(len(manifest))}
        size = sum(int(entry[2]) for entry in manifest)
        return Value(hash=digest, format="directory", uri=uri, size=size, meta=meta)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "directory" or value.uri is None:
            raise self.wrong_format(value)
        target = os.path.join(ctx.scratch(), value.hash[:16], _stored_name(value))
        if os.path.isdir(target):
            import shutil

            shutil.rmtree(target)
        ctx.blobs.get_dir(value.uri, target)
        from airfoil.types._integrity import check_path

        check_path(value, target)
        return Directory(target)

    def from_path(self, path: str) -> Any:
        return Directory(os.path.abspath(_local_path(path, Directory, "Directory", os.path.isdir)))

    def cli_form(self) -> str:
        return "a path to an existing local directory"


class FileConverter(Converter):
    """:class:`File` and :class:`Directory`."""

    formats = ("file", "directory")

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if py_type is File:
            return FileHandler()
        if py_type is Directory:
            return DirectoryHandler()
        return None

    def preview(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        path = ctx.blobs.local_path(value.uri) if value.uri else None
        out: dict[str, Any] = {"format": value.format, "uri": value.uri, "size": value.size}
        if path is not None:
            out["path"] = path
        out["name"] = value.meta.get("name", "")
        if value.format == "directory":
            out["files"] = int(value.meta.get("files", "0"))
        return out
