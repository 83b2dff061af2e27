"""Containers and typing constructs: list, set, frozenset, dict, tuple, Optional / Union,
``Annotated`` and ``NewType``.

Element handlers come from the engine (``engine.handler(T)``), so any type the chain knows can
be nested, including leaves stored as blobs (``list[pd.DataFrame]``). Errors name the path
inside the value (``value[3]['key']``).

Encodings (JSON): lists and tuples are arrays; sets are arrays sorted by each element's
canonical JSON, so iteration order never changes the hash; dicts are objects, and a key that
does not encode to a string is written as its canonical JSON text (``{"1": ...}`` for an
``int`` key). A union whose members encode to different JSON kinds (``int | str | None``) is
stored untagged; otherwise as ``{"$union": "<member>", "value": ...}``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types._base import (
    BlobHandler,
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    canonical_json,
    decode_json_bytes,
    mismatch,
    not_unicode,
    short_repr,
)
from airfoil.types._primitives import NoneHandler, StrHandler, qualified_name

if TYPE_CHECKING:
    from airfoil.types._engine import TypeEngine

__all__ = ["GenericConverter"]

_JSON_KIND = {
    type(None): "null",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "array",
    dict: "object",
}
_UNION_TAG = "$union"
_NAMED_KINDS = frozenset({"dataclass", "pydantic", "enum", "pickle"})


def _label(spec: TypeSpec) -> str:
    """A readable, unambiguous name of a spec (union tags, messages): ``set[int]``,
    ``mod.Point``, ``dict[str, list[int]]``."""
    if spec.kind in _NAMED_KINDS:
        return spec.name
    if spec.kind in ("list", "set", "dict", "tuple"):
        head = spec.name if spec.kind == "set" and spec.name else spec.kind
        inner = ", ".join(_label(a) for a in spec.args)
        return f"{head}[{inner}{', ...' if spec.variadic else ''}]"
    if spec.kind == "union":
        return " | ".join(_label(a) for a in spec.args)
    return str(spec)


def _all_of(items: Any, cls: type) -> bool:
    for item in items:  # noqa: SIM110 - faster than all() over a generator
        if type(item) is not cls:
            return False
    return True


def _decode_elements(elem: Handler, data: list[Any], ctx: ValueContext | None) -> list[Any] | Any:
    fast = elem.fast_type
    if fast is not None and _all_of(data, fast):
        return data
    out = []
    dec = elem.decode
    for i, item in enumerate(data):
        try:
            out.append(dec(item, ctx))
        except ConversionError as exc:
            exc.at(f"[{i}]")
            raise
    return out


def _encode_elements(elem: Handler, items: Any, ctx: ValueContext | None) -> list[Any]:
    fast = elem.fast_type
    if fast is not None and type(items) is list and _all_of(items, fast):
        return items
    out = []
    enc = elem.encode
    for i, item in enumerate(items):
        try:
            out.append(enc(item, ctx))
        except ConversionError as exc:
            exc.at(f"[{i}]")
            raise
    return out


class ListHandler(Handler):
    shape = frozenset({"array"})
    classes = (list,)

    def __init__(self, elem: Handler) -> None:
        super().__init__(TypeSpec("list"))
        self.elem = elem
        if elem.native is not None:
            self.native = list[elem.native]  # type: ignore[name-defined]

    @property
    def spec(self) -> TypeSpec:
        return TypeSpec("list", args=(self.elem.spec,))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, list):
            raise mismatch(str(self.spec), obj)
        return _encode_elements(self.elem, obj, ctx)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not list:
            raise mismatch(f"a JSON array for {self.spec}", data)
        return _decode_elements(self.elem, data, ctx)


class IteratorHandler(ListHandler):
    """``Iterator[T]`` / ``Iterable[T]`` / ``Generator[T, ...]``: stored as ``list[T]`` (so
    it binds to ``list[T]`` inputs); a task may return any iterable (a generator is run to
    its end), and a task taking one gets an iterator over the items."""

    def __init__(self, elem: Handler) -> None:
        super().__init__(elem)
        self.native = None  # decoding makes an iterator, not a list

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if isinstance(obj, str | bytes | dict) or not isinstance(obj, Iterable):
            raise mismatch(f"an iterable for {self.spec}", obj)
        return _encode_elements(self.elem, list(obj), ctx)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        return iter(super().decode(data, ctx))


class SetHandler(Handler):
    shape = frozenset({"array"})
    classes = (set, frozenset)

    def __init__(self, elem: Handler, frozen: bool) -> None:
        super().__init__(TypeSpec("set"))
        self.elem = elem
        self.frozen = frozen
        self._name = "frozenset" if frozen else "set"
        if elem.native is not None:
            self.native = (frozenset if frozen else set)[elem.native]

    @property
    def spec(self) -> TypeSpec:
        return TypeSpec("set", name=self._name, args=(self.elem.spec,))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, (set, frozenset)):
            raise mismatch(_label(self.spec), obj)
        items = _encode_elements(self.elem, list(obj), ctx)
        if ctx is None:
            return items
        return sorted(items, key=canonical_json)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not list:
            raise mismatch(f"a JSON array for {_label(self.spec)}", data)
        items = _decode_elements(self.elem, data, ctx)
        try:
            return frozenset(items) if self.frozen else set(items)
        except TypeError as exc:
            raise ConversionError(f"set elements must be hashable: {exc}") from None


class DictHandler(Handler):
    shape = frozenset({"object"})
    classes = (dict,)

    def __init__(self, key: Handler, val: Handler) -> None:
        super().__init__(TypeSpec("dict"))
        self.key = key
        self.val = val
        # Keys that encode to a JSON string are used as they are; others as their JSON text.
        self._str_keys = key.shape == frozenset({"str"})
        self._fast = key.fast_type is str and val.fast_type is not None
        if key.native is str and val.native is not None:
            self.native = dict[str, val.native]  # type: ignore[name-defined]

    @property
    def spec(self) -> TypeSpec:
        return TypeSpec("dict", args=(self.key.spec, self.val.spec))

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, dict):
            raise mismatch(str(self.spec), obj)
        if self._fast:
            vt = self.val.fast_type
            if all(type(k) is str and type(v) is vt for k, v in obj.items()):
                return obj
        out: dict[str, Any] = {}
        kenc, venc = self.key.encode, self.val.encode
        for k, v in obj.items():
            try:
                ek = kenc(k, ctx)
            except ConversionError as exc:
                exc.detail = f"dict key: {exc.detail}"
                exc.at(f"[{short_repr(k, 30)}]")
                raise
            if not self._str_keys:
                ek = canonical_json(ek).decode()
            if ek in out:
                raise ConversionError(f"two keys of the dict encode to the same key {ek!r}")
            try:
                out[ek] = venc(v, ctx)
            except ConversionError as exc:
                exc.at(f"[{short_repr(k, 30)}]")
                raise
        return out

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not dict:
            raise mismatch(f"a JSON object for {self.spec}", data)
        if self._fast:
            vt = self.val.fast_type
            if all(type(v) is vt for v in data.values()):
                return data
        out = {}
        kdec, vdec = self.key.decode, self.val.decode
        for k, v in data.items():
            try:
                dk = kdec(k if self._str_keys else _json_key(k, self.key.spec), ctx)
            except (ConversionError, TypeTransformError) as exc:
                raise ConversionError(f"dict key {k!r}: {exc}") from None
            try:
                out[dk] = vdec(v, ctx)
            except ConversionError as exc:
                exc.at(f"[{k!r}]")
                raise
        return out


def _json_key(key: str, spec: TypeSpec) -> Any:
    """A dict key of a type that does not encode to text (``int``, a tuple...), from the JSON
    text it is written as (``"1"``, ``"[1, 2]"``)."""
    try:
        return decode_json_bytes(key.encode())
    except UnicodeEncodeError as exc:  # a lone surrogate: no key of any type
        raise ConversionError(not_unicode(exc)) from None
    except TypeTransformError:
        raise ConversionError(
            f"expected the JSON text of a {spec} (keys that are not text are written as JSON "
            'text, such as "1" or "[1, 2]")'
        ) from None


class TupleHandler(Handler):
    shape = frozenset({"array"})
    classes = (tuple,)

    def __init__(self, elems: tuple[Handler, ...], variadic: bool) -> None:
        super().__init__(TypeSpec("tuple"))
        self.elems = elems
        self.variadic = variadic
        natives = tuple(e.native for e in elems)
        if natives and None not in natives:
            self.native = tuple[natives[0], ...] if variadic else tuple[natives]  # type: ignore[valid-type]

    @property
    def spec(self) -> TypeSpec:
        return TypeSpec("tuple", args=tuple(e.spec for e in self.elems), variadic=self.variadic)

    def _items(self, items: Any, ctx: ValueContext | None, decode: bool) -> list[Any]:
        if self.variadic:
            elem = self.elems[0]
            if decode:
                return list(_decode_elements(elem, items, ctx))
            return _encode_elements(elem, items, ctx)
        if len(items) != len(self.elems):
            raise ConversionError(
                f"expected {len(self.elems)} items for {self.spec}, got {len(items)}: "
                f"{short_repr(items)}"
            )
        out = []
        for i, (handler, item) in enumerate(zip(self.elems, items, strict=True)):
            try:
                out.append(handler.decode(item, ctx) if decode else handler.encode(item, ctx))
            except ConversionError as exc:
                exc.at(f"[{i}]")
                raise
        return out

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        if not isinstance(obj, tuple):
            raise mismatch(str(self.spec), obj)
        return self._items(obj, ctx, decode=False)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if type(data) is not list:
            raise mismatch(f"a JSON array for {self.spec}", data)
        return tuple(self._items(data, ctx, decode=True))


def _type_key(tp: Any) -> tuple[bool, str]:
    """Orders union members the same way whatever order they were written in."""
    name = qualified_name(tp) if isinstance(tp, type) else repr(tp)
    return (tp is type(None), name)


class UnionHandler(Handler):
    """``Optional[T]`` and ``Union[...]``. Members are kept in a canonical order, so
    ``int | str`` and ``str | int`` behave, encode and describe themselves the same way."""

    def __init__(self, members: list[Handler]) -> None:
        super().__init__(TypeSpec("union"))
        self.members = members
        self.classes = tuple(c for m in members for c in m.classes)
        self.shape = frozenset(s for m in members for s in m.shape)
        shapes = [m.shape for m in members]
        disjoint = sum(len(s) for s in shapes) == len(self.shape)
        self._tagged = not disjoint
        self._by_kind: dict[str, Handler] = {}
        if disjoint:
            for m in members:
                for kind in m.shape:
                    self._by_kind[kind] = m
            if "int" not in self._by_kind and "float" in self._by_kind:
                self._by_kind["int"] = self._by_kind["float"]  # user JSON: 1 for a float
        else:
            self.shape = frozenset({"object"})
        self._tags: dict[str, Handler] | None = None
        natives = tuple(m.native for m in members)
        if disjoint and None not in natives:
            self.native = typing.Union[natives]  # noqa: UP007 - built at run time

    @property
    def spec(self) -> TypeSpec:
        return TypeSpec("union", args=tuple(m.spec for m in self.members))

    def _tag_table(self) -> dict[str, Handler]:
        if self._tags is None:
            tags: dict[str, Handler] = {}
            for i, m in enumerate(self.members):
                tag = _label(m.spec)
                tags[tag if tag not in tags else f"{tag}#{i}"] = m
            self._tags = tags
        return self._tags

    def _wrap(self, member: Handler, data: Any) -> Any:
        if not self._tagged:
            return data
        for tag, m in self._tag_table().items():
            if m is member:
                return {_UNION_TAG: tag, "value": data}
        raise AssertionError("member without a tag")  # pragma: no cover

    def encode(self, obj: Any, ctx: ValueContext | None) -> Any:
        cls = type(obj)
        first_error: ConversionError | None = None
        for m in self.members:  # members that take this exact class first
            if cls in m.classes:
                try:
                    return self._wrap(m, m.encode(obj, ctx))
                except ConversionError as exc:
                    first_error = first_error or exc
        errors: list[ConversionError] = []
        for m in self.members:
            if cls not in m.classes:
                try:
                    return self._wrap(m, m.encode(obj, ctx))
                except ConversionError as exc:
                    if not isinstance(m, NoneHandler):
                        errors.append(exc)
        if first_error is None and len(errors) == 1:
            first_error = errors[0]  # Optional[T]: say why it is not a T
        raise first_error or mismatch(str(self.spec), obj)

    def decode(self, data: Any, ctx: ValueContext | None) -> Any:
        if self._tagged:
            if type(data) is dict and _UNION_TAG in data and "value" in data:
                member = self._tag_table().get(data[_UNION_TAG])
                if member is not None:
                    return member.decode(data["value"], ctx)
                raise ConversionError(
                    f"unknown member {data[_UNION_TAG]!r} of {self.spec}: expected one of "
                    f"{', '.join(self._tag_table())}"
                )
            for m in self.members:  # user JSON without a tag: the first member that fits
                try:
                    return m.decode(data, ctx)
                except ConversionError:
                    continue
            raise mismatch(str(self.spec), data)
        member = self._by_kind.get(_JSON_KIND.get(type(data), ""))
        if member is None:
            raise mismatch(str(self.spec), data)
        return member.decode(data, ctx)

    def to_python(self, value: Value, ctx: ValueContext) -> Any:
        """A stored union, or a member's own stored value: a workflow binds a ``File`` (a
        frame, an array...) to an ``Optional[File]`` input as the value it is, which the
        member that wrote it reads."""
        if value.format != "json":
            for m in self.members:
                if isinstance(m, BlobHandler):
                    try:
                        return m.to_python(value, ctx)
                    except TypeTransformError:
                        continue
        return super().to_python(value, ctx)

    def cli_form(self) -> str:
        form = " or ".join(m.cli_form() for m in self.members)
        if self._takes_text and len(self.members) > 1:
            word = "null" if len(self.members) == 2 and self.spec.args[-1].kind == "none" else "7"
            form += f""" ('"{word}"' in JSON double quotes is the text {word})"""
        return form

    @property
    def _takes_text(self) -> bool:
        return any(isinstance(m, StrHandler) for m in self.members)

    def parse_cli(self, text: str) -> Any:
        """The first member, text last, that parses ``text``; ``null`` / ``none`` is None.

        A union that holds ``str`` reads a JSON string literal (``"7"``, quotes included) as
        that text, as pyflyte does: the one way to give the text ``7`` to ``int | str`` or
        the text ``null`` to ``str | None``."""
        members = [m for m in self.members if not isinstance(m, NoneHandler)]
        if self._takes_text:
            quoted = _json_text(text)
            if quoted is not None:
                return quoted
        if len(members) < len(self.members) and text.strip().lower() in ("null", "none"):
            return None
        members.sort(key=lambda m: isinstance(m, StrHandler))  # text as a str last
        for m in members:
            try:
                return m.parse_cli(text)
            except TypeTransformError:
                continue
        raise self.cli_error(text)


def _json_text(text: str) -> str | None:
    """The string a JSON string literal (``"7"``) stands for; None for any other text."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] != '"' or stripped[-1] != '"':
        return None
    try:
        data = decode_json_bytes(stripped.encode())
    except TypeTransformError:  # not one JSON string (``"a" "b"``): the text as typed
        return None
    return data if type(data) is str else None


