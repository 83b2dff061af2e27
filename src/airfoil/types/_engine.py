"""The type engine: an ordered chain of converters and a per-annotation handler cache.

Resolution asks each converter in order for a handler (the first that does not answer
"not mine" wins) and caches the result keyed by the annotation object, so the typing
introspection of a type happens once per engine; converting a value afterwards is one dict
lookup plus the handler's own work. Engines are cheap, independent values: there is no global
registry, and :meth:`TypeEngine.with_converter` returns a new engine rather than changing one.
"""

from __future__ import annotations

import base64
import typing
from collections.abc import Sequence
from typing import Any

import msgspec

from airfoil.core.errors import TypeTransformError
from airfoil.core.records import TypeSpec, Value
from airfoil.types._assign import is_assignable as _is_assignable
from airfoil.types._base import (
    REF_KEY,
    ConversionError,
    Converter,
    Handler,
    ValueContext,
    decode_json_bytes,
    json_value,
    not_unicode,
    read_bytes,
    ref_to_value,
)

__all__ = ["COLLECTION_FORMATS", "TypeEngine", "default_converters", "default_type_engine"]

#: Formats of values the engine assembles from several nodes' outputs.
COLLECTION_FORMATS = frozenset({"af-list", "af-dict"})


def default_converters() -> list[Converter]:
    """The default chain, in order: scalars, enums, containers and typing constructs,
    Literal, dataclasses, pydantic models, files, dataframes, numpy arrays, ``Any``, pickle."""
    from airfoil.types._containers import GenericConverter
    from airfoil.types._dataframes import DataFrameConverter
    from airfoil.types._files import FileConverter
    from airfoil.types._numpy import NumpyConverter
    from airfoil.types._pickle import AnyConverter, PickleConverter
    from airfoil.types._primitives import EnumConverter, LiteralConverter, ScalarConverter
    from airfoil.types._structs import DataclassConverter, PydanticConverter

    return [
        ScalarConverter(),
        EnumConverter(),
        LiteralConverter(),
        GenericConverter(),
        DataclassConverter(),
        PydanticConverter(),
        FileConverter(),
        DataFrameConverter(),
        NumpyConverter(),
        AnyConverter(),
        PickleConverter(),
    ]


