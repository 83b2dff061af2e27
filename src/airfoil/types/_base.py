"""The pieces every converter shares: the context, the handler contract, and the codecs.

A :class:`Converter` is one link of the type engine's chain: given a Python annotation it
answers "not mine" (``None``) or returns a :class:`Handler` bound to that annotation. The
engine caches the handler per annotation, so introspection happens once per type.

A handler converts in two layers:

- ``encode`` / ``decode``: Python object <-> plain JSON data (``None``, ``bool``, ``int``,
  ``float``, ``str``, ``list``, ``dict`` with ``str`` keys). Containers call their element
  handlers at this layer. Values that do not fit JSON (dataframes, arrays, files, pickles)
  encode to a *reference*: ``{"$airfoil": {...}}`` naming the blob by content hash.
- ``to_value`` / ``to_python``: Python object <-> :class:`~airfoil.core.records.Value`.
  The default serialises the encoded data as canonical JSON; leaf handlers write their own
  format (Parquet, ``.npy``, pickle, file blobs).

Invariants:

- A value's hash is the hex SHA-256 of its canonical serialised bytes (BLAKE3 for Arrow IPC
  frames, which say so in ``meta["digest"]``: :mod:`airfoil.types._digests`). Canonical JSON sorts
  object keys (msgspec ``order="deterministic"``), so equal values give equal hashes in every
  process, whatever order a dict was built in. Set elements are sorted by their encoding.
- JSON values are *stored* in the order the user built them (a dict comes back with its keys
  in their order, not sorted); for every other format, and for JSON with no object in it,
  the stored bytes are the canonical bytes. An offloaded value lives at
  ``values/<sha[:2]>/<sha>`` where ``sha`` is the digest of the stored bytes, so
  ``sha256sum`` (``b3sum`` for a value whose meta says ``"digest": "blake3"``) of a blob
  always equals its key.
- ``encode(obj, None)`` validates without writing anything (used by ``check_value``).
"""

from __future__ import annotations

import abc
import functools
import hashlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError, NotFoundError, TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types._digests import DIGEST_META, SHA256, digest_bytes, hasher
from airfoil.types._json_text import json_problem
from airfoil.types._refs import REF_KEY, ValueRef, ValueRefError

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = [
    "DEFAULT_OFFLOAD_THRESHOLD",
    "REF_KEY",
    "BlobHandler",
    "ConversionError",
    "Converter",
    "Handler",
    "PickleFallbackWarning",
    "ValueContext",
    "canonical_json",
    "decode_json_bytes",
    "hash_file",
    "local_blob_path",
    "json_value",
    "not_unicode",
    "mismatch",
    "read_bytes",
    "ref_to_value",
    "short_repr",
    "value_to_ref",
    "values_key",
    "write_bytes_value",
    "write_file_value",
    "write_hashed_value",
]

DEFAULT_OFFLOAD_THRESHOLD = 64 * 1024

_canonical_encoder = msgspec.json.Encoder(order="deterministic")
_ordered_encode = msgspec.json.Encoder().encode  # keys in insertion order
_json_decode = msgspec.json.decode
_sha256 = hashlib.sha256


class PickleFallbackWarning(UserWarning):
    """A value of a type no converter knows is stored with :mod:`pickle`.

    Pickles are opaque (no preview, no schema), tied to the Python code that made them, and their
    hash depends on the object's internal ordering. Emitted once per type; add a converter with
    :func:`airfoil.types.add_converter` or use a dataclass to avoid it.
    """


class ConversionError(TypeTransformError):
    """A value does not fit its type; carries the path inside the value where it failed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []

    def at(self, segment: str) -> ConversionError:
        """Prefix a path segment (``"[2]"``, ``".name"``) while the error unwinds."""
        self.path.append(segment)
        return self

    def __str__(self) -> str:
        if not self.path:
            return self.detail
        return f"{self.detail} (at value{''.join(reversed(self.path))})"


def short_repr(obj: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters, for error messages."""
    try:
        text = repr(obj)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mismatch(expected: str, obj: Any, hint: str = "") -> ConversionError:
    """The error for a value of the wrong type."""
    extra = f"; {hint}" if hint else ""
    return ConversionError(
        f"expected {expected}, got {type(obj).__name__} {short_repr(obj)}{extra}"
    )


