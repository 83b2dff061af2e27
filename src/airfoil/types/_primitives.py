"""Scalars: int, float, bool, str, bytes, None, datetime, date, timedelta, and Enum.

Conversions are strict, as in pydantic's strict mode: a value must have exactly the declared
type (``True`` is not an ``int``, ``1.0`` is not an ``int``, ``"1"`` is not an ``int``). The one
widening is ``int`` -> ``float``, and only when the float holds the int exactly.

Scalars are the hot path (every task has some), so each handler has a direct ``to_value`` /
``to_python`` that skips the generic JSON layer: a small int costs one msgspec encode, one
SHA-256 and one record.

Encodings (JSON): floats that JSON cannot hold are ``{"$float": "nan" | "inf" | "-inf"}``;
bytes are base64; datetimes are ISO 8601, with ``[Area/City]`` appended for a
:class:`zoneinfo.ZoneInfo` so the zone itself survives the trip; timedeltas are ISO 8601
durations; enum members are stored by name (``Flag`` enums by value).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import math
import os
import re
import sys
import typing
from hashlib import sha256
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    decode_json_bytes,
    mismatch,
    read_bytes,
    short_repr,
    write_bytes_value,
)
from airfoil.types._json_text import FLOAT_SPECIAL_FORM

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = [
    "EnumConverter",
    "LiteralConverter",
    "ScalarConverter",
    "importable_module",
    "qualified_name",
]

_encode = msgspec.json.Encoder().encode
_FLOAT_SPECIALS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def importable_module(module: str) -> str:
    """The name a module is imported by: a script run as ``__main__`` (``python flow.py``)
    gets its file's stem, as ``airfoil run flow.py`` and worker processes import it."""
    if module == "__main__":
        file = getattr(sys.modules.get("__main__"), "__file__", None)
        if file:
            return str(os.path.splitext(os.path.basename(file))[0])
    return module


def qualified_name(tp: Any) -> str:
    """``module.QualName`` of a class, its module as :func:`importable_module` names it: a
    type's name enters the interface, hence cache keys, which ``python flow.py`` and
    ``airfoil run flow.py`` share (before 2026-12-07 a dataclass or enum input named
    ``__main__.Cfg`` in one and ``flow.Cfg`` in the other: every entry missed in turn)."""
    module = importable_module(str(getattr(tp, "__module__", "?")))
    return f"{module}.{getattr(tp, '__qualname__', repr(tp))}"


class _Scalar(Handler):
    """A scalar stored as one JSON token, read back with a typed msgspec decoder.

    ``_decoder`` reads the common case straight to the final value (``_typed``) or to the
    JSON data that :meth:`decode` finishes; anything else takes the generic path, which also
    produces the error message.
    """

    _decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(str)
    _typed = True

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        data = _encode(self.encode(obj, ctx))
        if len(data) > ctx.offload_threshold:
            return write_bytes_value(data, "json", ctx)
        return Value(hash=sha256(data).hexdigest(), format="json", inline=data, size=len(data))

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "json":
            raise self.wrong_format(value)
        raw = value.inline if value.inline is not None else read_bytes(value, ctx)
        try:
            data = self._decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return self.decode(decode_json_bytes(raw), ctx)
        return data if self._typed else self.decode(data, ctx)