class TypeEngine:
    """Converts between Python values and :class:`~airfoil.core.records.Value` records.

    Args:
        converters: the chain, asked in order; ``None`` means :func:`default_converters`.

    Example::

        engine = default_type_engine().with_converter(MoneyConverter())
        value = engine.to_value(Money(3, "EUR"), Money, ctx)
        assert engine.to_python(value, Money, ctx) == Money(3, "EUR")
    """

    __slots__ = ("_cache", "_converters", "_previewers")

    def __init__(self, converters: Sequence[Converter] | None = None) -> None:
        chain = default_converters() if converters is None else list(converters)
        self._converters: tuple[Converter, ...] = tuple(chain)
        self._cache: dict[Any, Handler] = {}
        self._previewers: dict[str, Converter] | None = None

    @property
    def converters(self) -> tuple[Converter, ...]:
        """The chain, in the order it is asked."""
        return self._converters

    def with_converter(self, converter: Converter, *, first: bool = True) -> TypeEngine:
        """A new engine with ``converter`` added to the chain.

        Args:
            converter: the plugin.
            first: ask it before every other converter (it can override built-in types);
                otherwise just before the catch-all fallbacks (``Any``, pickle).
        """
        chain = list(self._converters)
        if first:
            chain.insert(0, converter)
        else:
            at = next((i for i, c in enumerate(chain) if c.fallback), len(chain))
            chain.insert(at, converter)
        return TypeEngine(chain)

    # --- resolution -----------------------------------------------------------------------

    def handler(self, py_type: Any) -> Handler:
        """The handler for an annotation (resolved once, then cached).

        Raises:
            TypeTransformError: the annotation is malformed or no converter takes it.
        """
        try:
            return self._cache[py_type]
        except KeyError:
            pass
        except TypeError:  # unhashable annotation (Annotated with a dict...): do not cache
            return self._find(py_type)
        found = self._find(py_type)
        self._cache[py_type] = found
        return found

    def _find(self, py_type: Any) -> Handler:
        if isinstance(py_type, (str, typing.ForwardRef)):
            raise TypeTransformError(
                f"unresolved forward reference {py_type!r}: resolve the annotations "
                "(typing.get_type_hints) before asking for their type"
            )
        for converter in self._converters:
            found = converter.handler(py_type, self)
            if found is not None:
                return found
        raise TypeTransformError(
            f"unsupported type annotation {py_type!r}: use a scalar, an Enum, list/dict/tuple/"
            "set, Optional/Union, a dataclass, a pydantic model, File, Directory, a dataframe "
            "or a numpy array, or add a converter"
        )

    # --- the API --------------------------------------------------------------------------

    def to_spec(self, py_type: Any) -> TypeSpec:
        """The :class:`~airfoil.core.records.TypeSpec` of an annotation.

        Raises:
            TypeTransformError: the annotation is malformed (``list[int, str]``, a bare
                ``list``, an unresolved forward reference) or unsupported.
        """
        return self.handler(py_type).spec

    def to_value(self, value: Any, py_type: Any, ctx: ValueContext) -> Value:
        """Validate ``value`` against ``py_type`` and serialise it (offloading large values).

        Raises:
            TypeTransformError: the value does not fit the type, or converting it would lose
                data (a float for an int).
        """
        try:
            found = self._cache[py_type]
        except (KeyError, TypeError):
            found = self.handler(py_type)
        try:
            return found.to_value(value, ctx)
        except UnicodeEncodeError as exc:  # a str the UTF-8 of stored values cannot hold
            raise ConversionError(not_unicode(exc)) from None

    def to_python(self, value: Value, py_type: Any, ctx: ValueContext) -> Any:
        """The Python value of a stored value (downloading blobs as needed).

        Raises:
            NotFoundError: an offloaded blob is missing from the store.
            TypeTransformError: the stored value does not fit ``py_type``.
        """
        if value.format in COLLECTION_FORMATS:
            return self._collection_to_python(value, py_type, ctx)
        try:
            found = self._cache[py_type]
        except (KeyError, TypeError):
            found = self.handler(py_type)
        return found.to_python(value, ctx)

    def split_list(self, value: Value, ctx: ValueContext) -> list[Value]:
        """The member values of a stored list, each a value of its own (a map's items).

        A member is encoded exactly as the element type encodes a value on its own, so an
        item's content hash (and cache key) equals that of the same value passed directly.

        Raises:
            TypeTransformError: the value is not a list.
            NotFoundError: an offloaded blob is missing.
        """
        if value.format == "af-list":
            return list(msgspec.json.decode(read_bytes(value, ctx), type=list[Value]))
        if value.format != "json":
            raise TypeTransformError(f"a value in format {value.format!r} is not a list")
        data = decode_json_bytes(read_bytes(value, ctx))
        if not isinstance(data, list):
            raise TypeTransformError(f"expected a list, got {type(data).__name__}")
        return [
            ref_to_value(item, ctx)
            if isinstance(item, dict) and REF_KEY in item
            else json_value(item, ctx)
            for item in data
        ]

    def _collection_to_python(self, value: Value, py_type: Any, ctx: ValueContext) -> Any:
        """Values the engine assembles from several nodes' outputs (a list or dict of
        promises bound to one input) arrive as ``af-list`` / ``af-dict``: a JSON list or
        object of member :class:`Value` records. Each member is decoded with the element
        type."""
        payload = read_bytes(value, ctx)
        origin = typing.get_origin(py_type)
        args: tuple[Any, ...] = typing.get_args(py_type)
        if value.format == "af-list":
            items = msgspec.json.decode(payload, type=list[Value])
            if origin is tuple:
                variadic = len(args) == 2 and args[1] is Ellipsis
                types = [args[0] if variadic else args[i] for i in range(len(items))]
                return tuple(self.to_python(v, t, ctx) for v, t in zip(items, types, strict=True))
            elem = args[0] if args else Any
            return [self.to_python(v, elem, ctx) for v in items]
        entries = msgspec.json.decode(payload, type=dict[str, Value])
        elem = args[1] if len(args) == 2 else Any
        return {k: self.to_python(v, elem, ctx) for k, v in entries.items()}

    def check_value(self, value: Any, py_type: Any) -> None:
        """Raise :class:`TypeTransformError` with a clear message if ``value`` does not fit."""
        self.handler(py_type).check(value)

    def is_assignable(self, src: TypeSpec, dst: TypeSpec) -> bool:
        """Whether a value of type ``src`` may be bound where ``dst`` is expected
        (definition-time wiring checks). See :mod:`airfoil.types._assign` for the rules."""
        return _is_assignable(src, dst)

    def parse_cli(self, text: str, py_type: Any) -> Any:
        """The Python value of a command-line argument.

        Scalars are written plainly (``42``, ``true``, ``2024-01-31``, ``1h30m``, an enum
        member's name); lists, dicts, tuples, sets, dataclasses and models as JSON; ``File``
        and ``Directory`` as local paths; dataframes as a path to a ``.csv`` or ``.parquet``
        file; numpy arrays as a JSON array or a ``.npy`` path.

        Raises:
            TypeTransformError: naming the text, the expected type and the expected form.
        """
        return self.handler(py_type).parse_cli(text)

    def to_jsonable(self, value: Value, spec: TypeSpec, ctx: ValueContext) -> Any:
        """A JSON-compatible view of a stored value, without its Python type.

        For the CLI's ``--json`` and previews: JSON values decode to plain JSON (offloaded
        parts inside them are shown as previews); dataframes give ``{"format": "parquet",
        "uri", "rows", "columns", ...}``, arrays ``{"format": "npy", "dtype", "shape", ...}``,
        files ``{"uri", "path", "name", ...}``, pickles ``{"format": "pickle", "type",
        "repr"}``. Nothing is unpickled and no user code is needed.
        """
        fmt = value.format
        if fmt in COLLECTION_FORMATS:
            assert value.inline is not None
            elem = spec.args[-1] if spec.args else TypeSpec("any")
            if fmt == "af-list":
                members = msgspec.json.decode(value.inline, type=list[Value])
                if spec.kind == "tuple" and not spec.variadic:
                    return [
                        self.to_jsonable(v, t, ctx) for v, t in zip(members, spec.args, strict=True)
                    ]
                return [self.to_jsonable(v, elem, ctx) for v in members]
            entries = msgspec.json.decode(value.inline, type=dict[str, Value])
            return {k: self.to_jsonable(v, elem, ctx) for k, v in entries.items()}
        if fmt == "json":
            return self._jsonable_data(decode_json_bytes(read_bytes(value, ctx)), ctx)
        if fmt == "bytes":
            if value.inline is not None:
                return base64.b64encode(value.inline).decode("ascii")
            return {"format": "bytes", "uri": value.uri, "size": value.size}
        previewer = self._previewer(fmt)
        if previewer is None:
            raise TypeTransformError(f"no converter can preview values in format {fmt!r}")
        return previewer.preview(value, spec, ctx)

    def _previewer(self, fmt: str) -> Converter | None:
        if self._previewers is None:
            table: dict[str, Converter] = {}
            for converter in self._converters:
                for name in converter.formats:
                    table.setdefault(name, converter)
            self._previewers = table
        return self._previewers.get(fmt)

    def _jsonable_data(self, data: Any, ctx: ValueContext) -> Any:
        if type(data) is list:
            return [self._jsonable_data(item, ctx) for item in data]
        if type(data) is dict:
            if REF_KEY in data:
                return self.to_jsonable(ref_to_value(data, ctx), TypeSpec("any"), ctx)
            return {k: self._jsonable_data(v, ctx) for k, v in data.items()}
        return data

    def __repr__(self) -> str:
        names = ", ".join(type(c).__name__ for c in self._converters)
        return f"TypeEngine([{names}])"


def default_type_engine() -> TypeEngine:
    """The process's type engine: the default chain plus every converter added with
    :func:`~airfoil.types.add_converter` (built on first call, not at import)."""
    from airfoil.types import _plugins

    return _plugins.default_type_engine()
