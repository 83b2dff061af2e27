"""Promises: the future outputs of nodes while a workflow is being built.

A promise is a placeholder, not a value: using it as one (``if p:``, ``len(p)``, ``p + 1``,
``for x in p``) raises :class:`~airfoil.core.errors.PromiseMisuseError` at definition time,
naming the workflow, the line and what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from airfoil.core.errors import BindingTypeError, PromiseMisuseError, UnknownOutputError
from airfoil.core.records import Binding, Condition, TypeSpec

__all__ = ["Expr", "NodeOutputs", "Promise", "compare"]


def _misuse(promise: Promise, what: str) -> NoReturn:
    from airfoil.sdk._compile import current_location, current_workflow_name

    raise PromiseMisuseError(
        f"{what} on {promise.describe()}: while a workflow is being built, task outputs are "
        "promises of future values, not values. Move the logic into a task (or a @dynamic "
        "workflow), or use af.conditional for branches",
        workflow=current_workflow_name(),
        location=current_location(),
    )


class Promise:
    """The future value of a workflow input or of one output of a node."""

    __slots__ = ("_label", "binding", "py_type", "spec")

    def __init__(self, binding: Binding, spec: TypeSpec, py_type: Any, label: str = "") -> None:
        self.binding = binding
        self.spec = spec
        self.py_type = py_type
        self._label = label  # what produces it, in the user's words (``as_text``)

    def describe(self) -> str:
        """The promise in the user's words, for errors: ``the output of as_text (str)``,
        ``output 'accuracy' of train (float)``, ``the workflow input 'n' (int)``."""
        b = self.binding
        if b.kind == "input":
            return f"the workflow input {b.name!r} ({self.spec})"
        producer = self._label or f"node {b.node}"
        if b.name == "o0":
            return f"the output of {producer} ({self.spec})"
        return f"output {b.name!r} of {producer} ({self.spec})"

    @property
    def node_id(self) -> str:
        return self.binding.node

    def with_overrides(self, *, name: str | None = None, **overrides: Any) -> Promise:
        """Override the node that produces this output, as flytekit's ``with_overrides``.

        ``name=`` labels the node (shown in the console, the CLI and logs):
        ``train(model="lr").with_overrides(name="lr")``. ``requests=`` / ``limits=`` /
        ``resources=`` (:class:`~airfoil.Resources`), ``retries=``, ``timeout=`` and
        ``interruptible=`` replace the task's settings for this call only. Cluster-only
        settings (``container_image``, ``accelerator``, ``pod_template``...) are accepted and
        recorded. Returns the same promise.

        Raises:
            DefinitionError: an unknown keyword or a value of the wrong kind.
        """
        if self.binding.kind != "output":
            from airfoil.sdk._compile import current_location, current_workflow_name

            raise PromiseMisuseError(
                f"with_overrides on {self!r}: only the outputs of a call have a node to name",
                workflow=current_workflow_name(),
                location=current_location(),
            )
        _override(self.binding.node, name, overrides)
        return self

    def __repr__(self) -> str:
        b = self.binding
        if b.kind == "input":
            return f"Promise(input {b.name!r}: {self.spec})"
        return f"Promise({b.node}.{b.name}: {self.spec})"

    def __bool__(self) -> bool:
        _misuse(self, "truth test (`if`, `and`, `or`, `not`)")

    def __len__(self) -> int:
        _misuse(self, "len()")

    def __iter__(self) -> Iterator[Any]:
        _misuse(self, "iteration")

    def __contains__(self, item: Any) -> bool:
        _misuse(self, "`in`")

    def __getattr__(self, name: str) -> Any:
        """``out.field``: a field of a dataclass / pydantic / NamedTuple output, read when the
        workflow runs (type-checked now; see :mod:`airfoil.sdk._select`)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self._select(("attr", name))

    def __getitem__(self, item: Any) -> Any:
        """``out[0]`` / ``out["key"]``: an item of a list, tuple or dict output, read when the
        workflow runs (the index's type is checked now)."""
        if isinstance(item, (Promise, slice)):
            _misuse(self, "indexing with a promise or a slice")
        return self._select(("item", item))

    def _select(self, step: tuple[str, Any]) -> Any:
        from airfoil.sdk._select import field_type, select

        what = self._label or self.binding.name or "the output"
        out_type = field_type(self.py_type, step, what)
        return select(self, (step,), out_type)

    def __int__(self) -> int:
        _misuse(self, "int()")

    def __float__(self) -> float:
        _misuse(self, "float()")

    def __index__(self) -> int:
        _misuse(self, "use as an index")

    def __rshift__(self, other: Any) -> Any:
        from airfoil.sdk._compile import add_order

        return add_order(self.binding.node, other)

    def _arith(self, *_: Any) -> Any:
        _misuse(self, "arithmetic")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __pow__ = _arith
    __neg__ = __pos__ = __abs__ = _arith
    __hash__ = object.__hash__

    # Comparisons build conditions for ``af.conditional`` (they are not values either).
    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return compare(self, "==", other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return compare(self, "!=", other)

    def __lt__(self, other: Any) -> Expr:
        return compare(self, "<", other)

    def __le__(self, other: Any) -> Expr:
        return compare(self, "<=", other)

    def __gt__(self, other: Any) -> Expr:
        return compare(self, ">", other)

    def __ge__(self, other: Any) -> Expr:
        return compare(self, ">=", other)

    def is_true(self) -> Expr:
        """Condition: this boolean promise is true."""
        return _unary(self, "is_true", ("bool",))

    def is_false(self) -> Expr:
        """Condition: this boolean promise is false."""
        return _unary(self, "is_false", ("bool",))

    def is_none(self) -> Expr:
        """Condition: this optional promise is None."""
        return _unary(self, "is_none", None)


_COMPARABLE = {"int", "float", "bool", "str", "none", "datetime", "date", "timedelta"}
_NUMERIC = {"int", "float"}


def _kinds(spec: TypeSpec) -> set[str]:
    if spec.kind == "union":
        out: set[str] = set()
        for a in spec.args:
            out |= _kinds(a)
        return out
    return {spec.kind}


def _condition_error(message: str) -> NoReturn:
    from airfoil.core.errors import BindingTypeError
    from airfoil.sdk._compile import current_location, current_workflow_name

    raise BindingTypeError(
        f"bad condition: {message}",
        workflow=current_workflow_name(),
        location=current_location(),
    )


class Expr:
    """A condition over promises, for ``af.conditional(...).if_(expr)``.

    Combine with ``&`` and ``|``; a Python ``and`` / ``or`` / ``if`` on it is an error.
    """

    __slots__ = ("condition",)

    def __init__(self, condition: Condition) -> None:
        self.condition = condition

    def __and__(self, other: Expr) -> Expr:
        if not isinstance(other, Expr):
            _condition_error("`&` combines two conditions")
        return Expr(Condition(kind="and", left=self.condition, right=other.condition))

    def __or__(self, other: Expr) -> Expr:
        if not isinstance(other, Expr):
            _condition_error("`|` combines two conditions")
        return Expr(Condition(kind="or", left=self.condition, right=other.condition))

    def __bool__(self) -> bool:
        from airfoil.sdk._compile import current_location, current_workflow_name

        raise PromiseMisuseError(
            f"truth test on the condition `{self.condition}`: a condition on promises is "
            "decided when the workflow runs. Use af.conditional(...).if_(cond).then(...), "
            "and `&` / `|` instead of `and` / `or`",
            workflow=current_workflow_name(),
            location=current_location(),
        )

    def __repr__(self) -> str:
        return f"Expr({self.condition})"


def _literal(value: Any) -> tuple[Binding, set[str]]:
    import msgspec

    from airfoil.core.ids import sha256_hex
    from airfoil.core.records import Value

    if value is None:
        kinds = {"none"}
    elif isinstance(value, bool):
        kinds = {"bool"}
    elif isinstance(value, int):
        kinds = {"int"}
    elif isinstance(value, float):
        kinds = {"float"}
    elif isinstance(value, str):
        kinds = {"str"}
    else:
        _condition_error(
            f"cannot compare with a constant of type {type(value).__name__}: conditions "
            "compare numbers, strings, booleans and None"
        )
    data = msgspec.json.encode(value)
    v = Value(hash=sha256_hex(data), format="json", inline=data, size=len(data))
    return Binding(kind="literal", value=v), kinds


def compare(left: Promise, op: str, right: Any) -> Expr:
    """``left op right`` as a condition, type-checked at definition time."""
    lkinds = _kinds(left.spec)
    if not lkinds <= _COMPARABLE:
        _condition_error(f"{left!r} of type {left.spec} cannot be compared with `{op}`")
    if isinstance(right, Promise):
        rb, rkinds = right.binding, _kinds(right.spec)
        if not rkinds <= _COMPARABLE:
            _condition_error(f"{right!r} of type {right.spec} cannot be compared with `{op}`")
    else:
        rb, rkinds = _literal(right)
    concrete_l, concrete_r = lkinds - {"none"}, rkinds - {"none"}
    numeric = concrete_l <= _NUMERIC and concrete_r <= _NUMERIC
    if concrete_l and concrete_r and not numeric and not (concrete_l & concrete_r):
        _condition_error(
            f"`{op}` between {left.spec} and {_type_name(right)}: "
            "the two sides must have comparable types"
        )
    if op not in ("==", "!=") and ("none" in lkinds - concrete_l or "none" in rkinds - concrete_r):
        pass  # an Optional compared with < fails at run time if it is None; allowed
    return Expr(Condition(kind="cmp", op=op, lhs=left.binding, rhs=rb))


def _type_name(value: Any) -> str:
    return str(value.spec) if isinstance(value, Promise) else type(value).__name__


def _unary(p: Promise, kind: str, allowed: tuple[str, ...] | None) -> Expr:
    kinds = _kinds(p.spec)
    if allowed is not None and not kinds - {"none"} <= set(allowed):
        _condition_error(f"{kind}() needs a bool promise; {p!r} is {p.spec}")
    if allowed is None and "none" not in kinds:
        _condition_error(f"is_none() needs an Optional promise; {p!r} is {p.spec}")
    return Expr(Condition(kind=kind, lhs=p.binding))


def _override(node: str, name: str | None, overrides: dict[str, Any]) -> None:
    from airfoil.core.errors import DefinitionError
    from airfoil.sdk._compile import current_location, current_workflow_name, override_node
    from airfoil.sdk._overrides import PLATFORM_ONLY, spec_overrides

    known = {"requests", "limits", "resources", "retries", "timeout", "interruptible", "cache"}
    known |= {"cache_version", "cache_serialize"}
    unknown = sorted(set(overrides) - known - PLATFORM_ONLY - {"node_name"})
    if unknown:
        raise DefinitionError(
            f"with_overrides got unknown keyword(s) {', '.join(unknown)}: it takes name, "
            f"{', '.join(sorted(known))} (and records {', '.join(sorted(PLATFORM_ONLY))})",
            workflow=current_workflow_name(),
            location=current_location(),
        )
    if name is None and overrides.get("node_name") is not None:
        name = overrides["node_name"]
    spec = spec_overrides("with_overrides", **{k: v for k, v in overrides.items() if k in known})
    platform = {k: v for k, v in overrides.items() if k in PLATFORM_ONLY}
    override_node(node, name, spec=spec, platform=platform)


class NodeOutputs:
    """The outputs of a node with several (``NamedTuple``) or no outputs.

    Unpack it (``a, b = t()``), index it, or read outputs by name (``t().accuracy``).
    """

    __slots__ = ("_node", "_promises", "_task")

    def __init__(self, node: str, task: str, promises: dict[str, Promise]) -> None:
        self._node = node
        self._task = task
        self._promises = promises

    @property
    def node_id(self) -> str:
        return self._node

    def with_overrides(self, *, name: str | None = None, **overrides: Any) -> NodeOutputs:
        """Override the node of this call (see :meth:`Promise.with_overrides`)."""
        _override(self._node, name, overrides)
        return self

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._promises[name]
        except KeyError:
            from airfoil.sdk._compile import current_location, current_workflow_name

            known = ", ".join(self._promises) or "none"
            raise UnknownOutputError(
                f"{self._task} has no output {name!r} (its outputs: {known})",
                workflow=current_workflow_name(),
                location=current_location(),
            ) from None

    def __iter__(self) -> Iterator[Promise]:
        return iter(self._promises.values())

    def __len__(self) -> int:
        return len(self._promises)

    def __getitem__(self, index: int | str) -> Promise:
        if isinstance(index, str):
            return self.__getattr__(index)
        outputs = list(self._promises.values())
        if isinstance(index, bool) or not isinstance(index, int):
            raise _outputs_error(self, f"outputs are indexed by an int, not {index!r}")
        if not -len(outputs) <= index < len(outputs):
            raise _outputs_error(self, f"index {index} out of range: it has {len(outputs)} outputs")
        return outputs[index]

    def __bool__(self) -> bool:
        raise PromiseMisuseError(f"truth test on the outputs of {self._task}")

    def __rshift__(self, other: Any) -> Any:
        from airfoil.sdk._compile import add_order

        return add_order(self._node, other)

    def __repr__(self) -> str:
        return f"NodeOutputs({self._node}: {', '.join(self._promises)})"


def _outputs_error(outputs: NodeOutputs, message: str) -> BindingTypeError:
    from airfoil.sdk._compile import current_location, current_workflow_name

    return BindingTypeError(
        f"{outputs._task}: {message}",
        workflow=current_workflow_name(),
        location=current_location(),
    )
