"""Values from plain JSON and a :class:`~airfoil.core.records.TypeSpec` alone: no user code.

The server receives launch inputs as JSON and must turn them into the same
:class:`~airfoil.core.records.Value` records (same bytes, same content hash, so the same cache
keys) that :meth:`TypeEngine.to_value` gives for the Python value, without importing the
user's module. It does so by *synthesising* a stand-in Python type from the spec (an ``Enum``
with the same member names, a dataclass or pydantic model with the same qualified name and
fields, ``list[...]``/``dict[...]``/unions of those) and running the real type engine on it.
Every encoding therefore stays defined in one place (the converters); this module only maps
JSON onto stand-in values.

JSON forms accepted (what a person or a generated form would type):

- scalars as JSON scalars; ``float`` also takes integers, and an infinity or NaN as
  ``{"$float": "inf" | "-inf" | "nan"}`` (JSON has no such number); ``bytes`` as base64 text;
- ``datetime`` / ``date`` as ISO 8601 text, ``timedelta`` as ISO 8601 text or seconds;
- enums by member name (or a member's text value, as the CLI takes it); dataclasses and
  pydantic models as objects of their fields;
- lists, sets and tuples as arrays, dicts as objects (non-text keys as their JSON text);
- unions: the first member, in the spec's order, the value fits.

Files, directories, dataframes, arrays, pickles and ``Any`` cannot be given as JSON: they are
refused with a :class:`~airfoil.core.errors.TypeTransformError` naming the input's type and
the fix (files, dataframes and arrays are uploaded; the others reach no server).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import threading
import typing
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value

if TYPE_CHECKING:
    from airfoil.types._base import ValueContext
    from airfoil.types._engine import TypeEngine

__all__ = ["converter_kind", "from_jsonable", "json_inputs_supported", "python_type_of"]

_SCALARS: dict[str, Any] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "bytes": bytes,
    "none": type(None),
    "datetime": dt.datetime,
    "date": dt.date,
    "timedelta": dt.timedelta,
}
#: A float JSON cannot hold, as the type engine writes it: ``{"$float": "inf"}``.
_FLOAT_WORDS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
_NOT_JSON = frozenset({"file", "directory", "dataframe", "ndarray", "pickle", "any"})
#: Of those, the kinds a client uploads (and names in a launch by reference).
_UPLOADED = frozenset({"file", "dataframe", "ndarray"})
_STRUCTURES = frozenset({"list", "set", "dict", "tuple", "union", "enum", "dataclass", "pydantic"})


def converter_kind(spec: TypeSpec) -> bool:
    """Whether ``spec`` is of a kind no built-in converter writes: a user's converter (added
    with :func:`~airfoil.types.add_converter`) owns it, and only that converter can read or
    write its values (the server takes them as references, never as JSON)."""
    return (
        spec.kind not in _SCALARS and spec.kind not in _NOT_JSON and (spec.kind not in _STRUCTURES)
    )


_types: dict[TypeSpec, Any] = {}
_lock = threading.RLock()


def json_inputs_supported(spec: TypeSpec) -> bool:
    """Whether values of ``spec`` can be given as JSON (no file, dataframe, pickle inside)."""
    if spec.kind in _NOT_JSON:
        return False
    return all(json_inputs_supported(a) for a in spec.args) and all(
        json_inputs_supported(t) for _, t in spec.fields
    )


def python_type_of(spec: TypeSpec) -> Any:
    """A Python annotation that the type engine maps to ``spec`` (synthesised, cached).

    Raises:
        TypeTransformError: the spec holds a kind that cannot come from JSON.
    """
    with _lock:
        found = _types.get(spec)
        if found is None:
            found = _types[spec] = _synthesise(spec)
        return found


def _split(name: str) -> tuple[str, str]:
    module, _, qual = name.rpartition(".")
    return (module or "airfoil_remote"), qual or name


def _synthesise(spec: TypeSpec) -> Any:
    kind = spec.kind
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind in _UPLOADED:
        raise TypeTransformError(
            f"values of type {spec} cannot be given as JSON: they are uploaded and named by "
            "reference (launch from Python, airfoil.client.Client, or the console's form)"
        )
    if kind in _NOT_JSON:
        # Not from Python either: the client sends no pickle, a server unpickles nothing
        fix = {
            "pickle": f", or add a converter for {spec.name} (airfoil.types.add_converter)",
            "any": ", or annotate it with a precise type",
        }.get(kind, "")
        pickled = kind in ("pickle", "any")
        raise TypeTransformError(
            f"values of type {spec} cannot be given as JSON, nor sent to a server at all"
            + (
                " (they are stored pickled, which a server neither builds nor reads)"
                if pickled
                else ""
            )
            + f": give the input a default{fix}"
            + (
                "; or run it locally (airfoil run FILE NAME; its --help shows how to write "
                "each input)"
                if pickled
                else ""
            )
        )
    if kind == "list":
        return list[python_type_of(spec.args[0])]  # type: ignore[misc]
    if kind == "set":
        elem = python_type_of(spec.args[0])
        return frozenset[elem] if spec.name == "frozenset" else set[elem]  # type: ignore[valid-type]
    if kind == "dict":
        return dict[python_type_of(spec.args[0]), python_type_of(spec.args[1])]  # type: ignore[misc]
    if kind == "tuple":
        members = tuple(python_type_of(a) for a in spec.args)
        if spec.variadic:
            return tuple[members[0], ...]  # type: ignore[valid-type]
        return tuple[members]  # type: ignore[valid-type]
    if kind == "union":
        return typing.Union[tuple(python_type_of(a) for a in spec.args)]  # noqa: UP007
    module, qual = _split(spec.name)
    if kind == "enum":
        factory: Any = enum.Enum
        made: Any = factory(qual.rsplit(".", 1)[-1], [(v, v) for v in spec.values])
    elif kind == "dataclass" and spec.optional:  # a TypedDict: some keys may be left out
        keys: Any = {
            n: typing.NotRequired[python_type_of(t)] if n in spec.optional else python_type_of(t)
            for n, t in spec.fields
        }
        typed_dict: Any = typing.TypedDict  # the functional form, its name not a literal
        made = typed_dict(qual.rsplit(".", 1)[-1], keys)
    elif kind == "dataclass":
        fields = [(n, python_type_of(t)) for n, t in spec.fields]
        made = dataclasses.make_dataclass(qual.rsplit(".", 1)[-1], fields, frozen=True)
    elif kind == "pydantic":
        import pydantic

        definitions: Any = {n: (python_type_of(t), ...) for n, t in spec.fields}
        made = pydantic.create_model(qual.rsplit(".", 1)[-1], __module__=module, **definitions)
    else:
        raise TypeTransformError(
            f"values of type {spec} (a kind its own converter writes) cannot be given as JSON: "
            "launch this input from Python (airfoil.client.Client, with the converter added) "
            "or give it a default"
        )
    made.__module__, made.__qualname__ = module, qual
    return made


def from_jsonable(data: Any, spec: TypeSpec, engine: TypeEngine, ctx: ValueContext) -> Value:
    """The :class:`Value` of JSON ``data`` for a value of type ``spec``.

    The result equals ``engine.to_value(obj, T, ctx)`` for the Python value ``obj`` the JSON
    describes and the user's annotation ``T`` (same bytes and hash).

    Args:
        data: decoded JSON (``None``, bool, int, float, str, list, dict).
        spec: the input's declared type.
        engine: a :class:`~airfoil.types.TypeEngine`.
        ctx: a :class:`~airfoil.types.ValueContext` (large values are offloaded through it).

    Raises:
        TypeTransformError: the data does not fit the type, naming where inside it.
    """
    tp = python_type_of(spec)
    obj = _convert(data, spec, tp, "value")
    engine.check_value(obj, tp)
    value: Value = engine.to_value(obj, tp, ctx)
    return value


def _fail(path: str, spec: TypeSpec, data: Any, hint: str = "") -> TypeTransformError:
    shown = msgspec.json.encode(data).decode()[:60] if _is_json(data) else repr(data)[:60]
    return TypeTransformError(
        f"{path}: expected {_describe(spec)}, got {shown}" + (f" ({hint})" if hint else "")
    )


def _is_json(data: Any) -> bool:
    try:
        msgspec.json.encode(data)
    except (TypeError, msgspec.EncodeError, UnicodeEncodeError):  # a lone surrogate: repr it
        return False
    return True


def _describe(spec: TypeSpec) -> str:
    if spec.kind == "enum":
        labels = [label for label in spec.labels if label]
        also = f", or a member's value: {', '.join(labels)}" if labels else ""
        return f"one of {', '.join(spec.values)}{also} ({spec})"
    if spec.kind == "datetime":
        return "an ISO 8601 datetime"
    if spec.kind == "date":
        return "an ISO 8601 date"
    if spec.kind == "timedelta":
        return "a duration (ISO 8601 text or seconds)"
    if spec.kind == "bytes":
        return "base64 text"
    return str(spec)


def _convert(data: Any, spec: TypeSpec, tp: Any, path: str) -> Any:
    kind = spec.kind
    if kind == "int":
        if type(data) is int:
            return data
        raise _fail(path, spec, data)
    if kind == "float":
        if type(data) in (int, float):
            return float(data)
        if isinstance(data, dict) and len(data) == 1 and data.get("$float") in _FLOAT_WORDS:
            return _FLOAT_WORDS[data["$float"]]  # JSON has no infinity nor NaN
        raise _fail(path, spec, data)
    if kind == "bool":
        if type(data) is bool:
            return data
        raise _fail(path, spec, data)
    if kind == "str":
        if type(data) is str:
            return data
        raise _fail(path, spec, data)
    if kind == "none":
        if data is None:
            return None
        raise _fail(path, spec, data)
    if kind == "bytes":
        if type(data) is str:
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                pass
        raise _fail(path, spec, data)
    if kind in ("datetime", "date", "timedelta"):
        return _temporal(data, spec, path)
    if kind == "enum":
        if type(data) is str and data in spec.values:
            return tp[data]
        if type(data) is str and data and data in spec.labels:  # a member's text value
            return tp[spec.values[spec.labels.index(data)]]
        raise _fail(path, spec, data)
    if kind in ("list", "set"):
        if type(data) is not list:
            raise _fail(path, spec, data, "a JSON array")
        elem, etp = spec.args[0], typing.get_args(tp)[0]
        items = [_convert(x, elem, etp, f"{path}[{i}]") for i, x in enumerate(data)]
        if kind == "list":
            return items
        try:
            return frozenset(items) if spec.name == "frozenset" else set(items)
        except TypeError:
            raise _fail(path, spec, data, "set elements must be hashable") from None
    if kind == "tuple":
        return _tuple(data, spec, tp, path)
    if kind == "dict":
        return _dict(data, spec, tp, path)
    if kind == "union":
        return _union(data, spec, tp, path)
    if kind in ("dataclass", "pydantic"):
        return _record(data, spec, tp, path)
    raise _fail(path, spec, data, "not accepted as JSON")


def _temporal(data: Any, spec: TypeSpec, path: str) -> Any:
    kind = spec.kind
    try:
        if kind == "timedelta" and type(data) in (int, float):
            return dt.timedelta(seconds=data)
        if type(data) is str:
            if kind == "datetime":
                return dt.datetime.fromisoformat(data)
            if kind == "date":
                return dt.date.fromisoformat(data)
            return msgspec.convert(data, dt.timedelta)
    except (ValueError, OverflowError, msgspec.ValidationError):
        pass
    raise _fail(path, spec, data)


def _tuple(data: Any, spec: TypeSpec, tp: Any, path: str) -> Any:
    if type(data) is not list:
        raise _fail(path, spec, data, "a JSON array")
    args = typing.get_args(tp)
    if spec.variadic:
        return tuple(_convert(x, spec.args[0], args[0], f"{path}[{i}]") for i, x in enumerate(data))
    if len(data) != len(spec.args):
        raise _fail(path, spec, data, f"{len(spec.args)} items")
    return tuple(
        _convert(x, s, t, f"{path}[{i}]")
        for i, (x, s, t) in enumerate(zip(data, spec.args, args, strict=True))
    )


def _dict(data: Any, spec: TypeSpec, tp: Any, path: str) -> Any:
    if type(data) is not dict:
        raise _fail(path, spec, data, "a JSON object")
    kspec, vspec = spec.args
    ktp, vtp = typing.get_args(tp)
    out: dict[Any, Any] = {}
    for k, v in data.items():
        key: Any = k
        if kspec.kind != "str":
            try:
                key = msgspec.json.decode(k)
            except (msgspec.DecodeError, UnicodeEncodeError):  # not JSON, not even UTF-8
                key = k  # enum names, ISO dates: plain text keys
            key = _convert(key, kspec, ktp, f"{path} key {k!r}")
        out[key] = _convert(v, vspec, vtp, f"{path}[{k!r}]")
    return out


def _union(data: Any, spec: TypeSpec, tp: Any, path: str) -> Any:
    members = typing.get_args(tp)
    if data is None and any(m.kind == "none" for m in spec.args):
        return None
    for mspec, mtp in zip(spec.args, members, strict=True):
        if mspec.kind == "none":
            continue
        try:
            return _convert(data, mspec, mtp, path)
        except TypeTransformError:
            continue
    raise _fail(path, spec, data)


def _record(data: Any, spec: TypeSpec, tp: Any, path: str) -> Any:
    if type(data) is not dict:
        raise _fail(path, spec, data, "a JSON object of its fields")
    names = [n for n, _ in spec.fields]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise TypeTransformError(
            f"{path}: unknown field(s) {', '.join(map(repr, unknown))} for {spec}: its fields "
            f"are {', '.join(names)}"
        )
    hints = typing.get_type_hints(tp) if spec.kind == "dataclass" else None
    kwargs: dict[str, Any] = {}
    for name, fspec in spec.fields:
        if name not in data:
            if name in spec.optional:  # a TypedDict's key it does not require
                continue
            raise TypeTransformError(
                f"{path}: missing field {name!r} of {spec} (over the API every field is given)"
            )
        ftp = hints[name] if hints is not None else tp.model_fields[name].annotation
        kwargs[name] = _convert(data[name], fspec, ftp, f"{path}.{name}")
    try:
        return tp(**kwargs)
    except Exception as exc:  # pydantic validation of the stand-in
        raise TypeTransformError(f"{path}: cannot build {spec}: {exc}") from None