class IntHandler(_Scalar):
    shape = frozenset({"int"})
    classes = (int,)
    fast_type = int
    _decoder = msgspec.json.Decoder(int)
    native = int

    def __init__(self) -> None:
        super().__init__(TypeSpec("int"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is int:
            return obj
        if type(obj) is bool:
            raise mismatch("int", obj, "bool is not accepted for int")
        if isinstance(obj, float):
            raise mismatch("int", obj, "a float is not converted to int (it could lose data)")
        raise mismatch("int", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is int:
            return data
        return self.encode(data, ctx)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        if type(obj) is not int:
            self.encode(obj, ctx)
        data = _encode(obj)
        return Value(hash=sha256(data).hexdigest(), format="json", inline=data, size=len(data))

    def cli_form(self) -> str:
        return "an integer such as 42"

    def parse_cli(self, text: str) -> Any:
        try:
            return int(text.strip(), 10)
        except ValueError:
            raise self.cli_error(text) from None


class FloatHandler(_Scalar):
    shape = frozenset({"float", "object"})
    classes = (float,)
    _decoder = msgspec.json.Decoder(float)

    def __init__(self) -> None:
        super().__init__(TypeSpec("float"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is float:
            if math.isfinite(obj):
                return obj
            return {"$float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
        if type(obj) is int:
            as_float = float(obj) if abs(obj) < 2**1024 else math.inf
            if as_float != obj:
                raise mismatch("float", obj, "this int cannot be held exactly by a float")
            return as_float
        if type(obj) is bool:
            raise mismatch("float", obj, "bool is not accepted for float")
        raise mismatch("float", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is float:
            return data
        if type(data) is int:
            return self.encode(data, ctx)
        if isinstance(data, dict) and data.get("$float") in _FLOAT_SPECIALS and len(data) == 1:
            return _FLOAT_SPECIALS[data["$float"]]
        if type(data) is str and data.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise mismatch("float", data, f"inside JSON write {FLOAT_SPECIAL_FORM}")
        raise mismatch("float", data)

    def cli_form(self) -> str:
        return "a number such as 0.5"

    def parse_cli(self, text: str) -> Any:
        try:
            value = float(text.strip())
        except ValueError:
            raise self.cli_error(text) from None
        if math.isinf(value) and text.strip().lstrip("+-").lower() not in ("inf", "infinity"):
            # 1e400: a number too large for a float, not a request for infinity
            raise self.cli_error(
                text,
                "too large for a float, whose largest is about 1.8e308; write inf for infinity",
            )
        return value


class BoolHandler(_Scalar):
    shape = frozenset({"bool"})
    classes = (bool,)
    fast_type = bool
    _decoder = msgspec.json.Decoder(bool)
    _WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
    native = bool

    def __init__(self) -> None:
        super().__init__(TypeSpec("bool"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is bool:
            return obj
        if type(obj) is int:
            raise mismatch("bool", obj, "int is not accepted for bool")
        raise mismatch("bool", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return self.encode(data, ctx)

    def cli_form(self) -> str:
        return "true or false"

    def parse_cli(self, text: str) -> Any:
        word = text.strip().lower()
        if word in self._WORDS:
            return self._WORDS[word]
        raise self.cli_error(text)


class StrHandler(_Scalar):
    shape = frozenset({"str"})
    classes = (str,)
    fast_type = str
    _decoder = msgspec.json.Decoder(str)
    native = str

    def __init__(self) -> None:
        super().__init__(TypeSpec("str"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is str:
            return obj
        raise mismatch("str", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return self.encode(data, ctx)

    def cli_form(self) -> str:
        return "any text"

    def parse_cli(self, text: str) -> Any:
        return text


class NoneHandler(_Scalar):
    shape = frozenset({"null"})
    classes = (type(None),)
    _decoder = msgspec.json.Decoder(None)
    native = type(None)

    def __init__(self) -> None:
        super().__init__(TypeSpec("none"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if obj is None:
            return None
        raise mismatch("None", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return self.encode(data, ctx)

    def cli_form(self) -> str:
        return "null"

    def parse_cli(self, text: str) -> Any:
        if text.strip().lower() in ("null", "none", ""):
            return None
        raise self.cli_error(text)


class BytesHandler(Handler):
    """Bytes: base64 inside JSON; a top-level value stores the raw bytes (format ``bytes``)."""

    shape = frozenset({"str"})
    classes = (bytes,)

    def __init__(self) -> None:
        super().__init__(TypeSpec("bytes"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is bytes:
            return binascii.b2a_base64(obj, newline=False).decode("ascii")
        raise mismatch("bytes", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is str:
            try:
                return base64.b64decode(data, validate=True)
            except binascii.Error:
                raise ConversionError(f"expected base64 bytes, got {short_repr(data)}") from None
        raise mismatch("base64 bytes", data)

    def to_value(self, obj: Any, ctx: ValueContext) -> Value:
        if type(obj) is not bytes:
            raise mismatch("bytes", obj)
        return write_bytes_value(obj, "bytes", ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format == "bytes":
            return read_bytes(value, ctx)
        return super().to_python(value, ctx)

    def cli_form(self) -> str:
        return "text (stored as UTF-8 bytes)"

    def parse_cli(self, text: str) -> Any:
        # An argument that is not UTF-8 reaches Python with its bytes as lone surrogates
        # (PEP 383): give the task the bytes that were typed, not a UnicodeEncodeError.
        return text.encode("utf-8", "surrogateescape")


def _iso_error(kind: str, data: Any) -> ConversionError:
    return ConversionError(f"expected an ISO 8601 {kind}, got {short_repr(data)}")


def _in_zone(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The stored wall time in its zone, as it was written: the same wall clock and fold.

    Converting the instant (``astimezone``) would move a wall time the zone skips (a DST gap,
    such as 02:00 on a spring-forward day) to the hour after; the wall time with the fold whose
    offset is the one stored gives back the very value encoded. Data written by hand with an
    offset the zone never has at that wall time keeps its instant instead.
    """
    wall = value.replace(tzinfo=None)
    for fold in (0, 1):
        candidate = wall.replace(tzinfo=tz, fold=fold)
        if candidate.utcoffset() == value.utcoffset():
            return candidate
    return value.astimezone(tz)


class DatetimeHandler(_Scalar):
    shape = frozenset({"str"})
    classes = (dt.datetime,)
    _typed = False

    def __init__(self) -> None:
        super().__init__(TypeSpec("datetime"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is not dt.datetime:
            raise mismatch("datetime", obj)
        text = obj.isoformat()
        tz = obj.tzinfo
        if tz is not None and type(tz).__name__ == "ZoneInfo":
            key = getattr(tz, "key", None)
            if isinstance(key, str):
                text = f"{text}[{key}]"
        return text

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not str:
            raise _iso_error("datetime", data)
        text, zone = data, ""
        if text.endswith("]"):
            text, _, zone = text[:-1].partition("[")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _iso_error("datetime", data) from None
        if zone:
            import zoneinfo

            try:
                tz = zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ConversionError(f"unknown time zone {zone!r} in {data!r}") from None
            return _in_zone(value, tz)
        return value

    def cli_form(self) -> str:
        return "an ISO 8601 datetime such as 2024-01-31T12:00:00+00:00"

    def parse_cli(self, text: str) -> Any:
        try:
            return self.decode(text.strip(), None)
        except ConversionError:
            raise self.cli_error(text) from None


class DateHandler(_Scalar):
    shape = frozenset({"str"})
    classes = (dt.date,)
    _typed = False

    def __init__(self) -> None:
        super().__init__(TypeSpec("date"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is dt.date:
            return obj.isoformat()
        hint = "a datetime is not converted to date" if type(obj) is dt.datetime else ""
        raise mismatch("date", obj, hint)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is str and len(data) == 10:
            try:
                return dt.date.fromisoformat(data)
            except ValueError:
                pass
        raise _iso_error("date (YYYY-MM-DD)", data)

    def cli_form(self) -> str:
        return "an ISO 8601 date such as 2024-01-31"

    def parse_cli(self, text: str) -> Any:
        try:
            return self.decode(text.strip(), None)
        except ConversionError:
            raise self.cli_error(text) from None


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ms|us|w|d|h|m|s)")
_DURATION_UNITS = {
    "w": "weeks",
    "d": "days",
    "h": "hours",
    "m": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
}


def _parse_duration(text: str) -> dt.timedelta | None:
    """``90`` (seconds), ``1h30m``, ``-2d``, ``01:30:00`` or ISO ``P1DT2H``; None if none."""
    text = text.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    try:
        return dt.timedelta(seconds=sign * float(body))
    except ValueError:
        pass
    if body.startswith("P"):
        try:
            return msgspec.convert(text, dt.timedelta)
        except msgspec.ValidationError:
            return None
    if re.fullmatch(r"\d+:\d{2}(:\d{2}(\.\d+)?)?", body):
        parts = [float(p) for p in body.split(":")]
        seconds = parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) == 3 else 0)
        return dt.timedelta(seconds=sign * seconds)
    pos, total = 0, dt.timedelta()
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            return None
        total += dt.timedelta(**{_DURATION_UNITS[match.group(2)]: float(match.group(1))})
        pos = match.end()
    if pos != len(body) or pos == 0:
        return None
    return sign * total


class TimedeltaHandler(_Scalar):
    shape = frozenset({"str"})
    classes = (dt.timedelta,)
    _decoder = msgspec.json.Decoder(dt.timedelta)

    def __init__(self) -> None:
        super().__init__(TypeSpec("timedelta"))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if type(obj) is dt.timedelta:
            return _encode(obj)[1:-1].decode("ascii")
        raise mismatch("timedelta", obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is str:
            try:
                return msgspec.convert(data, dt.timedelta)
            except msgspec.ValidationError:
                pass
        raise ConversionError(f"expected an ISO 8601 duration, got {short_repr(data)}")

    def cli_form(self) -> str:
        return "a duration such as 90 (seconds), 1h30m, 2d, 01:30:00 or P1DT2H"

    def parse_cli(self, text: str) -> Any:
        try:
            value = _parse_duration(text)
        except OverflowError:  # past timedelta's range, or infinite
            raise self.cli_error(
                text,
                f"beyond the longest duration a timedelta holds, {dt.timedelta.max.days} days "
                "(about 2.7 million years)",
            ) from None
        if value is None:
            raise self.cli_error(text)
        return value


class EnumHandler(Handler):
    """Enum members by name. A member's name (a ``str``), or its text value, is accepted
    where a member is; values are stored by name."""

    shape = frozenset({"str"})

    def __init__(self, tp: type[enum.Enum]) -> None:
        members = [member for member in tp if member.name is not None]
        names = tuple(str(member.name) for member in members)
        labels = tuple(m.value if isinstance(m.value, str) else "" for m in members)
        if all(label in ("", name) for label, name in zip(labels, names, strict=True)):
            labels = ()  # nothing a name does not already say: the spec stays as it was
        super().__init__(TypeSpec("enum", name=qualified_name(tp), values=names, labels=labels))
        self.tp = tp
        self.classes = (tp,)
        self._by_value = issubclass(tp, enum.Flag)  # combined flags have no single name
        if self._by_value:
            self.shape = frozenset({"int"})
        self._expected = f"one of {', '.join(names)}"

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if isinstance(obj, self.tp):
            return obj.value if self._by_value else obj.name
        if type(obj) is str:
            return self._member(obj).name
        raise mismatch(f"{self.spec} ({self._expected})", obj)

    def _member(self, name: str) -> enum.Enum:
        """The member named ``name`` or, failing that, whose value is ``name`` (flytekit's
        enums are given by value: ``"latte"`` for ``Coffee.LATTE = "latte"``)."""
        found = self.tp.__members__.get(name)
        if found is not None:
            return found
        for member in self.tp:
            if isinstance(member.value, str) and member.value == name:
                return member
        raise ConversionError(
            f"{name!r} is not a member of {self.spec}: expected {self._expected} "
            "(or a member's text value)"
        )

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if self._by_value and type(data) is int:
            try:
                return self.tp(data)
            except ValueError:
                raise ConversionError(f"{data} is not a value of {self.spec}") from None
        if type(data) is str:
            return self._member(data)
        raise mismatch(f"{self.spec} ({self._expected})", data)

    def cli_form(self) -> str:
        names = ", ".join(m.name for m in self.tp)
        values = ", ".join(str(m.value) for m in self.tp)
        return f"a member's name ({names}) or value ({values})"

    def parse_cli(self, text: str) -> Any:
        """A member by name (``RED``), by text value (``red``) as JSON and Python give it,
        or, failing both, by the text of a value that is not text (``3``): ``"1"`` is the
        member ``TWO = "1"`` before ``ONE = 1``, as a server launch reads it."""
        text = text.strip()
        try:
            return self._member(text)
        except ConversionError:
            pass
        for member in self.tp:
            if str(member.value) == text:
                return member
        raise self.cli_error(text, "neither a member's name nor its value")


class ScalarConverter(Converter):
    """int, float, bool, str, bytes, None, datetime, date, timedelta."""

    def __init__(self) -> None:
        none = NoneHandler()
        self._table: dict[Any, Handler] = {
            int: IntHandler(),
            float: FloatHandler(),
            bool: BoolHandler(),
            str: StrHandler(),
            bytes: BytesHandler(),
            None: none,
            type(None): none,
            dt.datetime: DatetimeHandler(),
            dt.date: DateHandler(),
            dt.timedelta: TimedeltaHandler(),
        }

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        try:
            return self._table.get(py_type)
        except TypeError:  # unhashable annotation: not a scalar
            return None


class EnumConverter(Converter):
    """Subclasses of :class:`enum.Enum`."""

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if isinstance(py_type, type) and issubclass(py_type, enum.Enum):
            return EnumHandler(py_type)
        return None


class LiteralHandler(Handler):
    """``typing.Literal["low", "high"]`` (or of ints, or of bools): the values' own type,
    stored as that type is, and a value outside the listed ones refused both ways."""

    def __init__(self, inner: Handler, allowed: tuple[Any, ...]) -> None:
        super().__init__(inner.spec)
        self.inner = inner
        self.allowed = allowed
        self.shape = inner.shape
        self.classes = inner.classes
        self._expected = "one of " + ", ".join(repr(a) for a in allowed)

    def _checked(self, obj: Any) -> Any:
        if obj not in self.allowed or type(obj) is not type(self.allowed[0]):
            raise ConversionError(f"{obj!r} is not allowed here: expected {self._expected}")
        return obj

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        return self.inner.encode(self._checked(obj), ctx)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return self._checked(self.inner.decode(data, ctx))

    def check(self, obj: Any) -> None:
        self._checked(obj)

    def cli_form(self) -> str:
        return self._expected

    def parse_cli(self, text: str) -> Any:
        value = self.inner.parse_cli(text)
        if value not in self.allowed:
            raise self.cli_error(text, self._expected)
        return value


class LiteralConverter(Converter):
    """``typing.Literal[...]`` of values of one type: str, int or bool."""

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if typing.get_origin(py_type) is not typing.Literal:
            return None
        allowed = typing.get_args(py_type)
        kinds = {type(a) for a in allowed}
        if len(kinds) != 1 or next(iter(kinds)) not in (str, int, bool):
            raise ConversionError(
                f"{py_type!r}: a Literal's values must all be str, all int or all bool "
                "(use an Enum for anything else)"
            )
        return LiteralHandler(engine.handler(next(iter(kinds))), allowed)
