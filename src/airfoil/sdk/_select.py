"""Attribute and index access on promises: ``out.field``, ``out[0]``, ``out["key"]``.

Inside a workflow body, reading a field of a task's output (a dataclass, pydantic model or
NamedTuple), an item of a list or tuple, or the value of a dict key cannot happen yet: the
value does not exist. Each access is type-checked here, at definition time (an unknown field
or a wrong index type raises, naming the workflow and the line), and becomes a small *select*
node of the workflow: a task whose input is the whole value and whose output is the part
(typed as the field, item or value type), resolved when the workflow runs. Chained accesses
(``out.a.b[0]``) make one node per step.

A select node's task is built here with the real Python types and registered as a live task
under the workflow's module (so a worker process that imports that module finds it again);
where it cannot be found that way (a dynamic workflow's selection in a fresh process), the
runtime rebuilds it from the spec alone (:func:`select_task_from_spec`) for JSON-encoded types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from airfoil.core.errors import BindingTypeError, UnknownOutputError
from airfoil.core.records import TaskSpec

__all__ = [
    "SELECT_PREFIX",
    "describe_path",
    "field_type",
    "select",
    "select_task_from_spec",
    "walk",
]

#: The qualname prefix of select tasks (the loader recognises them by it).
SELECT_PREFIX = "_airfoil_select_"
#: Select tasks made in this process, kept alive (the live-task registry holds weak refs).
_MADE: dict[tuple[str, str], Any] = {}

Step = tuple[str, Any]  # ("attr", name) | ("item", index or key)


def describe_path(path: Sequence[Step]) -> str:
    """``.field[0]['key']``: the path as Python would write it."""
    return "".join(f".{s}" if kind == "attr" else f"[{s!r}]" for kind, s in path)


def walk(value: Any, path: Sequence[Step]) -> Any:
    """The part of ``value`` that ``path`` names (run time)."""
    for kind, step in path:
        value = getattr(value, step) if kind == "attr" else value[step]
    return value


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _fields(tp: Any) -> dict[str, Any] | None:
    """Field name -> annotation of a dataclass, pydantic model or NamedTuple (else None)."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(tp)}
    model_fields = getattr(tp, "model_fields", None)
    if isinstance(tp, type) and isinstance(model_fields, dict):
        return {n: f.annotation for n, f in model_fields.items()}
    if isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields"):
        return dict(typing.get_type_hints(tp, include_extras=True))
    return None


def _fail(error: type[BindingTypeError | UnknownOutputError], message: str) -> NoReturn:
    from airfoil.sdk._compile import current_location, current_workflow_name

    raise error(message, workflow=current_workflow_name(), location=current_location())


