"""Workflows built step by step (flytekit's ``ImperativeWorkflow``) and ``create_node``.

::

    wb = af.ImperativeWorkflow(name="pipeline")
    n = wb.add_workflow_input("n", int)
    first = wb.add_entity(square, x=n)
    wb.add_workflow_output("total", wb.add_entity(add, a=first.outputs["o0"], b=n).outputs["o0"])
    wb(n=3)  # runs it, like any workflow

One output is the workflow's single output (``o0``: its value when called, as in flytekit);
several are a named tuple of them.

The builder records inputs, calls and outputs as references; on first use (a call, its
``spec``) it becomes an ordinary :class:`~airfoil.sdk._workflow.WorkflowDef`, whose body
replays the recorded calls with promises -- so every binding is type-checked the same way as
in a ``@workflow`` body, and nothing else in Airfoil knows it was built imperatively.

``wb.create_conditional(name)`` adds a conditional, written as in a workflow body (flytekit's
way): conditions compare the builder's references (``x > 3``, ``x.is_true()``, ``&``, ``|``),
and while it is open a task or workflow called with references records the call for its
branch instead of running::

    c = wb.create_conditional("sign")
    out = c.if_(x > 0).then(positive(x=x)).else_().then(negative(x=x))
    wb.add_workflow_output("o", out)

``create_node(entity, **inputs)`` inside a ``@workflow`` body calls ``entity`` and returns
its node: ``node.outputs["o0"]`` / ``node.o0`` are its outputs; ``a >> b`` orders two nodes.
"""

from __future__ import annotations

import contextvars
import operator
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from airfoil.core.errors import DefinitionError

__all__ = ["ImperativeWorkflow", "Node", "create_node", "deferred_call"]

# The imperative conditional being written, if any: calls with references are recorded for it.
_recording: contextvars.ContextVar[_Conditional | None] = contextvars.ContextVar(
    "airfoil_imperative_conditional", default=None
)

_Resolver = Callable[[dict[str, Any], list[Any]], Any]


class _Cond:
    """A builder-time condition: made into the workflow body's condition when it is replayed."""

    def __init__(self, make: _Resolver) -> None:
        self.make = make

    def __and__(self, other: _Cond) -> _Cond:
        return _Cond(lambda i, m: self.make(i, m) & other.make(i, m))

    def __or__(self, other: _Cond) -> _Cond:
        return _Cond(lambda i, m: self.make(i, m) | other.make(i, m))

    def __bool__(self) -> bool:
        raise DefinitionError(
            "a condition on a workflow's inputs or outputs is decided when the workflow runs: "
            "give it to if_() / elif_(), combine conditions with & and |, not and / or / if"
        )


def _compare(op: Callable[[Any, Any], Any]) -> Callable[[_Ref, Any], _Cond]:
    def method(self: _Ref, other: Any) -> _Cond:
        return _Cond(lambda i, m: op(_resolve(self, i, m), _resolve(other, i, m)))

    return method


@dataclass(frozen=True, eq=False)
class _Ref:
    """A builder-time reference: a workflow input, or output ``name`` of step ``step``.
    Comparisons make conditions for :meth:`ImperativeWorkflow.create_conditional`."""

    name: str
    py_type: Any
    step: int = -1  # -1: a workflow input

    __eq__ = _compare(operator.eq)  # type: ignore[assignment]
    __ne__ = _compare(operator.ne)  # type: ignore[assignment]
    __lt__ = _compare(operator.lt)
    __le__ = _compare(operator.le)
    __gt__ = _compare(operator.gt)
    __ge__ = _compare(operator.ge)
    __hash__ = object.__hash__

    def is_true(self) -> _Cond:
        return _Cond(lambda i, m: _resolve(self, i, m).is_true())

    def is_false(self) -> _Cond:
        return _Cond(lambda i, m: _resolve(self, i, m).is_false())

    def is_none(self) -> _Cond:
        return _Cond(lambda i, m: _resolve(self, i, m).is_none())

    def __rshift__(self, other: Any) -> Any:
        raise DefinitionError("order steps with their nodes: `node_a >> node_b`")


class _Call(msgspec.Struct, frozen=True):
    """A call recorded for a branch of an imperative conditional."""

    entity: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def replay(self, inputs: dict[str, Any], made: list[Any]) -> Any:
        args = [_resolve(a, inputs, made) for a in self.args]
        return self.entity(*args, **{k: _resolve(v, inputs, made) for k, v in self.kwargs.items()})