# A bare ``list`` / ``dict`` (and ``typing.List`` / ``typing.Dict``) holds anything, as in
# flytekit: its members are converted as ``Any`` is (JSON data, else pickle).
_ANY_ELEMENTS: dict[Any, Any] = {
    list: list[Any],
    dict: dict[Any, Any],
    typing.List: list[Any],  # noqa: UP006
    typing.Dict: dict[Any, Any],  # noqa: UP006
}

_BARE: dict[Any, str] = {
    tuple: "tuple[T, ...] or tuple[A, B]",
    set: "set[T]",
    frozenset: "frozenset[T]",
}
# The unsubscripted typing aliases (typing.List...), looked up by name to keep them apart from
# the builtins they alias.
for _name, _form in (
    ("Tuple", "tuple[T, ...]"),
    ("Set", "set[T]"),
    ("FrozenSet", "frozenset[T]"),
    ("Optional", "Optional[T]"),
    ("Union", "Union[A, B]"),
):
    _BARE[getattr(typing, _name)] = _form


def _malformed(py_type: Any, why: str) -> TypeTransformError:
    return TypeTransformError(f"malformed type annotation {py_type!r}: {why}")


class GenericConverter(Converter):
    """list, set, frozenset, dict, tuple, Optional / Union, ``Annotated`` and ``NewType``."""

    def handler(self, py_type: Any, engine: TypeEngine) -> Handler | None:
        try:
            bare = _BARE.get(py_type)
            any_elements = _ANY_ELEMENTS.get(py_type)
        except TypeError:
            bare = any_elements = None
        if any_elements is not None:
            return engine.handler(any_elements)
        if bare is not None:
            raise _malformed(py_type, f"it has no element type; annotate it as {bare}")
        if isinstance(py_type, typing.NewType):
            return engine.handler(py_type.__supertype__)
        origin = typing.get_origin(py_type)
        if origin is None:
            return None
        args = typing.get_args(py_type)
        if origin is typing.Annotated:
            return engine.handler(args[0])
        if origin is typing.Union or origin is types.UnionType:
            members = sorted(args, key=_type_key)
            return UnionHandler([engine.handler(m) for m in members])
        if origin is list:
            return ListHandler(engine.handler(self._one(py_type, args)))
        if origin in (Iterator, Iterable, Generator):
            if not args:
                raise _malformed(py_type, "it has no element type; annotate it as Iterator[T]")
            return IteratorHandler(engine.handler(args[0]))
        if origin is set or origin is frozenset:
            return SetHandler(engine.handler(self._one(py_type, args)), origin is frozenset)
        if origin is dict:
            if len(args) != 2:
                raise _malformed(py_type, "a dict needs a key and a value type, dict[K, V]")
            return DictHandler(engine.handler(args[0]), engine.handler(args[1]))
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return TupleHandler((engine.handler(args[0]),), variadic=True)
            if Ellipsis in args:
                raise _malformed(py_type, "'...' may only follow a single type: tuple[T, ...]")
            return TupleHandler(tuple(engine.handler(a) for a in args), variadic=False)
        return None

    @staticmethod
    def _one(py_type: Any, args: tuple[Any, ...]) -> Any:
        if len(args) != 1:
            raise _malformed(py_type, "expected exactly one element type")
        return args[0]