def field_type(owner: Any, step: Step, what: str) -> Any:
    """The type of ``step`` of a value of type ``owner`` (definition time).

    Raises:
        UnknownOutputError: no such field.
        BindingTypeError: the type has no fields / items, or the index has the wrong type.
    """
    tp = _strip(owner)
    kind, key = step
    if kind == "attr":
        fields = _fields(tp)
        if fields is None:
            _fail(
                BindingTypeError,
                f"`{what}.{key}`: {what} has type {_name(tp)}, which has no fields; attribute "
                "access works on dataclass, pydantic and NamedTuple outputs",
            )
        if key not in fields:
            _fail(
                UnknownOutputError,
                f"`{what}.{key}`: {_name(tp)} has no field {key!r} "
                f"(its fields: {', '.join(fields) or 'none'})",
            )
        return fields[key]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    fields = _fields(tp)
    if fields is not None and isinstance(tp, type) and issubclass(tp, tuple):
        origin, args = tuple, tuple(fields.values())
    if origin is list or origin is Sequence or tp is list:
        _need(isinstance(key, int) and not isinstance(key, bool), what, key, "an int", tp)
        return args[0] if args else Any
    if origin is tuple or tp is tuple:
        _need(isinstance(key, int) and not isinstance(key, bool), what, key, "an int", tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if not args:
            return Any
        if not -len(args) <= key < len(args):
            _fail(
                BindingTypeError,
                f"`{what}[{key!r}]`: index out of range for {_name(tp)} ({len(args)} items)",
            )
        return args[key]
    if origin is dict or origin is Mapping or tp is dict:
        if args:
            key_type = _strip(args[0])
            ok = isinstance(key, key_type) if isinstance(key_type, type) else True
            _need(ok, what, key, _name(key_type), tp)
            return args[1]
        return Any
    _fail(
        BindingTypeError,
        f"`{what}[{key!r}]`: {what} has type {_name(tp)}, which cannot be indexed; indexing "
        "works on list, tuple, dict and NamedTuple outputs",
    )


def _need(ok: bool, what: str, key: Any, expected: str, tp: Any) -> None:
    if not ok:
        _fail(
            BindingTypeError,
            f"`{what}[{key!r}]`: {_name(tp)} is indexed by {expected}, not {type(key).__name__}",
        )


def _name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return str(tp).replace("typing.", "")


def _make_fn(path: tuple[Step, ...], in_type: Any, out_type: Any, module: str, qual: str) -> Any:
    def select_part(value: Any) -> Any:
        return walk(value, path)

    select_part.__annotations__ = {"value": in_type, "return": out_type}
    select_part.__module__ = module
    select_part.__qualname__ = select_part.__name__ = qual
    return select_part


def _qualname(spec_name: str, path: tuple[Step, ...], in_spec: Any, out_spec: Any) -> str:
    digest = hashlib.sha256(repr((spec_name, path, in_spec, out_spec)).encode()).hexdigest()
    return f"{SELECT_PREFIX}{digest[:16]}"


def select(promise: Any, path: tuple[Step, ...], out_type: Any) -> Any:
    """A select node reading ``path`` of ``promise`` (definition time): its output promise."""
    from airfoil.sdk._compile import active, current_location
    from airfoil.sdk._promise import Promise
    from airfoil.sdk._task import task

    ctx = active()
    if ctx is None:  # pragma: no cover - promises exist only while a workflow is built
        raise BindingTypeError("attribute access on a promise outside a workflow body")
    module = ctx.module or __name__
    out_spec = ctx.engine.to_spec(out_type)
    qual = _qualname(promise.spec.name, path, promise.spec, out_spec)
    made = _MADE.get((module, qual))
    if made is None:
        label = (promise._label or promise.binding.name) + describe_path(path)
        fn = _make_fn(path, promise.py_type, out_type, module, qual)
        safe = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_")[:60]
        # A name a server accepts (letters, digits, _ . -), unique per selection.
        made = task(name=f"{module}.select_{safe}_{qual[-6:]}")(fn)
        made._node_label = label[:80]
        made._options["config"] = {"select": [list(s) for s in path]}
        _MADE[(module, qual)] = made
    location = current_location()
    result = made(value=promise)
    if location:
        ctx.nodes[-1].location = location
    if isinstance(result, Promise):  # a tuple-typed part is several outputs, as a task's
        result._label = label_of(made)
    return result


def label_of(made: Any) -> str:
    label = made._node_label
    return label if isinstance(label, str) else ""


def select_task_from_spec(spec: TaskSpec) -> Any:
    """A select task rebuilt from its spec alone (stand-in types for JSON-encoded values)."""
    from airfoil.sdk._task import task
    from airfoil.types._from_json import python_type_of

    in_type = python_type_of(spec.interface.inputs[0].type)
    out_type = python_type_of(spec.interface.outputs[0].type)
    path = tuple((str(k), v) for k, v in spec.config.get("select", ()))
    key = (spec.module, spec.qualname)
    made = _MADE.get(key)
    if made is None:
        fn = _make_fn(tuple(path), in_type, out_type, spec.module, spec.qualname)
        made = _MADE[key] = task(name=spec.name)(fn)
        made._options["config"] = dict(spec.config)
    return made
