"""The last links of the chain: ``typing.Any`` and the pickle fallback (format ``pickle``).

``Any`` is an explicit choice, so it is pickled silently. Any other class no converter claims
is pickled too, with a :class:`~airfoil.types.PickleFallbackWarning` the first time each type
is seen by a converter instance (engines derived with ``with_converter`` share it).

A pickle's hash is the SHA-256 of the pickle bytes: equal objects built differently (a dict
filled in another order) may hash differently, so such values cache less well. A set's
elements are pickled in a fixed order (:func:`dumps`): the order a set iterates its strings
in changes with each process's hash seed, so before 2026-12-07 an ``Any`` input holding a set
of strings (or a pickled object with one) got another hash, hence cache key, in every process:
it never hit. The value's
meta keeps the object's type and a short ``repr`` so it can be previewed without unpickling
(and without the user's code).
"""

from __future__ import annotations

import pickle
import threading
import typing
import warnings
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    PickleFallbackWarning,
    ValueContext,
    decode_json_bytes,
    mismatch,
    read_bytes,
    short_repr,
    write_bytes_value,
)
from airfoil.types._pickle_text import text_reader
from airfoil.types._primitives import qualified_name

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["AnyConverter", "PickleConverter", "dumps"]

_NOT_PICKLED = (list, dict, tuple, set, frozenset)  # bare containers: GenericConverter says why


def dumps(obj: Any) -> bytes:
    """``obj`` pickled (protocol 5), the same bytes in every process: where it holds a set or
    a frozenset, whose iteration order follows the process's hash seed, it is pickled again
    with their elements in a fixed order (a slower, pure-Python pickler). A value without
    sets keeps the bytes it had; telling costs nothing when the pickle holds no set opcode's
    byte (most small values), else one more C pickling that looks at each object's type
    (~0.2 s a million objects, against ~1 s for reading the opcodes back)."""
    data = pickle.dumps(obj, protocol=5)
    if (b"\x8f" in data or b"\x91" in data) and _holds_a_set(obj):
        data = _ordered_dumps(obj)
    return data


class _SetSpotter(pickle.Pickler):
    """A C pickler that notes whether it met a set (its output is thrown away)."""

    met_a_set = False

    def persistent_id(self, obj: Any) -> None:
        if type(obj) in (set, frozenset):
            self.met_a_set = True


def _holds_a_set(obj: Any) -> bool:
    import io

    spotter = _SetSpotter(io.BytesIO(), protocol=5)
    spotter.dump(obj)
    return spotter.met_a_set