class ValueContext:
    """What conversions need: the blob store, the offload threshold and a scratch directory.

    Attributes:
        blobs: where offloaded values, files and dataframes are written and read.
        offload_threshold: values whose serialised form is larger than this many bytes go to the
            blob store; smaller ones stay inline in the :class:`~airfoil.core.records.Value`.
        scratch_dir: where files and directories coming back from the store are materialised.
            ``None`` means a temporary directory created on first use.
        frame_format: how DataFrames and Arrow tables are written: ``"arrow"`` (Arrow IPC,
            uncompressed, memory-mapped by the reader; the default between tasks) or
            ``"parquet"`` (compressed; what uploads over the API and exports use).
    """

    __slots__ = ("_own_scratch", "blobs", "frame_format", "offload_threshold", "scratch_dir")

    def __init__(
        self,
        blobs: BlobStore,
        offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD,
        scratch_dir: str | None = None,
        frame_format: str = "arrow",
    ) -> None:
        if offload_threshold < 0:
            raise ConfigError(f"offload_threshold must be >= 0 bytes, got {offload_threshold}")
        bad_scratch = scratch_dir is not None and os.path.exists(scratch_dir)
        if bad_scratch and not os.path.isdir(str(scratch_dir)):
            raise ConfigError(f"scratch_dir {scratch_dir!r} exists and is not a directory")
        if frame_format not in ("arrow", "parquet"):
            raise ConfigError(f"frame_format must be 'arrow' or 'parquet', got {frame_format!r}")
        self.blobs = blobs
        self.frame_format = frame_format
        self.offload_threshold = offload_threshold
        self.scratch_dir = scratch_dir
        self._own_scratch = False

    @classmethod
    def inline_only(cls) -> ValueContext:
        """A context with no blob store that keeps every value inline: for constants and
        defaults written into a spec. Writing a file or a frame through it raises
        ``AttributeError`` (there is no store to write to)."""
        return cls(blobs=None, offload_threshold=1 << 62)  # type: ignore[arg-type]

    def scratch(self) -> str:
        """The scratch directory, created on first use."""
        if self.scratch_dir is None:
            import tempfile

            self.scratch_dir = tempfile.mkdtemp(prefix="airfoil-values-")
            self._own_scratch = True
        else:
            os.makedirs(self.scratch_dir, exist_ok=True)
        return self.scratch_dir

    def close(self) -> None:
        """Remove the scratch directory if this context created it."""
        if self._own_scratch and self.scratch_dir is not None:
            import shutil

            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir = None
            self._own_scratch = False

    def __enter__(self) -> ValueContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- codecs -------------------------------------------------------------------------------


#: Why JSON nested past the decoder's depth limit (the recursion limit, 1,000) is refused.
TOO_DEEP = (
    "nested too deeply: JSON nested near 1,000 levels (Python's recursion limit) cannot be read"
)


def not_unicode(exc: UnicodeEncodeError) -> str:
    """What is wrong with text that UTF-8 (every stored value's encoding) cannot hold."""
    text, start, end = exc.object, exc.start, exc.end
    return (
        f"text {text[max(0, start - 20) : end + 20]!r} holds {text[start:end]!r} at position "
        f"{start}, which is not Unicode (a lone surrogate: bytes decoded with "
        "errors='surrogateescape', such as a file name that is not UTF-8): pass bytes "
        "(os.fsencode) or text decoded with errors='replace'"
    )


