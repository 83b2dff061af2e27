"""How values of the common pickled types are written on the command line.

``datetime.time``, ``decimal.Decimal``, ``uuid.UUID``, ``pathlib`` paths and
``typing.NamedTuple`` classes have no converter of their own: their values are stored as
pickles (:mod:`airfoil.types._pickle`), the format a local run and a cache key keep. They can
still be *typed*: :func:`text_reader` gives the reader that builds one from what a person
writes, as ``airfoil run FILE NAME --x ...`` and JSON given there (``--xs '["12:30"]'``) use
it. The value is then pickled as any other, so a run launched with ``--at 12:30`` stores what
one launched from Python with ``dt.time(12, 30)`` stores.

Forms (each a text on the command line, a JSON string inside JSON):

- ``time``: ISO 8601, ``14:30``, ``14:30:05.250``, ``14:30+01:00``;
- ``Decimal``: a decimal number, kept exactly as written (``12.50``, ``-1e-3``, ``NaN``); inside
  JSON an integer too, but not a JSON float, which has already lost the digits;
- ``UUID``: its 32 hex digits, with or without hyphens, braces or ``urn:uuid:``;
- paths: the path as written (not read, not made absolute); not empty;
- a ``NamedTuple``: a JSON object of its fields or an array of them in order, each field
  written as its own type is in JSON; fields with defaults may be left out.

Readers raise :class:`~airfoil.types._base.ConversionError` naming what was expected.
"""

from __future__ import annotations

import datetime as dt
import decimal
import pathlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airfoil.types._base import ConversionError, mismatch
from airfoil.types._structs import DataclassHandler, Field, constant

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["TextReader", "text_reader"]


class TextReader:
    """Builds values of one pickled type from command-line data.

    Attributes:
        form: how a value is written (for ``--help`` and errors).
        json_text: whether the command line gives a JSON text (a ``NamedTuple``) rather
            than the plain text (the scalars).
    """

    def __init__(self, form: str, read: Callable[[Any], Any], *, json_text: bool = False) -> None:
        self.form = form
        self.read = read
        self.json_text = json_text


def _text(data: Any, what: str) -> str:
    if not isinstance(data, str):
        raise mismatch(f"{what} written as text", data)
    return data


def _time(data: Any) -> dt.time:
    text = _text(data, "an ISO 8601 time")
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ConversionError(f"{text!r} is not an ISO 8601 time (e.g. 14:30)") from None


def _decimal(data: Any) -> decimal.Decimal:
    if isinstance(data, int) and not isinstance(data, bool):  # exact inside JSON
        return decimal.Decimal(data)
    if isinstance(data, float):
        raise ConversionError(
            f"the JSON number {data!r} has lost a Decimal's exact digits: write it as a JSON "
            'string, e.g. "0.10"'
        )
    text = _text(data, "a decimal number")
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ConversionError(f"{text!r} is not a decimal number (e.g. 12.50)") from None


def _uuid(data: Any) -> uuid.UUID:
    text = _text(data, "a UUID")
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ConversionError(f"{text!r} is not a UUID (32 hex digits)") from None


def _path(tp: type[pathlib.PurePath]) -> Callable[[Any], Any]:
    def read(data: Any) -> pathlib.PurePath:
        text = _text(data, "a path")
        if not text:  # Path("") is ".": a forgotten value would name the working directory
            raise ConversionError("an empty path (write . for the working directory)")
        return tp(text)

    return read


class _NamedTupleFields(DataclassHandler):
    """A ``NamedTuple``'s fields, read from a JSON object as a dataclass's are (its values
    are pickled: this handler only decodes what a person writes)."""

    _noun = "NamedTuple"

    def _resolve_fields(self) -> tuple[Field, ...]:
        # resolved at first use (``fields``): a field may name a later class
        hints = self._hints()
        defaults: dict[str, Any] = self.tp._field_defaults  # type: ignore[attr-defined]
        return tuple(
            Field(
                name,
                self._field_handler(name, hints.get(name, Any)),
                True,
                constant(defaults[name]) if name in defaults else None,
            )
            for name in self.tp._fields  # type: ignore[attr-defined]
        )


class _NamedTupleReader:
    """A ``NamedTuple`` from a JSON object of its fields or an array of them in order."""

    def __init__(self, tp: type[tuple[Any, ...]], engine: TypeEngine) -> None:
        self.tp = tp
        self.names: tuple[str, ...] = tp._fields  # type: ignore[attr-defined]
        self.required = len(self.names) - len(tp._field_defaults)  # type: ignore[attr-defined]
        self.fields = _NamedTupleFields(tp, engine)

    def __call__(self, data: Any) -> Any:
        names = self.names
        if isinstance(data, list):
            if not self.required <= len(data) <= len(names):
                raise ConversionError(
                    f"{self.tp.__qualname__} has {len(names)} fields ({', '.join(names)}), "
                    f"got an array of {len(data)}"
                )
            data = dict(zip(names, data, strict=False))
        if not isinstance(data, dict):
            raise mismatch(
                f"a JSON object of the fields of {self.tp.__qualname__} (or an array of them)",
                data,
            )
        return self.fields.decode(data, None)


def text_reader(tp: type, engine: TypeEngine) -> TextReader | None:
    """The reader of values of the pickled type ``tp`` typed on the command line (None: the
    type has no written form)."""
    if issubclass(tp, dt.time):
        return TextReader("an ISO 8601 time, e.g. 14:30 or 14:30:05+01:00", _time)
    if issubclass(tp, decimal.Decimal):
        return TextReader("a decimal number, e.g. 12.50 (kept exactly)", _decimal)
    if issubclass(tp, uuid.UUID):
        return TextReader("a UUID, e.g. 12345678-1234-5678-1234-567812345678", _uuid)
    if issubclass(tp, pathlib.PurePath):
        return TextReader("a path, e.g. data/in.csv (kept as written)", _path(tp))
    names = getattr(tp, "_fields", None)
    if issubclass(tp, tuple) and isinstance(names, tuple):
        fields = ", ".join(names)
        form = f"a JSON object of its fields ({fields}), or an array of them in order"
        return TextReader(form, _NamedTupleReader(tp, engine), json_text=True)
    return None