def _ordered_dumps(obj: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    _OrderedSetPickler(buffer, protocol=5).dump(obj)
    return buffer.getvalue()


_keying = threading.local()


def _ordered(items: Any) -> list[Any]:
    """A set's elements in a fixed order: by each one's own ordered pickle. A set met again
    while its own elements are pickled for their order (an element that reaches the set,
    as a graph's node reaches its peers) keeps its iteration order there: no fixed order
    exists for a cycle, and the walk must end."""
    if len(items) < 2:
        return list(items)
    kinds = {type(item) for item in items}
    if len(kinds) == 1 and kinds <= {str, bytes, int}:  # a total order of their own: faster
        return sorted(items)
    active: set[int] = _keying.__dict__.setdefault("active", set())
    if id(items) in active:
        return list(items)
    active.add(id(items))
    try:
        return sorted(items, key=_ordered_dumps)
    finally:
        active.discard(id(items))


#: The standard library's pure-Python pickler (the C one calls no Python code for a set).
_PyPickler: Any = getattr(pickle, "_Pickler")  # noqa: B009 (not in the type stubs)


class _OrderedSetPickler(_PyPickler):  # type: ignore[misc]
    """The pure-Python pickler, whose ``save_set``/``save_frozenset`` (as in CPython 3.11,
    protocol 4 and up) write the elements in :func:`_ordered` order."""

    dispatch: dict[type, Any] = dict(_PyPickler.dispatch)

    def save_set(self, obj: Any) -> None:
        self.write(pickle.EMPTY_SET)
        self.memoize(obj)
        items = _ordered(obj)
        for start in range(0, len(items), self._BATCHSIZE):
            self.write(pickle.MARK)
            for item in items[start : start + self._BATCHSIZE]:
                self.save(item)
            self.write(pickle.ADDITEMS)

    def save_frozenset(self, obj: Any) -> None:
        self.write(pickle.MARK)
        for item in _ordered(obj):
            self.save(item)
        if id(obj) in self.memo:  # recursive: drop what was stacked, fetch it from the memo
            self.write(pickle.POP_MARK + self.get(self.memo[id(obj)][0]))
            return
        self.write(pickle.FROZENSET)
        self.memoize(obj)

    dispatch[set] = save_set
    dispatch[frozenset] = save_frozenset


class PickleHandler(BlobHandler):
    """Values of one class (or of ``Any`` when ``tp`` is None) as pickles."""

    def __init__(self, tp: type | None, engine: TypeEngine | None = None) -> None:
        if tp is None:
            super().__init__(TypeSpec("any"))
        else:
            super().__init__(TypeSpec("pickle", name=qualified_name(tp)))
            self.classes = (tp,)
        self.tp = tp
        #: how a person writes one (time, Decimal, UUID, paths, NamedTuple), else None
        self.reader = None if tp is None or engine is None else text_reader(tp, engine)

    def check(self, obj: Any) -> None:
        if self.tp is not None and not isinstance(obj, self.tp):
            raise mismatch(self.spec.name, obj)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:

        self.check(obj)
        try:
            data = dumps(obj)
        except Exception as exc:  # pickling runs arbitrary __reduce__ code
            raise ConversionError(
                f"cannot pickle {type(obj).__qualname__} {short_repr(obj)}: {exc}"
            ) from None
        meta = {"type": qualified_name(type(obj)), "repr": short_repr(obj, 200)}
        return write_bytes_value(data, "pickle", ctx, meta)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if ctx is None:  # JSON typed on the command line (``--params '{"lr": 0.1}'``)
            if self.tp is None:
                return data  # ``Any`` inside a list, dict or dataclass: the JSON value
            if self.reader is not None:  # ``--at '["12:30", "18:00"]'`` for ``list[time]``
                return self.reader.read(data)
            raise ConversionError(
                f"a {self.spec.name} is pickled, and pickled types cannot be given on the "
                "command line"
            )
        return super().decode(data, ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        import pickle

        if value.format != "pickle":
            raise self.wrong_format(value)
        try:
            return pickle.loads(read_bytes(value, ctx))
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
            raise TypeTransformError(
                f"cannot unpickle a {value.meta.get('type', 'value')}: {exc}"
            ) from None

    def parse_cli(self, text: str) -> Any:
        if self.reader is not None:
            if self.reader.json_text:  # a NamedTuple: JSON, read as inside a list
                return Handler.parse_cli(self, text)
            try:
                return self.reader.read(text)
            except ConversionError as exc:
                raise self.cli_error(text, str(exc)) from None
        if self.tp is not None:
            raise self.cli_error(text)
        try:  # Any: JSON if it parses, else the text itself
            return decode_json_bytes(text.encode())
        except (TypeTransformError, UnicodeEncodeError, RecursionError):  # kept as the text
            return text

    def cli_form(self) -> str:
        if self.tp is None:
            return "JSON or text"
        if self.reader is not None:
            return self.reader.form
        return "nothing: pickled types cannot be given on the command line"


class AnyConverter(Converter):
    """``typing.Any``: pickled, without a warning."""

    formats = ("pickle",)
    fallback = True

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if py_type is typing.Any:
            return PickleHandler(None)
        return None

    def preview(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        return {
            "format": "pickle",
            "type": value.meta.get("type", spec.name),
            "repr": value.meta.get("repr", ""),
            "uri": value.uri,
            "size": value.size,
        }


class PickleConverter(Converter):
    """Any other class: pickled, with a :class:`PickleFallbackWarning` once per type."""

    formats = ("pickle",)
    fallback = True

    def __init__(self) -> None:
        self._warned: set[type] = set()

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if not isinstance(py_type, type) or py_type in _NOT_PICKLED:
            return None
        if py_type not in self._warned:
            self._warned.add(py_type)
            warnings.warn(
                PickleFallbackWarning(
                    f"no converter for {qualified_name(py_type)}: its values are stored with "
                    "pickle (opaque, Python-only, hash depends on internal order); use a "
                    "dataclass, or add a converter with airfoil.types.add_converter (it reaches "
                    "tasks, workers, the server and the client: see docs/engine.md)"
                ),
                stacklevel=5,
            )
        return PickleHandler(py_type, engine)

    preview = AnyConverter.preview
