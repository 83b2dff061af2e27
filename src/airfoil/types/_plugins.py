"""Adding a type converter to the process's type engine, so that it reaches every process.

A user's own class gets a converter (:class:`~airfoil.types.Converter`) and is added with
:func:`add_converter`. The process's default type engine -- the one ``@task`` interfaces, the
embedded engine, the CLI and the client use -- then asks it first. Other processes get it by
name: every added converter is recorded as an import path (``"module:Class"``, built with no
arguments, or ``"module:factory"``, called with none), which the entry points hand on -- the
process executor's workers rebuild the same engine from :func:`added_converters`, and a server
or ``airfoil`` CLI loads the paths listed in the ``AIRFOIL_CONVERTERS`` setting with
:func:`load_converters`.

Invariants: adding the same path again changes nothing (a worker that imports the module that
added a converter does not add it twice); nothing is added at import; engines made before an
addition keep their own chain (engines are values).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from typing import cast

from airfoil.core.errors import ConfigError
from airfoil.types._base import Converter
from airfoil.types._engine import TypeEngine
from airfoil.types._primitives import importable_module

__all__ = [
    "add_converter",
    "added_converters",
    "converter_path",
    "default_type_engine",
    "load_converters",
]

_lock = threading.RLock()
_default: TypeEngine | None = None
_added: list[tuple[str, bool]] = []  # (import path, first), in the order added


def default_type_engine() -> TypeEngine:
    """The process's type engine: the default chain plus every converter added with
    :func:`add_converter` (built on first call, not at import)."""
    global _default
    engine = _default
    if engine is None:
        with _lock:
            if _default is None:
                _default = TypeEngine()
            engine = _default
    return engine


def add_converter(converter: Converter | str, *, first: bool = True) -> TypeEngine:
    """Add a converter to the process's type engine; return the new engine.

    Args:
        converter: the converter, or its import path (``"pkg.codecs:MoneyConverter"``: a
            class built with no arguments, or a function called with none). An instance must
            be of a class defined at a module's top level and built with no arguments, so that
            worker processes can rebuild it; otherwise pass the path of a factory.
        first: ask it before every built-in converter (it can override built-in types);
            otherwise just before the catch-all fallbacks (``Any``, pickle).

    Raises:
        ConfigError: the path cannot be imported, or does not give a converter; an instance
            that other processes could not rebuild.

    Example::

        import airfoil as af
        from airfoil.types import add_converter

        add_converter(MoneyConverter())

        @af.task
        def total(prices: list[Money]) -> Money: ...
    """
    global _default
    if isinstance(converter, str):
        path, instance = converter, resolve_converter(converter)
    else:
        path, instance = converter_path(converter), converter
    with _lock:
        if any(p == path for p, _ in _added):
            return default_type_engine()
        _default = default_type_engine().with_converter(instance, first=first)
        _added.append((path, first))
        return _default


def added_converters() -> tuple[tuple[str, bool], ...]:
    """The converters added to this process's engine, as ``(import path, first)``, in order:
    what a worker process needs to rebuild the same engine (:func:`load_converters`)."""
    with _lock:
        return tuple(_added)


def load_converters(paths: Iterable[str | tuple[str, bool]]) -> TypeEngine:
    """Add converters by import path (``"module:attr"``, or ``(path, first)`` pairs from
    :func:`added_converters`); those already added are skipped. Returns the new engine.

    Raises:
        ConfigError: a path cannot be imported or does not give a converter.
    """
    engine = default_type_engine()
    for item in paths:
        path, first = (item, True) if isinstance(item, str) else item
        engine = add_converter(path, first=first)
    return engine


def converter_path(converter: Converter) -> str:
    """The import path other processes rebuild ``converter`` from (``"module:Class"``).

    Raises:
        ConfigError: its class is not importable by name (defined inside a function), or it
            cannot be built with no arguments.
    """
    cls = type(converter)
    if not isinstance(converter, Converter):
        raise ConfigError(f"{converter!r} is not a airfoil.types.Converter")
    qual = cls.__qualname__
    if "<locals>" in qual:
        raise ConfigError(
            f"converter class {qual} is defined inside a function: define it at a module's top "
            "level so worker processes can import it"
        )
    module = importable_module(cls.__module__)  # a script: workers import it by its file's name
    try:
        cls()
    except TypeError as exc:
        raise ConfigError(
            f"converter {cls.__qualname__} cannot be built with no arguments ({exc}): worker "
            "processes rebuild converters by import path; pass the path of a function that "
            'returns it instead, e.g. add_converter("mymodule:make_converter")'
        ) from None
    return f"{module}:{qual}"


def resolve_converter(path: str) -> Converter:
    """The converter an import path names (a class built with no arguments, a function called
    with none, or a converter instance).

    Raises:
        ConfigError: the module cannot be imported, has no such name, or it gives no converter.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"invalid converter path {path!r}: write it as 'module:name'")
    try:
        obj: object = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"cannot import converter module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigError(f"module {module_name!r} has no {attr!r} (converter {path!r})")
    if isinstance(obj, Converter):
        return obj
    if callable(obj):
        try:
            made = cast(Callable[[], object], obj)()
        except TypeError as exc:
            raise ConfigError(
                f"converter {path!r} cannot be built with no arguments: {exc}"
            ) from None
        if isinstance(made, Converter):
            return made
        obj = made
    raise ConfigError(f"{path!r} gives {obj!r}, not an airfoil.types.Converter")


def _reset_for_tests() -> None:
    """Forget every added converter (tests only)."""
    global _default
    with _lock:
        _default = None
        _added.clear()
