"""Records: dataclasses (nested, recursive, frozen), TypedDicts and pydantic models.

A dataclass is stored as a JSON object of its fields, each through the field type's own
handler, so fields may be any type the chain knows (dates, enums, files, dataframes...).
Field handlers are resolved on first use, which lets a dataclass refer to itself
(``children: list[Node]``); its spec then names the inner occurrence without fields.

Where a dataclass or model instance is expected, a mapping of its fields is accepted too (the
form launch inputs arrive in); it is validated strictly: every field without a default must be
present and no unknown key may be.

Pydantic models use pydantic's own JSON mode (``model_dump(mode="json")`` and
``model_validate``), by field name (``by_name=True`` reads what the dump wrote, and takes a
field's alias too); a model holding nan or ±inf is refused, which that mode would write as
null. pydantic is never imported here: a class is a model only if pydantic is
already loaded and the class derives from ``pydantic.BaseModel``.
"""

from __future__ import annotations

import math
import sys
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    mismatch,
    read_bytes,
)
from airfoil.types._primitives import qualified_name

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = [
    "DataclassConverter",
    "DataclassHandler",
    "Field",
    "PydanticConverter",
    "TypedDictHandler",
    "constant",
]


class Field(NamedTuple):
    """One field of a record, with its handler."""

    name: str
    handler: Handler
    init: bool
    default: Callable[[], Any] | None  # None: required


class _RecordHandler(Handler):
    """Shared by dataclasses and models: lazy spec with a guard for recursive types."""

    kind = "dataclass"
    shape = frozenset({"object"})

    def __init__(self, tp: type, engine: TypeEngine) -> None:
        super().__init__(TypeSpec(self.kind, name=qualified_name(tp)))
        self.tp = tp
        self.classes = (tp,)
        self._engine = engine
        self._building = False

    def _field_specs(self) -> tuple[tuple[str, TypeSpec], ...]:
        raise NotImplementedError

    @property
    def spec(self) -> TypeSpec:
        if self._building:  # a recursive reference: name only
            return self._spec
        self._building = True
        try:
            return TypeSpec(self.kind, name=self._spec.name, fields=self._field_specs())
        finally:
            self._building = False