def canonical_json(data: Any) -> bytes:
    """Canonical JSON bytes of plain data: object keys sorted, no whitespace."""
    try:
        return _canonical_encoder.encode(data)
    except UnicodeEncodeError as exc:
        raise ConversionError(not_unicode(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ConversionError(f"cannot serialise value as JSON: {exc}") from None


def values_key(digest: str) -> str:
    """The blob key of an offloaded value: ``values/<hash[:2]>/<hash>``."""
    return f"values/{digest[:2]}/{digest}"


def write_bytes_value(
    data: bytes,
    fmt: str,
    ctx: ValueContext,
    meta: dict[str, str] | None = None,
    *,
    digest: str | None = None,
    algorithm: str = SHA256,
) -> Value:
    """A value of serialised bytes: inline if small, else offloaded by content hash.

    ``digest`` is the value's hash when it is not that of ``data`` (JSON stored in the
    user's key order, hashed canonically); the blob key is always the digest of ``data``
    by ``algorithm`` (:mod:`airfoil.types._digests`; one other than SHA-256 is named in the
    value's meta).
    """
    own = _sha256(data).hexdigest() if algorithm == SHA256 else digest_bytes(data, algorithm)
    if algorithm != SHA256:
        meta = {**(meta or {}), DIGEST_META: algorithm}
    digest = digest or own
    size = len(data)
    if size <= ctx.offload_threshold:
        if meta:
            return Value(hash=digest, format=fmt, inline=data, size=size, meta=meta)
        return Value(hash=digest, format=fmt, inline=data, size=size)
    uri = ctx.blobs.put_bytes(values_key(own), data)
    if digest != own:  # reads check the blob against the SHA-256 of what was written
        meta = {**(meta or {}), "sha256": own}
    return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta or {})


def json_value(data: Any, ctx: ValueContext) -> Value:
    """A ``json`` value of plain data: stored in its own key order, hashed canonically."""
    try:
        ordered = _ordered_encode(data)
    except UnicodeEncodeError as exc:
        raise ConversionError(not_unicode(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ConversionError(f"cannot serialise value as JSON: {exc}") from None
    if b"{" not in ordered:  # no object inside (or only in strings): the same bytes
        return write_bytes_value(ordered, "json", ctx)
    canonical = canonical_json(data)
    if canonical == ordered:
        return write_bytes_value(ordered, "json", ctx)
    return write_bytes_value(ordered, "json", ctx, digest=_sha256(canonical).hexdigest())


def read_bytes(value: Value, ctx: ValueContext) -> bytes:
    """The serialised bytes of a value, from inline or from the blob store.

    Raises:
        NotFoundError: the value is offloaded and its blob is missing.
        CorruptBlobError: the blob's bytes do not match the value's hash.
    """
    if value.inline is not None:
        return value.inline
    if value.uri is None:
        raise TypeTransformError(f"value {value.hash[:12]} has neither inline data nor a uri")
    from airfoil.types._integrity import check_bytes

    data = ctx.blobs.get_bytes(value.uri)
    check_bytes(value, data)
    return data


def decode_json_bytes(data: bytes) -> Any:
    """Plain data from JSON bytes."""
    try:
        return _json_decode(data)
    except msgspec.DecodeError as exc:
        raise TypeTransformError(f"stored value is not valid JSON: {exc}") from None


def hash_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def local_blob_path(value: Value, ctx: ValueContext) -> str | None:
    """The local path of an offloaded value's blob, when the store is local.

    Raises:
        NotFoundError: the store is local and the blob is missing.
        CorruptBlobError: the blob's bytes do not match the value's hash.
    """
    if value.uri is None:
        return None
    path = ctx.blobs.local_path(value.uri)
    if path is not None and not os.path.exists(path):
        raise NotFoundError(f"blob {value.uri} does not exist")
    if path is not None:
        from airfoil.types._integrity import check_path

        check_path(value, path)
    return path


def blob_file(value: Value, ctx: ValueContext) -> str:
    """A local, checked file of an offloaded value's blob, for a reader to map: the store's
    own file when the store is local, else a copy downloaded once into the context's scratch
    directory (``download/<hash>.<format>``; on a Ray node, a link to the node cache's copy:
    :meth:`~airfoil.core.blobs.BlobStore.local_copy`). A download takes that name only once
    its bytes match the value's hash: one damaged or cut short is removed and raised, never
    left for the context's next reader to take as checked.

    Raises:
        NotFoundError: the blob is missing.
        CorruptBlobError: the blob's bytes do not match the value's hash.
    """
    path = local_blob_path(value, ctx)
    if path is not None:
        return path
    if value.uri is None:
        raise TypeTransformError(f"value {value.hash[:12]} is inline: it has no blob to read")
    folder = os.path.join(ctx.scratch(), "download")
    path = os.path.join(folder, f"{value.hash}.{value.format}")
    if os.path.exists(path):
        return path
    import uuid

    os.makedirs(folder, exist_ok=True)

    from airfoil.types._integrity import check_path

    part = f"{path}.{uuid.uuid4().hex[:12]}.part"
    try:
        ctx.blobs.local_copy(value.uri, part, functools.partial(check_path, value))
        os.replace(part, path)
    finally:
        if os.path.exists(part):
            os.remove(part)
    return path


def _whole(path: str, size: int) -> bool:
    """Whether a blob of ``size`` bytes is at ``path``: a write of content already stored is
    skipped, but not over a blob cut short, which no later write would otherwise repair
    (every task returning the same value would "write" it, and every reader fail)."""
    try:
        return os.path.getsize(path) == size
    except FileNotFoundError:
        return False


def _stored_whole(blobs: BlobStore, uri: str, size: int) -> bool:
    """Whether the store holds ``uri`` whole (``size`` bytes): a local file's size, or the
    store's (a blob cut short, missing, or of a size the store cannot tell is written)."""
    final = blobs.local_path(uri)
    if final is not None:
        return _whole(final, size)
    try:
        return blobs.size(uri) == size
    except NotFoundError:
        return False


def _staging(ctx: ValueContext) -> tuple[str, bool]:
    """Where a value's file is written before it is stored, and whether that is inside a
    local store (its folder of temporaries: renamed into place, no copy) or the scratch
    directory (uploaded)."""
    import uuid

    blobs = ctx.blobs
    staging = blobs.local_path(blobs.uri(f"tmp/{uuid.uuid4().hex}"))
    if staging is None:
        return os.path.join(ctx.scratch(), f"upload-{uuid.uuid4().hex}"), False
    os.makedirs(os.path.dirname(staging), exist_ok=True)
    return staging, True


def _store(
    blobs: BlobStore, staging: str, local: bool, digest: str, algorithm: str = SHA256
) -> str:
    """Put a staged file at its content-addressed key, as durable as the store's own writes;
    its URI. A local store's temporary is renamed there, any other store's is uploaded."""
    if not local:
        return blobs.put_file(values_key(digest), staging)
    uri = blobs.uri(values_key(digest))
    final = blobs.local_path(uri)
    assert final is not None
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.replace(staging, final)
    blobs.persist(uri)  # fsynced under the ``power`` durability
    from airfoil.types._integrity import remember_digest

    remember_digest(final, digest, algorithm)  # a read in this process need not hash it again
    return uri


def _discard(path: str) -> None:
    """Remove a temporary file if it is still there (stored by a rename, it is not)."""
    if os.path.exists(path):
        os.remove(path)


def write_file_value(
    write: Callable[[str], None], fmt: str, ctx: ValueContext, meta: dict[str, str]
) -> Value:
    """Offload a value written by ``write(path)`` to a file, without an extra copy.

    When the blob store is local, the file is written straight into the store's directory
    under a temporary key, hashed, and renamed to its content-addressed key. Otherwise it is
    written to the scratch directory and uploaded. Content already stored whole is not
    written again; a blob cut short (a power loss, a full disk) is replaced.
    """
    staging, local = _staging(ctx)
    try:
        write(staging)
        digest = hash_file(staging)
        size = os.path.getsize(staging)
        uri = ctx.blobs.uri(values_key(digest))
        if not _stored_whole(ctx.blobs, uri, size):
            uri = _store(ctx.blobs, staging, local, digest)
    finally:
        _discard(staging)
    return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta)


class _HashSink:
    """A write-only binary file object that feeds what is written to a hash of ``algorithm``
    and counts it, keeping nothing (the hash reads each buffer in place)."""

    closed = False

    def __init__(self, algorithm: str = SHA256) -> None:
        self.sha = hasher(algorithm)
        self.size = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        self.sha.update(data)
        self.size += n
        return n

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


#: The most bytes one ``write`` call hands the kernel when a frame's or an array's file is
#: written. The page cache keeps a file in folios about as large as the writes that made it
#: (ext4 and XFS have large folios): one write a column, as pyarrow writes a stream, asks the
#: kernel for 2 MiB blocks of free memory, 256 KiB writes for 256 KiB ones. On a VM whose free
#: memory is handed back to the host in large blocks (free page reporting: Firecracker, cloud
#: VMs), the large blocks are the unbacked ones, and the host backs each page on its first
#: touch (~5-10 us a page here: ~0.13 s for 80 MB) where smaller free blocks are still backed
#: (~0.02 s). See docs/performance.md, "W4 when every run stores a new frame".
PIECE = 1 << 18


class PieceFile:
    """A new file, written in pieces of at most :data:`PIECE` bytes, whole (a short write
    is followed by the rest): a binary file object for a frame's Arrow stream or an array's
    ``.npy``."""

    closed = False

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")  # the buffer in place, not copied
        for start in range(0, len(view), PIECE):
            piece = view[start : start + PIECE]
            while piece:
                piece = piece[os.write(self.fd, piece) :]
        return len(view)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def __enter__(self) -> PieceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_hashed_value(
    emit: Callable[[Any], None],
    write: Callable[[str], None],
    fmt: str,
    ctx: ValueContext,
    meta: dict[str, str],
    algorithm: str = SHA256,
) -> Value:
    """Offload a value whose serialiser can run twice: hashed first, written only if new.

    ``emit(sink)`` writes the value's bytes to a binary file object that only hashes them
    (``algorithm`` over each buffer in place: nothing is copied or kept; one other than
    SHA-256 is named in the value's meta); ``write(path)`` writes the
    same bytes to a file. The file is written only when the store does not hold that content
    yet -- straight into a local store's folder of temporaries, then renamed to its
    content-addressed key and persisted as :func:`write_file_value` does, or to the scratch
    directory and uploaded -- so a value already stored costs one hash and no write, and a
    new one is never read back to be hashed.

    Raises:
        ConversionError: ``write`` wrote another number of bytes than ``emit`` (the object
            changed between the two, or the serialiser is not deterministic).
    """
    sink = _HashSink(algorithm)
    if algorithm != SHA256:
        meta = {**meta, DIGEST_META: algorithm}
    emit(sink)
    digest, size = sink.sha.hexdigest(), sink.size
    uri = ctx.blobs.uri(values_key(digest))
    if _stored_whole(ctx.blobs, uri, size):  # the same content is already stored
        return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta)
    staging, local = _staging(ctx)
    try:
        write(staging)
        if (written := os.path.getsize(staging)) != size:
            raise ConversionError(
                f"the {fmt} value's serialiser wrote {written} bytes after hashing {size}: "
                "the object changed while it was stored; return an object no other thread "
                "changes"
            )
        uri = _store(ctx.blobs, staging, local, digest, algorithm)
    finally:
        _discard(staging)
    return Value(hash=digest, format=fmt, uri=uri, size=size, meta=meta)


def value_to_ref(value: Value) -> dict[str, Any]:
    """The JSON reference to a leaf value inside a container (:class:`~airfoil.types._refs.
    ValueRef`): by hash, never by URI, so a container's hash does not depend on which store
    holds its parts."""
    return ValueRef.of_value(value).to_json(inline_as_bytes=True)


def ref_to_value(data: Any, ctx: ValueContext | None) -> Value:
    """The value a JSON reference names."""
    try:
        ref = ValueRef.from_json(data)
    except ValueRefError as exc:
        raise ConversionError(f"malformed value reference {short_repr(data)}: {exc}") from None
    if ref.inline is not None:
        return ref.to_value()
    if ctx is None:
        raise ConversionError("a value reference needs a blob store to be read")
    return ref.to_value(ctx.blobs.uri(values_key(ref.hash)))


# --- the handler contract ----------------------------------------------------------------


class Handler(abc.ABC):
    """Converts values of one Python type. Built by a :class:`Converter`, cached by the engine.

    Subclasses implement :meth:`encode` and :meth:`decode`; the JSON-backed defaults of the
    other methods then work. Leaf types with their own storage format subclass
    :class:`BlobHandler` instead.

    Attributes:
        shape: the JSON kinds ``encode`` produces (``"null"``, ``"bool"``, ``"int"``,
            ``"float"``, ``"str"``, ``"array"``, ``"object"``); unions whose members have
            disjoint shapes are stored untagged.
        classes: Python classes whose instances this handler takes as they are; a union
            prefers a member listing the value's exact class.
        fast_type: set when ``encode(x)`` returns ``x`` unchanged for ``type(x) is fast_type``,
            so containers can skip per-element calls.
        native: an annotation msgspec decodes exactly as :meth:`decode` would from this
            handler's own JSON (``list[int]``); :meth:`to_python` then decodes in one C call.
    """

    shape: frozenset[str] = frozenset({"object"})
    classes: tuple[type, ...] = ()
    fast_type: type | None = None
    native: Any = None
    _native_decoder: Any = False  # False: not built yet; None: no native decoder

    def __init__(self, spec: TypeSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> TypeSpec:
        """The :class:`~airfoil.core.records.TypeSpec` of the handled type."""
        return self._spec

    @abc.abstractmethod
    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        """Validate ``obj`` and return its plain JSON data. With ``ctx=None`` only validate.

        Raises:
            ConversionError: ``obj`` does not fit the type.
        """

    @abc.abstractmethod
    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        """The Python object of plain JSON data (also user JSON from the command line).

        Raises:
            ConversionError: the data does not fit the type.
        """

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        """Serialise ``obj`` to a value (offloading it if large)."""
        return json_value(self.encode(obj, ctx), ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        """The Python object of a stored value."""
        if value.format != "json":
            raise self.wrong_format(value)
        raw = read_bytes(value, ctx)
        native = self._native_decoder
        if native is False:
            native = self._build_native_decoder()
        if native is not None:
            try:
                return native.decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass  # the generic path below explains what is wrong
        return self.decode(decode_json_bytes(raw), ctx)

    def _build_native_decoder(self) -> Any:
        decoder = None
        if self.native is not None:
            try:
                decoder = msgspec.json.Decoder(self.native)
            except TypeError:  # a combination msgspec does not support
                decoder = None
        self._native_decoder = decoder
        return decoder

    def check(self, obj: Any) -> None:
        """Raise :class:`ConversionError` if ``obj`` does not fit the type."""
        self.encode(obj, None)

    def cli_form(self) -> str:
        """How a value of this type is written on the command line (for error messages)."""
        return f"JSON for {self.spec}"

    def parse_cli(self, text: str) -> Any:
        """The Python object of a command-line argument. Default: JSON, decoded."""
        try:
            data = _json_decode(text.encode())
        except UnicodeEncodeError as exc:  # an argument that is not UTF-8 (surrogateescape)
            raise self.cli_error(text, not_unicode(exc)) from None
        except RecursionError:  # msgspec's own limit on nesting
            raise self.cli_error(text, TOO_DEEP) from None
        except msgspec.DecodeError as exc:
            raise self.cli_error(text, json_problem(text, exc)) from None
        try:
            return self.decode(data, None)
        except ConversionError as exc:
            raise self.cli_error(text, str(exc)) from None

    def cli_error(self, text: str, reason: str = "") -> TypeTransformError:
        """The error for a command-line argument that does not parse."""
        why = f" ({reason})" if reason else ""
        return TypeTransformError(
            f"cannot parse {short_repr(text)} as {self.spec}{why}: expected {self.cli_form()}"
        )

    def wrong_format(self, value: Value) -> TypeTransformError:
        """The error for a stored value written by a different codec."""
        return TypeTransformError(
            f"a value in format {value.format!r} cannot be read as {self.spec}"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


class BlobHandler(Handler):
    """A leaf type with its own storage format (Parquet, ``.npy``, pickle, files).

    Subclasses implement :meth:`check`, :meth:`to_value`, :meth:`to_python`. Inside containers
    such values are stored as references (see :func:`value_to_ref`); on the command line, or in
    JSON given there, a string is a local path read by :meth:`from_path`.
    """

    shape = frozenset({"object"})

    @abc.abstractmethod
    def check(self, obj: Any) -> None:
        """Raise :class:`ConversionError` if ``obj`` does not fit the type."""

    @abc.abstractmethod
    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        """Serialise and store ``obj``."""

    @abc.abstractmethod
    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        """Load a stored value."""

    def from_path(self, path: str) -> Any:
        """The object stored in a local file (command-line input)."""
        raise ConversionError(f"{self.spec} cannot be read from a path")

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if ctx is None:
            self.check(obj)
            return None
        return value_to_ref(self.to_value(obj, ctx))

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if isinstance(data, str):
            return self.from_path(data)
        if ctx is None:
            raise ConversionError(f"a stored {self.spec} needs a blob store to be read")
        return self.to_python(ref_to_value(data, ctx), ctx)

    def parse_cli(self, text: str) -> Any:
        try:
            return self.from_path(text)
        except ConversionError as exc:
            raise self.cli_error(text, str(exc)) from None

    def cli_form(self) -> str:
        return "a local path"


class Converter(abc.ABC):
    """One link of the type engine's chain.

    ``handler`` returns ``None`` for annotations it does not know ("not mine"), a
    :class:`Handler` for those it does, or raises :class:`TypeTransformError` for a malformed
    annotation it owns (``list[int, str]``). A plugin subclasses this and is added with
    :func:`airfoil.types.add_converter` (the process's engine, everywhere) or
    :meth:`TypeEngine.with_converter` (one engine value).

    Attributes:
        formats: the :attr:`Value.format <airfoil.core.records.Value.format>` names this
            converter writes and can preview without the Python type (:meth:`preview`).
        fallback: a catch-all (``Any``, pickle): ``with_converter(c, first=False)`` puts
            ``c`` before the fallbacks.
    """

    formats: tuple[str, ...] = ()
    fallback: bool = False

    @abc.abstractmethod
    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        """A handler for ``py_type``, or ``None`` if it is not this converter's.

        Args:
            py_type: the annotation, as written (``list[int]``, ``pd.DataFrame``).
            engine: the engine, for the handlers of element types (``engine.handler(T)``).
        """

    def preview(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        """A JSON preview of a stored value in one of :attr:`formats`."""
        return {"format": value.format, "uri": value.uri, "size": value.size, **value.meta}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
