"""Binding launch inputs to an interface: the one path for Python values (``wf(x=1)``,
``Client.launch`` locally, child calls), command-line text (``airfoil run FILE wf --x 3``)
and JSON (the API, the console), with the same checks and the same typed errors.

:class:`InputBinder` checks the names given against the interface (unknown ones refused,
missing ones filled from defaults or refused), converts each value with the type engine and
turns every failure into an :class:`~airfoil.core.errors.InvalidInputError` worded one way:

- ``wf has no input(s) 'y'; its inputs: a, b``
- ``wf needs input 'a' (int) but it was not given``
- ``wf: input 'a' expects int: <what was wrong>`` (``input --a`` on the command line, where
  the input was given as that flag)

What differs between the sources is only how one value is converted: a Python value is
checked against the annotation and serialised; a command-line text is parsed by the type's
handler (``parse_cli``) first; JSON is converted with the type spec alone (the server never
imports user code), and inputs whose values are not JSON (files, frames, arrays, a user
converter's kinds: :func:`~airfoil.types._refs.travels_as_reference`) are resolved by the
caller's ``references`` function (the server's uploads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from airfoil.core.errors import ConfigError, InvalidInputError, TypeTransformError
from airfoil.core.records import Interface, Param, Value
from airfoil.types._base import ValueContext
from airfoil.types._engine import TypeEngine
from airfoil.types._refs import is_upload_list, travels_as_reference

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "InputBinder",
    "References",
    "check_input_ints",
    "input_ints_problem",
    "out_of_int64",
]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def out_of_int64(where: str, value: int) -> str:
    """Why ``value`` (an int outside the signed 64-bit range) is refused as a run's input,
    and the fix: one wording for a local run and a server."""
    size = len(str(abs(value))) if abs(value) < 10**4000 else "over 4000"
    return (
        f"{where} is an integer of {size} digits, outside the signed 64-bit range "
        f"[{INT64_MIN}, {INT64_MAX}] that an int input holds (locally as on a server): "
        "pass a larger number as a str, or as a float if an approximation will do"
    )


#: Resolves a reference-typed JSON input: ``(param, data) -> Value``; raises
#: ``InvalidInputError`` naming the input when the reference is bad.
References = Callable[[Param, Any], Value]


class InputBinder:
    """Binds inputs to one interface (see the module docstring).

    Args:
        owner: the task, workflow or launch plan's name, for the errors.
        interface: its interface (names, type specs, stored defaults).
        engine: the type engine (the runtime's codecs).
        ctx: where offloaded values are written (not needed to parse texts).
        py_types: the Python annotations of the inputs (Python and text sources only).
    """

    def __init__(
        self,
        owner: str,
        interface: Interface,
        engine: TypeEngine,
        ctx: ValueContext | None = None,
        py_types: Mapping[str, Any] | None = None,
    ) -> None:
        self.owner = owner
        self.interface = interface
        self.engine = engine
        self._ctx = ctx
        self.py_types: Mapping[str, Any] = py_types or {}

    @property
    def ctx(self) -> ValueContext:
        """Where values are written.

        Raises:
            ConfigError: the binder was built without one (to parse texts only).
        """
        if self._ctx is None:
            raise ConfigError("this input binder has no blob store: it can only parse texts")
        return self._ctx

    # --- the three sources ----------------------------------------------------------------

    def from_python(self, given: Mapping[str, Any]) -> dict[str, Value]:
        """Python values, checked against the annotations and serialised.

        Raises:
            InvalidInputError: an unknown, missing or ill-typed input.
        """

        def convert(p: Param, value: Any) -> Value:
            tp = self._annotation(p)
            self.engine.check_value(value, tp)
            check_input_ints(value, p.name)
            return self.engine.to_value(value, tp, self.ctx)

        return self._bind(given, convert, self._python_null)

    def from_text(self, given: Mapping[str, str | bool]) -> dict[str, Any]:
        """Command-line texts parsed into Python values (a ``bool`` is a flag given as
        ``--x`` / ``--no-x``); bind the result with :meth:`from_python`.

        Raises:
            InvalidInputError: an unknown input, or a text that does not parse as its type.
        """
        self._check_names(given)
        out: dict[str, Any] = {}
        for p in self.interface.inputs:
            if p.name not in given:
                continue
            text = given[p.name]
            if isinstance(text, bool):
                out[p.name] = text
                continue
            try:
                out[p.name] = self.engine.parse_cli(text, self._annotation(p))
            except TypeTransformError as exc:  # named as the user typed it: the flag
                raise self.type_error(p, exc, "--" + p.name.replace("_", "-")) from None
        return out

    def from_json(
        self,
        given: Mapping[str, Any],
        references: References | None = None,
        *,
        partial: bool = False,
    ) -> dict[str, Value]:
        """JSON values converted with the type specs alone; inputs that travel as references
        are resolved by ``references`` (refused without one). With ``partial``, only the
        inputs given are converted (a launch plan fills the others from its own).

        Raises:
            InvalidInputError: an unknown, missing or ill-typed input, or a bad reference.
        """
        from airfoil.types._from_json import from_jsonable

        def convert(p: Param, data: Any) -> Value:
            if travels_as_reference(p.type) or is_upload_list(p.type):
                if references is None:
                    raise InvalidInputError(
                        f"{self.owner}: input {p.name!r} expects {p.type}, which is not JSON: "
                        "give it from Python or upload it to a server"
                    )
                return references(p, data)
            return from_jsonable(data, p.type, self.engine, self.ctx)

        return self._bind(given, convert, self._json_null, partial=partial)

    def fill_defaults(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Inputs already converted, with the interface's defaults for those not given: a
        stored default as it is, a default of ``None`` as :meth:`from_json` binds it.

        Raises:
            InvalidInputError: an unknown input, one with neither a value nor a default, or a
                ``None`` default its type does not admit.
        """
        return self._bind(values, lambda _p, value: value, self._json_null)

    # --- what every source shares ---------------------------------------------------------

    def type_error(
        self, param: Param, exc: Exception, spelled: str | None = None
    ) -> InvalidInputError:
        """The error of a value that does not fit its input's type (``spelled``: how the
        input was named where it was given, default its quoted name)."""
        name = spelled or repr(param.name)
        return InvalidInputError(f"{self.owner}: input {name} expects {param.type}: {exc}")

    def _check_names(self, given: Mapping[str, object]) -> None:
        names = [p.name for p in self.interface.inputs]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise InvalidInputError(
                f"{self.owner} has no input(s) {', '.join(map(repr, unknown))}; its inputs: "
                f"{', '.join(names) or 'none'}"
            )

    def _bind(
        self,
        given: Mapping[str, Any],
        convert: Callable[[Param, Any], Value],
        null: Callable[[Param], Value],
        *,
        partial: bool = False,
    ) -> dict[str, Value]:
        self._check_names(given)
        values: dict[str, Value] = {}
        for p in self.interface.inputs:
            if partial and p.name not in given:
                continue
            try:
                if p.name in given:
                    values[p.name] = convert(p, given[p.name])
                elif p.has_default and p.default is not None:
                    values[p.name] = p.default
                elif p.has_default:
                    values[p.name] = null(p)
                else:
                    raise InvalidInputError(
                        f"{self.owner} needs input {p.name!r} ({p.type}) but it was not given"
                    )
            except TypeTransformError as exc:
                raise self.type_error(p, exc) from None
        return values

    def _annotation(self, p: Param) -> Any:
        try:
            return self.py_types[p.name]
        except KeyError:
            raise InvalidInputError(
                f"{self.owner}: input {p.name!r} has no Python type here: bind it from JSON"
            ) from None

    def _json_null(self, p: Param) -> Value:
        from airfoil.types._from_json import from_jsonable

        return from_jsonable(None, p.type, self.engine, self.ctx)

    def _python_null(self, p: Param) -> Value:
        return self.engine.to_value(None, self._annotation(p), self.ctx)


def _of(where: str, owner: str) -> str:
    return f"{where} of {owner}" if owner else where


def check_input_ints(value: Any, where: str, owner: str = "") -> None:
    """:func:`input_ints_problem`, raised.

    Raises:
        TypeTransformError: naming where the int is and the fix.
    """
    problem = input_ints_problem(value, where, owner)
    if problem is not None:
        raise TypeTransformError(problem)


def input_ints_problem(value: Any, where: str, owner: str = "") -> str | None:
    """The bound a server puts on a launch's JSON inputs (``airfoil.wire._limits``), for a
    Python value: every int in it fits a signed 64-bit integer, so a run takes the same
    inputs locally and on a server. The same bound holds for what a caller hands a child
    (a workflow's or a ``@dynamic`` body's constants, a task calling a task, ``map_task``
    items): the child's inputs. Values a task computes and returns are not bounded.

    ``where`` names the value (``input 'x'``), ``owner`` what it is an input of: an int inside
    the value is named by its place next to ``where`` (``input 'x'[1] of flow.inc``).
    Returns what is wrong (where the int is and the fix), or None.
    """
    kind = type(value)
    if kind is int:  # the common case, at the cost of two comparisons
        if not INT64_MIN <= value <= INT64_MAX:
            return out_of_int64(_of(where, owner), value)
        return None
    if kind in _LEAVES or value is None:
        return None
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return out_of_int64(_of(path, owner), item)
        elif depth > 64 or kind in _LEAVES or item is None:
            continue
        elif isinstance(item, (list, tuple, set, frozenset)):
            if not _within(item):
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            if not _within(item):  # its keys
                stack.extend((k, f"{path} key {k!r}", depth + 1) for k in item)
            values = list(item.values())
            if not _within(values):
                stack.extend((v, f"{path}[{k!r}]", depth + 1) for k, v in item.items())
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(
                (getattr(item, f.name), f"{path}.{f.name}", depth + 1)
                for f in dataclasses.fields(item)
            )
        elif hasattr(type(item), "model_fields") and not isinstance(item, type):
            stack.extend(
                (getattr(item, n, None), f"{path}.{n}", depth + 1) for n in type(item).model_fields
            )
    return None


_LEAVES = frozenset({float, str, bytes, bool})
_NUMBERS = frozenset({int, float, bool})


def _within(items: Any) -> bool:
    """Whether a collection surely holds no int outside 64 bits, found in C: all texts, or
    numbers whose least and greatest are inside the range (so is every number between;
    a NaN that hides one makes the least or greatest NaN, never inside). False: look at
    each element."""
    try:
        lo, hi = min(items), max(items)
    except (TypeError, ValueError):  # mixed kinds, containers, empty
        return not items
    if type(lo) in (str, bytes):  # a text compares with texts only: all are texts
        return True
    return type(lo) in _NUMBERS and type(hi) in _NUMBERS and lo >= INT64_MIN and hi <= INT64_MAX
