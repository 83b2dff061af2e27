"""Typed interfaces from Python signatures and docstrings.

Inputs come from parameters (annotations required; defaults allowed). Outputs come from the
return annotation: ``None`` -> no outputs; a ``typing.NamedTuple`` -> one output per field;
a fixed-length ``tuple[A, B]`` (or flytekit's ``-> (A, B)``) -> one output per element, named
``o0``, ``o1``... (as in flytekit: a workflow unpacks them, ``a, b = t()``); anything else ->
one output named ``o0``.
A ``tuple[T, ...]`` is one output (a variable-length tuple). Descriptions come from a
Google-style docstring (``Args:`` and ``Returns:`` sections).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.errors import DefinitionError, TypeTransformError
from airfoil.core.outputs import tuple_outputs
from airfoil.core.records import Interface, Param, Value

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["PyInterface", "build_interface", "is_fixed_tuple", "is_namedtuple", "pack_outputs"]

_SECTION_RE = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields)\s*:\s*$")
_ARG_RE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def is_namedtuple(tp: Any) -> bool:
    """Whether ``tp`` is a ``typing.NamedTuple`` class."""
    return (
        isinstance(tp, type)
        and issubclass(tp, tuple)
        and hasattr(tp, "_fields")
        and hasattr(tp, "__annotations__")
    )


def is_fixed_tuple(tp: Any) -> bool:
    """Whether ``tp`` is a fixed-length ``tuple[A, B, ...]`` of two or more elements (a
    ``tuple[T, ...]`` or a one-element ``tuple[T]`` stays one output)."""
    if typing.get_origin(tp) is not tuple:
        return False
    args = typing.get_args(tp)
    return len(args) >= 2 and Ellipsis not in args


def pack_outputs(py: PyInterface, decoded: dict[str, Any]) -> Any:
    """Decoded outputs (by name) as the value the signature promises: ``None``, the single
    value, the ``NamedTuple`` or the plain ``tuple``."""
    style = py.interface.output_style
    if style == "none":
        return None
    if style == "single":
        return decoded["o0"]
    if style == "tuple":
        return tuple_outputs(tuple(py.output_types))(*(decoded[n] for n in py.output_types))
    return py.return_type(**decoded)


class PyInterface(msgspec.Struct, frozen=True):
    """An interface together with the Python types it was built from."""

    interface: Interface
    input_types: dict[str, Any]
    output_types: dict[str, Any]
    defaults: dict[str, Any]
    return_type: Any

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(self.input_types)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str], str]:
    """Split a Google-style docstring into (summary, {arg: description}, returns)."""
    if not doc:
        return "", {}, ""
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    returns: list[str] = []
    section = "summary"
    current: str | None = None
    for line in lines:
        m = _SECTION_RE.match(line)
        if m:
            section = m.group(1).lower()
            current = None
            continue
        if section == "summary":
            summary.append(line)
        elif section in ("args", "arguments", "parameters"):
            am = _ARG_RE.match(line)
            if am and (len(line) - len(line.lstrip())) <= 4:
                current = am.group(1).lstrip("*")
                args[current] = am.group(3).strip()
            elif current and line.strip():
                args[current] = (args[current] + " " + line.strip()).strip()
        elif section in ("returns", "return") and line.strip():
            returns.append(line.strip())
    return "\n".join(summary).strip(), args, " ".join(returns)


def build_interface(
    fn: Callable[..., Any],
    engine: TypeEngine,
    *,
    kind: str,
    name: str,
    literal_value: Callable[[Any, Any, str], Value],
) -> PyInterface:
    """Build the typed interface of a task or workflow function.

    Args:
        fn: the user's function.
        engine: the type engine.
        kind: ``"task"`` or ``"workflow"`` (for messages).
        name: the entity's name (for messages).
        literal_value: turns a default value into a :class:`Value` given (value, type, name).

    Raises:
        DefinitionError: a parameter lacks an annotation, is variadic, or has an
            unsupported type; a default does not fit its type.
    """
    location = _location(fn)
    try:
        # include_extras: Annotated metadata (column subsets...) reaches the converters
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for forward refs, TypeError for bad hints
        raise DefinitionError(
            f"could not resolve the type annotations of {kind} {name!r}: {exc}",
            location=location,
        ) from None
    sig = inspect.signature(fn)
    _summary, arg_docs, return_doc = parse_docstring(fn.__doc__)
    params: list[Param] = []
    input_types: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for pname, p in sig.parameters.items():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise DefinitionError(
                f"{kind} {name!r} has a variadic parameter *{pname}: Airfoil needs a fixed, "
                "typed interface; use a list or dict parameter instead",
                location=location,
            )
        if pname not in hints:
            raise DefinitionError(
                f"parameter {pname!r} of {kind} {name!r} has no type annotation: annotate it, "
                f"e.g. `{pname}: int`",
                location=location,
            )
        tp = hints[pname]
        spec = _spec(engine, tp, f"parameter {pname!r} of {kind} {name!r}", location)
        default_value: Value | None = None
        has_default = p.default is not inspect.Parameter.empty
        if has_default:
            defaults[pname] = p.default
            try:
                default_value = literal_value(p.default, tp, pname)
            except TypeTransformError as exc:
                raise DefinitionError(
                    f"default of parameter {pname!r} of {kind} {name!r} does not fit its type "
                    f"{spec}: {exc}",
                    location=location,
                ) from None
            from airfoil.types._binding import input_ints_problem

            # a default is an input: the 64-bit rule of a run's inputs
            problem = input_ints_problem(
                p.default, f"the default of parameter {pname!r}", f"{kind} {name!r}"
            )
            if problem is not None:
                raise DefinitionError(problem, location=location)
        input_types[pname] = tp
        params.append(
            Param(
                name=pname,
                type=spec,
                description=arg_docs.get(pname, ""),
                default=default_value,
                has_default=has_default,
            )
        )
    # An unannotated return is treated as "no outputs".
    ret: Any = hints.get("return")
    if isinstance(ret, tuple) and ret:  # flytekit's `-> (A, B)`: a tuple of types
        ret = tuple.__class_getitem__(ret)  # tuple[(A, B)] is tuple[A, B]
    output_types: dict[str, Any] = {}
    outputs: list[Param] = []
    style = "none"
    tuple_name = ""
    if ret is None or ret is type(None):
        style = "none"
    elif is_namedtuple(ret):
        style = "named"
        tuple_name = ret.__name__
        field_hints = typing.get_type_hints(ret, include_extras=True)
        for fname in ret._fields:
            ftp = field_hints[fname]
            output_types[fname] = ftp
            outputs.append(
                Param(
                    name=fname,
                    type=_spec(engine, ftp, f"output {fname!r} of {kind} {name!r}", location),
                )
            )
    elif is_fixed_tuple(ret):
        style = "tuple"
        tuple_name = "tuple"
        for i, etp in enumerate(typing.get_args(ret)):
            oname = f"o{i}"
            output_types[oname] = etp
            outputs.append(
                Param(
                    name=oname,
                    type=_spec(engine, etp, f"output {i} of {kind} {name!r}", location),
                )
            )
    else:
        style = "single"
        output_types["o0"] = ret
        outputs.append(
            Param(
                name="o0",
                type=_spec(engine, ret, f"the return type of {kind} {name!r}", location),
                description=return_doc,
            )
        )
    iface = Interface(
        inputs=tuple(params),
        outputs=tuple(outputs),
        output_style=style,
        output_tuple_name=tuple_name,
    )
    return PyInterface(
        interface=iface,
        input_types=input_types,
        output_types=output_types,
        defaults=defaults,
        return_type=ret,
    )


def _spec(engine: TypeEngine, tp: Any, what: str, location: str) -> Any:
    try:
        return engine.to_spec(tp)
    except TypeTransformError as exc:
        raise DefinitionError(f"{what} has an unsupported type: {exc}", location=location) from None


def _location(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    return f"{code.co_filename}:{code.co_firstlineno}"
