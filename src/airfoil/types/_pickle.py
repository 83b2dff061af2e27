"""The last links of the chain: ``typing.Any`` and the pickle fallback (format ``pickle``).

``Any`` is an explicit choice, so it is pickled silently. Any other class no converter claims
is pickled too, with a :class:`~airfoil.types.PickleFallbackWarning` the first time each type
is seen by a converter instance (engines derived with ``with_converter`` share it).

A pickle's hash is the SHA-256 of the pickle bytes: equal objects built differently (a dict
filled in another order) may hash differently, so such values cache less well. The value's
meta keeps the object's type and a short ``repr`` so it can be previewed without unpickling
(and without the user's code).
"""

from __future__ import annotations

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

__all__ = ["AnyConverter", "PickleConverter"]

_NOT_PICKLED = (list, dict, tuple, set, frozenset)  # bare containers: GenericConverter says why


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
        import pickle

        self.check(obj)
        try:
            data = pickle.dumps(obj, protocol=5)
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