class DataclassHandler(_RecordHandler):
    kind = "dataclass"
    #: What the record and its parts are called in messages.
    _noun, _part = "dataclass", "field"

    def __init__(self, tp: type, engine: TypeEngine, args: tuple[Any, ...] = ()) -> None:
        super().__init__(tp, engine)
        self._fields: tuple[Field, ...] | None = None
        self._names: frozenset[str] = frozenset()
        self._label = tp.__qualname__
        # A generic dataclass's type arguments (Box[int]: T -> int), put into its fields' hints.
        self._bound = dict(zip(getattr(tp, "__parameters__", ()), args, strict=False))
        if args:
            self._label += f"[{', '.join(_type_label(a) for a in args)}]"

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields, with their handlers (resolved on first use)."""
        if self._fields is None:
            self._fields = self._resolve_fields()
            self._names = frozenset(f.name for f in self._fields)
        return self._fields

    def _hints(self) -> dict[str, Any]:
        """The class's annotations, resolved (``Annotated`` and ``NotRequired`` kept)."""
        try:
            hints = typing.get_type_hints(self.tp, include_extras=True)
        except Exception as exc:
            raise TypeTransformError(
                f"cannot resolve the {self._part} annotations of {self._noun} {self._label}: {exc}"
            ) from None
        if self._bound:
            hints = {name: _bind(hint, self._bound) for name, hint in hints.items()}
        return hints

    def _resolve_fields(self) -> tuple[Field, ...]:
        import dataclasses

        hints = self._hints()
        out = []
        for f in dataclasses.fields(self.tp):
            handler = self._field_handler(f.name, hints.get(f.name, f.type))
            default: Callable[[], Any] | None = None
            if f.default is not dataclasses.MISSING:
                default = constant(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory
            out.append(Field(f.name, handler, f.init, default))
        return tuple(out)

    def _field_handler(self, name: str, hint: Any) -> Handler:
        try:
            return self._engine.handler(hint)
        except TypeTransformError as exc:
            raise TypeTransformError(f"{self._part} {self._label}.{name}: {exc}") from None

    def _field_specs(self) -> tuple[tuple[str, TypeSpec], ...]:
        return tuple((f.name, f.handler.spec) for f in self.fields)

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        fields = self.fields
        if isinstance(obj, self.tp):
            extra = len(getattr(obj, "__dataclass_fields__", ())) > len(fields)
            if type(obj) is not self.tp and extra:
                raise mismatch(self._label, obj, "a subclass with more fields would lose them")
            out = {}
            for f in fields:
                try:
                    item = getattr(obj, f.name)
                except AttributeError:
                    raise ConversionError(
                        f"missing field {f.name!r} of dataclass {self._label}"
                    ) from None
                try:
                    out[f.name] = f.handler.encode(item, ctx)
                except ConversionError as exc:
                    exc.at(f".{f.name}")
                    raise
            return out
        if isinstance(obj, dict):
            return self._encode_mapping(obj, ctx)
        raise mismatch(f"dataclass {self._label}", obj)

    def _check_keys(self, data: dict[Any, Any]) -> None:
        unknown = [k for k in data if k not in self._names]
        if unknown:
            raise ConversionError(
                f"unknown {self._part}(s) {', '.join(map(repr, unknown))} for {self._noun} "
                f"{self._label}: its {self._part}s are {', '.join(f.name for f in self.fields)}"
            )

    def _missing(self, f: Field) -> ConversionError:
        return ConversionError(f"missing {self._part} {f.name!r} of {self._noun} {self._label}")

    def _encode_mapping(self, data: dict[Any, Any], ctx: ValueContext | None) -> Any:
        self._check_keys(data)
        out = {}
        for f in self.fields:
            if f.name in data:
                item = data[f.name]
            elif f.default is not None:
                item = f.default()
            else:
                raise self._missing(f)
            try:
                out[f.name] = f.handler.encode(item, ctx)
            except ConversionError as exc:
                exc.at(f".{f.name}")
                raise
        return out

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        fields = self.fields
        if type(data) is not dict:
            raise mismatch(f"a JSON object for dataclass {self._label}", data)
        if len(data) > len(fields) or not self._names.issuperset(data):
            self._check_keys(data)
        kwargs: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for f in fields:
            if f.name in data:
                try:
                    item = f.handler.decode(data[f.name], ctx)
                except ConversionError as exc:
                    exc.at(f".{f.name}")
                    raise
                (kwargs if f.init else late)[f.name] = item
            elif f.default is None and f.init:
                raise self._missing(f)
        try:
            obj = self.tp(**kwargs)
        except Exception as exc:  # __init__ / __post_init__ refused the data
            raise ConversionError(f"cannot build {self._label}: {exc}") from None
        for name, item in late.items():
            object.__setattr__(obj, name, item)
        return obj


def constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _may_be_absent() -> Any:  # the "default" of a key a TypedDict does not require
    raise AssertionError("a key left out is not filled in")  # pragma: no cover


class TypedDictHandler(DataclassHandler):
    """A :class:`typing.TypedDict`: a JSON object of its keys, each through its type's own
    handler (the same bytes as a dataclass of the same fields, which is what a server, which
    has no user code, builds from the spec), read back as a plain dict. A key the TypedDict
    does not require (``total=False``, ``NotRequired``) may be left out, and stays out."""

    _noun, _part = "TypedDict", "key"

    def __init__(self, tp: type, engine: TypeEngine) -> None:
        super().__init__(tp, engine)
        self.classes = (dict,)  # its values are plain dicts

    @property
    def spec(self) -> TypeSpec:
        """The record's spec, naming the keys that may be left out (``optional``): a
        server synthesises a TypedDict that does not require them either."""
        spec = super().spec
        optional = tuple(f.name for f in self.fields if f.default is not None)
        if not optional or not spec.fields:  # (a recursive reference: its name only)
            return spec
        return TypeSpec(spec.kind, name=spec.name, fields=spec.fields, optional=optional)

    def _resolve_fields(self) -> tuple[Field, ...]:
        hints = self._hints()
        # __required_keys__ is wrong where the annotations are strings (``from __future__
        # import annotations``: NotRequired[...] unseen), so a key's own wrapper decides.
        required = set(getattr(self.tp, "__required_keys__", hints))
        out = []
        for name, hint in hints.items():
            origin = typing.get_origin(hint)
            if origin is typing.NotRequired or origin is typing.Required:
                (hint,) = typing.get_args(hint)
                if origin is typing.NotRequired:
                    required.discard(name)
                else:
                    required.add(name)
            try:
                handler = self._engine.handler(hint)
            except TypeTransformError as exc:
                raise TypeTransformError(f"key {self._label}[{name!r}]: {exc}") from None
            out.append(Field(name, handler, True, None if name in required else _may_be_absent))
        return tuple(out)

    def _convert(self, data: Any, ctx: ValueContext | None, *, encoding: bool) -> Any:
        fields = self.fields
        if not isinstance(data, dict):
            raise mismatch(f"a dict for TypedDict {self._label}", data)
        self._check_keys(data)
        out = {}
        for f in fields:
            if f.name not in data:
                if f.default is None:
                    raise self._missing(f)
                continue
            try:
                item = data[f.name]
                out[f.name] = (
                    f.handler.encode(item, ctx) if encoding else f.handler.decode(item, ctx)
                )
            except ConversionError as exc:
                exc.at(f"[{f.name!r}]")
                raise
        return out

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        return self._convert(obj, ctx, encoding=True)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return self._convert(data, ctx, encoding=False)


def _is_typed_dict(py_type: Any) -> bool:
    if typing.is_typeddict(py_type):
        return True
    extensions = sys.modules.get("typing_extensions")  # its own TypedDict on some Pythons
    return extensions is not None and bool(extensions.is_typeddict(py_type))


def _bind(hint: Any, bound: dict[Any, Any]) -> Any:
    """``hint`` with a generic dataclass's type variables replaced by its arguments."""
    if isinstance(hint, typing.TypeVar):
        return bound.get(hint, hint)
    params = getattr(hint, "__parameters__", ())
    if params:
        return hint[tuple(bound.get(p, p) for p in params)]
    return hint


def _type_label(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


class DataclassConverter(Converter):
    """Classes decorated with :func:`dataclasses.dataclass`, and :class:`typing.TypedDict`
    classes."""

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        if isinstance(py_type, type) and hasattr(py_type, "__dataclass_fields__"):
            return DataclassHandler(py_type, engine)
        origin = typing.get_origin(py_type)
        if isinstance(origin, type) and hasattr(origin, "__dataclass_fields__"):
            return DataclassHandler(origin, engine, typing.get_args(py_type))  # Box[int]
        if isinstance(py_type, type) and _is_typed_dict(py_type):
            return TypedDictHandler(py_type, engine)
        return None


class PydanticHandler(_RecordHandler):
    kind = "pydantic"

    def _field_specs(self) -> tuple[tuple[str, TypeSpec], ...]:
        out = []
        for name, info in self.tp.model_fields.items():  # type: ignore[attr-defined]
            try:
                spec = self._engine.handler(info.annotation).spec
            except TypeTransformError:  # a pydantic-only annotation (constr, ...)
                spec = TypeSpec("any", name=repr(info.annotation))
            out.append((name, spec))
        return tuple(out)

    def _error(self, exc: Exception) -> ConversionError:
        return ConversionError(f"invalid {self.tp.__qualname__}: {exc}")

    @property
    def _ours(self) -> dict[str, Handler]:
        """Fields whose values the type engine writes, not pydantic (File, Directory,
        dataframes, arrays, and containers or models of them): name -> handler."""
        found: dict[str, Handler] | None = self.__dict__.get("_ours_cache")
        if found is None:
            found = {}
            for name, info in self.tp.model_fields.items():  # type: ignore[attr-defined]
                try:
                    handler = self._engine.handler(info.annotation)
                except TypeTransformError:
                    continue
                if _holds_references(handler.spec):
                    found[name] = handler
            self.__dict__["_ours_cache"] = found
        return found

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, self.tp):
            if not isinstance(obj, dict):
                raise mismatch(f"pydantic model {self.tp.__qualname__}", obj)
            try:
                obj = self.tp.model_validate(obj, strict=not self._ours, by_name=True)  # type: ignore[attr-defined]
            except ValueError as exc:
                raise self._error(exc) from None
        ours = self._ours
        try:
            data = obj.model_dump(mode="json", exclude=set(ours) or None)
        except UnicodeDecodeError:  # bytes written as text (ser_json_bytes="utf8")
            path, _ = _first(obj.model_dump(mode="python"), _not_utf8) or ("", b"")
            raise ConversionError(
                f"{type(obj).__qualname__}{path} holds bytes that are not UTF-8, which "
                "pydantic's JSON mode writes as text by default: set model_config = "
                "ConfigDict(ser_json_bytes='base64', val_json_bytes='base64') on the model"
            ) from None
        except Exception as exc:  # PydanticSerializationError: a field JSON cannot hold
            raise self._error(exc) from None
        _refuse_lost_floats(obj, data, set(ours))
        if not ours:
            return data
        out = {}
        for name in self.tp.model_fields:  # type: ignore[attr-defined]
            if name in ours:
                try:
                    out[name] = ours[name].encode(getattr(obj, name), ctx)
                except ConversionError as exc:
                    exc.at(f".{name}")
                    raise
            elif name in data:
                out[name] = data[name]
        return out

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not dict:
            raise mismatch(f"a JSON object for {self.tp.__qualname__}", data)
        ours = self._ours
        if ours:
            data = dict(data)
            for name, handler in ours.items():
                if name in data:
                    try:
                        data[name] = handler.decode(data[name], ctx)
                    except ConversionError as exc:
                        exc.at(f".{name}")
                        raise
        try:
            return self.tp.model_validate(data, by_name=True)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise self._error(exc) from None

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        if value.format != "json":
            raise self.wrong_format(value)
        if self._ours:
            import msgspec

            return self.decode(msgspec.json.decode(read_bytes(value, ctx)), ctx)
        try:
            return self.tp.model_validate_json(read_bytes(value, ctx), by_name=True)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise self._error(exc) from None


def _refuse_lost_floats(obj: Any, data: Any, ours: set[str]) -> None:
    """Refuse a model holding nan or ±inf, which pydantic's JSON mode writes as null (its
    default ``ser_json_inf_nan``; the other settings leave a float that JSON cannot hold):
    read back, a float field refused it and an Optional one became None. Only a dump holding
    a null or such a float is looked at again, in Python mode, to name the field.

    Raises:
        ConversionError: the first such float, by its path in the model.
    """
    if not _may_hide_a_float(data):
        return
    where = _first(obj.model_dump(mode="python", exclude=ours or None), _non_finite)
    if where is not None:
        path, number = where
        raise ConversionError(
            f"{type(obj).__qualname__}{path} is {number!r}, which pydantic's JSON mode "
            "writes as null (read back: refused, or None for an Optional field): use a "
            "dataclass, which stores nan and ±inf, or keep the number out of the model"
        )


def _may_hide_a_float(data: Any) -> bool:
    if data is None:
        return True
    if type(data) is float:
        return not math.isfinite(data)
    if type(data) is dict:
        return any(_may_hide_a_float(v) for v in data.values())
    if type(data) is list:
        return any(_may_hide_a_float(v) for v in data)
    return False


def _non_finite(item: Any) -> bool:
    return isinstance(item, float) and not math.isfinite(item)


def _not_utf8(item: Any) -> bool:
    if not isinstance(item, bytes):
        return False
    try:
        item.decode()
    except UnicodeDecodeError:
        return True
    return False


def _first(data: Any, bad: Callable[[Any], bool], path: str = "") -> tuple[str, Any] | None:
    """The path (``.history[1]``) and value of the first item in a Python-mode model dump
    that ``bad`` picks out, or None."""
    if bad(data):
        return path, data
    if isinstance(data, dict):
        items: Any = ((f".{k}" if isinstance(k, str) else f"[{k!r}]", v) for k, v in data.items())
    elif isinstance(data, list | tuple):
        items = ((f"[{i}]", v) for i, v in enumerate(data))
    elif isinstance(data, set | frozenset):
        items = (("[...]", v) for v in data)
    else:
        return None
    for segment, item in items:
        found = _first(item, bad, path + segment)
        if found is not None:
            return found
    return None


#: Kinds the type engine writes as references (blobs), which pydantic cannot serialise.
_REFERENCE_KINDS = frozenset({"file", "directory", "dataframe", "ndarray"})


def _holds_references(spec: TypeSpec, seen: frozenset[str] = frozenset()) -> bool:
    if spec.kind in _REFERENCE_KINDS:
        return True
    if spec.name and spec.kind in ("dataclass", "pydantic"):
        if spec.name in seen:
            return False
        seen = seen | {spec.name}
    return any(_holds_references(a, seen) for a in spec.args) or any(
        _holds_references(t, seen) for _, t in spec.fields
    )


class PydanticConverter(Converter):
    """Subclasses of ``pydantic.BaseModel`` (only when pydantic is already imported)."""

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not isinstance(py_type, type):
            return None
        if issubclass(py_type, pydantic.BaseModel):
            return PydanticHandler(py_type, engine)
        return None