def _holds_ref(value: Any) -> bool:
    if isinstance(value, _Ref):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_ref(v) for v in value.values())
    return False


def deferred_call(entity: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """While an imperative conditional is being written, a call of ``entity`` with the
    builder's references, recorded for its branch; else ``None`` (the caller goes on as
    usual: a call with plain values runs, even next to a conditional left unfinished)."""
    if _recording.get() is None or not (_holds_ref(args) or _holds_ref(kwargs)):
        return None
    return _Call(entity, tuple(args), dict(kwargs))


class _Conditional:
    """``create_conditional``'s builder: ``if_(cond).then(call)``, ``elif_``, ``else_``,
    ``fail``; the last branch returns a reference to the conditional's output."""

    def __init__(self, builder: ImperativeWorkflow, name: str) -> None:
        self.builder = builder
        self.name = name
        self.cases: list[tuple[_Cond | None, _Call | str]] = []
        self._pending: _Cond | None = None
        self._expect = "if_"
        self.done = False
        self._token = _recording.set(self)

    def _step(self, what: str, allowed: tuple[str, ...]) -> None:
        if self.done or self._expect not in allowed:
            raise DefinitionError(
                f"conditional {self.name!r}: {what} here is out of order (write "
                "if_(cond).then(call), then elif_(cond).then(call)..., else_().then(call) or "
                ".fail(message))"
            )

    def if_(self, cond: Any) -> _Conditional:
        return self._condition(cond, "if_", ("if_",))

    def elif_(self, cond: Any) -> _Conditional:
        return self._condition(cond, "elif_", ("elif_",))

    def _condition(self, cond: Any, what: str, allowed: tuple[str, ...]) -> _Conditional:
        self._step(what, allowed)
        if not isinstance(cond, _Cond):
            raise DefinitionError(
                f"conditional {self.name!r}: {what}() takes a comparison of the workflow's "
                f"inputs or outputs (x > 3, flag.is_true()), not {cond!r}"
            )
        self._pending, self._expect = cond, "then"
        return self

    def else_(self) -> _Conditional:
        self._step("else_()", ("elif_",))
        self._pending, self._expect = None, "last"
        return self

    def then(self, call: Any) -> Any:
        self._step("then()", ("then", "last"))
        if not isinstance(call, _Call):
            raise DefinitionError(
                f"conditional {self.name!r}: then() takes a call of a task or workflow with "
                f"the workflow's inputs or outputs (then(t(x=x))), not {call!r}"
            )
        self.cases.append((self._pending, call))
        if self._expect == "last":
            return self._finish(call)
        self._expect = "elif_"
        return self

    def fail(self, message: str) -> Any:
        self._step("fail()", ("last",))
        self.cases.append((None, str(message)))
        return self._finish(None)

    def _finish(self, last: _Call | None) -> Any:
        self.done = True
        _recording.reset(self._token)
        step = len(self.builder._steps)
        self.builder._steps.append((self, {}))
        sample = last or next((c for _, c in self.cases if isinstance(c, _Call)), None)
        target = getattr(
            getattr(sample, "entity", None), "workflow", getattr(sample, "entity", None)
        )
        iface = getattr(target, "py_interface", None)
        types = dict(iface.output_types) if iface is not None else {}
        if len(types) == 1:
            name, tp = next(iter(types.items()))
            return _Ref(name, tp, step)
        return _StepNode(self.builder, step, {n: _Ref(n, tp, step) for n, tp in types.items()})

    def replay(self, inputs: dict[str, Any], made: list[Any]) -> Any:
        """The conditional in the workflow body (``af.conditional``), branches resolved."""
        from airfoil.sdk._conditional import conditional

        current: Any = conditional(self.name)
        for i, (cond, action) in enumerate(self.cases):
            if cond is None:
                case = current.else_()
            elif i == 0:
                case = current.if_(cond.make(inputs, made))
            else:
                case = current.elif_(cond.make(inputs, made))
            if isinstance(action, str):
                current = case.fail(action)
            else:
                current = case.then(action.replay(inputs, made))
        return current


class _StepNode:
    """What ``add_entity`` returns: the step's outputs (as references) and its order."""

    def __init__(self, builder: ImperativeWorkflow, step: int, outputs: dict[str, _Ref]) -> None:
        self._builder = builder
        self.step = step
        self.outputs = outputs

    def __getattr__(self, name: str) -> _Ref:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.outputs[name]
        except KeyError:
            raise AttributeError(f"this node has no output {name!r}") from None

    def __rshift__(self, other: _StepNode) -> _StepNode:
        self._builder._order.append((self.step, other.step))
        return other


class ImperativeWorkflow:
    """A workflow built with ``add_workflow_input`` / ``add_entity`` / ``add_workflow_output``
    (flytekit's ``Workflow(name=...)``). Call it (or read ``spec``) once it is complete."""

    def __init__(self, name: str, failure_policy: Any = None, interruptible: bool = False) -> None:
        if not name or not isinstance(name, str):
            raise DefinitionError("an imperative workflow needs a name: ImperativeWorkflow('x')")
        self.name = name
        self.failure_policy = failure_policy
        self._module = sys._getframe(1).f_globals.get("__name__", "__main__")
        self.inputs: dict[str, _Ref] = {}
        self._steps: list[tuple[Any, dict[str, Any]]] = []
        self._outputs: dict[str, tuple[Any, Any]] = {}
        self._order: list[tuple[int, int]] = []
        self._on_failure: Any = None
        self._built: Any = None

    def _mutate(self) -> None:
        if self._built is not None:
            raise DefinitionError(
                f"imperative workflow {self.name!r} was already used: add its inputs, "
                "entities and outputs before calling it"
            )
        self._check_conditionals()

    def _check_conditionals(self) -> None:
        open_one = _recording.get()
        if open_one is not None and open_one.builder is self:
            raise DefinitionError(
                f"conditional {open_one.name!r} of workflow {self.name!r} is not finished: end "
                "it with else_().then(call) or .fail(message) first"
            )

    def create_conditional(self, name: str) -> _Conditional:
        """Start a conditional (flytekit's): see the module docstring."""
        self._mutate()
        if not name or not isinstance(name, str):
            raise DefinitionError("a conditional needs a name: wb.create_conditional('x')")
        return _Conditional(self, name)

    def add_workflow_input(self, input_name: str, python_type: Any) -> _Ref:
        """Declare input ``input_name`` of type ``python_type``; returns a reference to it."""
        self._mutate()
        if not input_name.isidentifier() or input_name in self.inputs:
            raise DefinitionError(f"workflow input {input_name!r}: a new Python identifier")
        self.inputs[input_name] = _Ref(input_name, python_type)
        return self.inputs[input_name]

    def add_entity(self, entity: Any, **kwargs: Any) -> _StepNode:
        """Call ``entity`` (a task, workflow or launch plan) with ``kwargs`` (references,
        constants, or lists / dicts of them); returns its node."""
        self._mutate()
        target = getattr(entity, "workflow", entity)  # a launch plan's workflow's types
        iface = getattr(target, "py_interface", None)
        if iface is None:
            raise DefinitionError(f"add_entity takes a task, workflow or launch plan: {entity!r}")
        step = len(self._steps)
        self._steps.append((entity, kwargs))
        outputs = {n: _Ref(n, tp, step) for n, tp in iface.output_types.items()}
        return _StepNode(self, step, outputs)

    add_task = add_subwf = add_launch_plan = add_entity

    def add_on_failure_handler(self, entity: Any) -> None:
        """The workflow's ``on_failure`` task (see :func:`~airfoil.sdk._workflow.workflow`)."""
        self._mutate()
        self._on_failure = entity

    def add_workflow_output(self, output_name: str, p: Any, python_type: Any = None) -> None:
        """Make ``p`` (a reference, or a list / dict of them) output ``output_name``."""
        self._mutate()
        if not output_name.isidentifier() or output_name in self._outputs:
            raise DefinitionError(f"workflow output {output_name!r}: a new Python identifier")
        if python_type is None:
            python_type = _type_of(p, output_name)
        self._outputs[output_name] = (p, python_type)

    # --- the workflow it becomes -------------------------------------------------------

    def built(self) -> Any:
        """The :class:`~airfoil.sdk._workflow.WorkflowDef` (made once, on first use)."""
        if self._built is None:
            self._check_conditionals()
            self._built = self._build()
        return self._built

    def _build(self) -> Any:
        from airfoil.sdk._workflow import workflow

        steps, outputs, order = list(self._steps), dict(self._outputs), list(self._order)
        names = list(outputs)
        result_type: Any = None
        if len(names) == 1:  # one output is the workflow's value, as flytekit's
            result_type = outputs[names[0]][1]
        elif names:  # several: a named tuple of them (flytekit's name for it)
            fields = [(n, outputs[n][1]) for n in names]
            result_type = typing.NamedTuple("DefaultNamedTupleOutput", fields)  # type: ignore[misc, no-redef]

        def body(**inputs: Any) -> Any:
            made: list[Any] = []
            for entity, kwargs in steps:
                if isinstance(entity, _Conditional):
                    made.append(entity.replay(inputs, made))
                    continue
                made.append(entity(**{k: _resolve(v, inputs, made) for k, v in kwargs.items()}))
            for a, b in order:
                made[a] >> made[b]
            if not names:
                return None
            values = [_resolve(outputs[n][0], inputs, made) for n in names]
            return values[0] if len(names) == 1 else result_type(*values)

        body.__annotations__ = {n: r.py_type for n, r in self.inputs.items()}
        body.__annotations__["return"] = result_type
        body.__signature__ = _signature(self.inputs, result_type)  # type: ignore[attr-defined]
        body.__module__ = self._module
        body.__qualname__ = body.__name__ = self.name
        options: dict[str, Any] = {"name": f"{self._module}.{self.name}"}
        if self.failure_policy is not None:
            options["failure_policy"] = getattr(self.failure_policy, "value", self.failure_policy)
        if self._on_failure is not None:
            options["on_failure"] = self._on_failure
        return workflow(**options)(body)

    @property
    def spec(self) -> Any:
        return self.built().spec

    @property
    def py_interface(self) -> Any:
        return self.built().py_interface

    @property
    def interface(self) -> Any:
        return self.built().interface

    @property
    def module(self) -> str:
        return str(self._module)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.built()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"ImperativeWorkflow({self.name}: {len(self._steps)} steps)"


def _type_of(p: Any, what: str) -> Any:
    if isinstance(p, _Ref):
        return p.py_type
    if isinstance(p, list) and p:
        return list[_type_of(p[0], what)]  # type: ignore[misc]
    if isinstance(p, dict) and p:
        return dict[str, _type_of(next(iter(p.values())), what)]  # type: ignore[misc]
    raise DefinitionError(
        f"workflow output {what!r}: give python_type= (it cannot be told from {p!r})"
    )


def _resolve(value: Any, inputs: dict[str, Any], made: list[Any]) -> Any:
    if isinstance(value, _Ref):
        if value.step < 0:
            return inputs[value.name]
        from airfoil.sdk._promise import Promise

        out = made[value.step]
        return out if isinstance(out, Promise) else getattr(out, value.name)
    if isinstance(value, list):
        return [_resolve(v, inputs, made) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, inputs, made) for k, v in value.items()}
    return value


def _signature(inputs: dict[str, _Ref], result_type: Any) -> Any:
    import inspect

    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=r.py_type)
        for n, r in inputs.items()
    ]
    return inspect.Signature(params, return_annotation=result_type)


class Node:
    """A node made by :func:`create_node` inside a workflow body."""

    def __init__(self, result: Any) -> None:
        self._result = result
        promises = getattr(result, "_promises", None)
        if promises is not None:
            self.outputs: dict[str, Any] = dict(promises)
        elif result is None:
            self.outputs = {}
        else:
            self.outputs = {"o0": result}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.outputs[name]
        except KeyError:
            raise AttributeError(
                f"this node has no output {name!r} (its outputs: {', '.join(self.outputs)})"
            ) from None

    def __rshift__(self, other: Any) -> Any:
        target = other._result if isinstance(other, Node) else other
        self._result >> target
        return other

    def with_overrides(self, **overrides: Any) -> Node:
        self._result.with_overrides(**overrides)
        return self


def create_node(entity: Any, *args: Any, **kwargs: Any) -> Node:
    """Call ``entity`` inside a workflow body and return its :class:`Node` (flytekit's
    ``create_node``)."""
    from airfoil.sdk._compile import active

    if active() is None:
        raise DefinitionError(
            "create_node is used inside a @workflow body (outside one, call the entity itself)"
        )
    return Node(entity(*args, **kwargs))
