"""``af.conditional``: branches decided at run time on promised values.

```python
result = (
    af.conditional("size")
    .if_(n > 100).then(big(n=n))
    .elif_((n > 10) & (n <= 100)).then(medium(n=n))
    .else_().fail("n must be more than 10")
)
```

Calls made inside ``then(...)`` become nodes of that case only (ids under the conditional's
node id). Every case that produces outputs must produce compatible ones (checked here, at
definition time). At run time the first case whose condition holds runs; the others are
recorded as skipped.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import BindingTypeError, DefinitionError
from airfoil.core.records import Binding, Condition, TypeSpec
from airfoil.sdk import _compile
from airfoil.sdk._promise import Expr, NodeOutputs, Promise

__all__ = ["BranchResult", "conditional"]


def conditional(name: str) -> ConditionalBuilder:
    """Start a conditional named ``name`` inside a workflow body."""
    ctx = _compile.active()
    if ctx is None:
        raise DefinitionError(
            "af.conditional() is used inside a workflow body; in plain Python use `if`"
        )
    if not name or not isinstance(name, str):
        raise DefinitionError("af.conditional() needs a name, e.g. af.conditional('size')")
    node = _compile.PendingNode(
        id=ctx.new_id(),
        kind="branch",
        inputs={},
        callee=None,
        upstream=[],
        label=name,
        location=_compile.current_location() or ctx.location,
    )
    ctx.nodes.append(node)
    return ConditionalBuilder(ctx, node)


class ConditionalBuilder:
    """Adds cases to a conditional."""

    def __init__(self, ctx: _compile.CompileContext, node: _compile.PendingNode) -> None:
        self._ctx = ctx
        self._node = node
        self._out_spec: TypeSpec | None = None
        self._out_type: Any = None
        self._has_else = False
        self._open: _Case | None = None

    def _case(self, expr: Any, label: str) -> _Case:
        if self._has_else:
            raise DefinitionError(
                f"conditional {self._node.label!r}: nothing may follow else_()",
                workflow=self._ctx.workflow,
                location=_compile.current_location(),
            )
        if self._open is not None:
            raise DefinitionError(
                f"conditional {self._node.label!r}: call .then(...) or .fail(...) after each "
                "if_/elif_/else_",
                workflow=self._ctx.workflow,
                location=_compile.current_location(),
            )
        condition: Condition | None = None
        if expr is not None:
            if isinstance(expr, Promise):
                expr = expr.is_true()
            if not isinstance(expr, Expr):
                raise BindingTypeError(
                    f"conditional {self._node.label!r}: {label} needs a condition on promises "
                    f"(like `x > 3` or `flag.is_true()`), got {expr!r}",
                    workflow=self._ctx.workflow,
                    location=_compile.current_location(),
                )
            condition = expr.condition
        index = len(self._node.cases)
        case = _compile.PendingCase(
            condition=condition, nodes=[], label=f"{label} {condition}" if condition else label
        )
        self._node.cases.append(case)
        self._ctx.push(f"{self._node.id}.c{index}.", case.nodes)
        self._open = _Case(self, case)
        return self._open

    def if_(self, expr: Any) -> _Case:
        """The first case."""
        if self._node.cases:
            raise DefinitionError(f"conditional {self._node.label!r}: if_ must come first")
        return self._case(expr, "if")

    def elif_(self, expr: Any) -> _Case:
        """Another case, tried if the ones before did not hold."""
        if not self._node.cases:
            raise DefinitionError(f"conditional {self._node.label!r}: start with if_")
        return self._case(expr, "elif")

    def else_(self) -> _Case:
        """The case taken when no other holds."""
        if not self._node.cases:
            raise DefinitionError(f"conditional {self._node.label!r}: start with if_")
        case = self._case(None, "else")
        self._has_else = True
        return case

    def _close(self, case: _compile.PendingCase, result: Any) -> BranchResult:
        self._ctx.pop()
        self._open = None
        ctx = self._ctx
        if isinstance(result, NodeOutputs) and len(result) == 0:
            result = None
        if result is not None:
            if isinstance(result, NodeOutputs):
                raise BindingTypeError(
                    f"conditional {self._node.label!r}: a case must produce one value (pick an "
                    "output by name) or nothing",
                    workflow=ctx.workflow,
                    location=_compile.current_location(),
                )
            if self._out_spec is None:
                spec, py = _spec_of(ctx, result)
                self._out_spec, self._out_type = spec, py
            binding = _compile.bind_value(
                ctx,
                result,
                self._out_spec,
                self._out_type,
                f"the output of case {case.label!r} of conditional {self._node.label!r}",
                "then(...)",
            )
            case.outputs = {"o0": binding}
        return BranchResult(self)

    def _check_outputs(self) -> None:
        """Some cases produce a value and others do not: the conditional produces nothing
        (as flytekit's, run for the cases' effects); using its result is then a binding of
        ``none``, refused where it is bound."""
        produced = [bool(c.outputs) for c in self._node.cases if not c.fail_message]
        if any(produced) and not all(produced):
            for c in self._node.cases:
                c.outputs = {}
            self._out_spec, self._out_type = None, None


class _Case:
    def __init__(self, builder: ConditionalBuilder, case: _compile.PendingCase) -> None:
        self._builder = builder
        self._case = case

    def then(self, result: Any) -> BranchResult:
        """What the case runs and produces (a call's result, or a constant)."""
        self._builder._close(self._case, result)
        self._builder._check_outputs()
        return BranchResult(self._builder)  # typed after the check (mixed cases: nothing)

    def fail(self, message: str) -> BranchResult:
        """Fail the execution with ``message`` when this case is taken."""
        if self._case.nodes:
            raise DefinitionError("fail(...) takes no task calls")
        self._case.fail_message = str(message) or "conditional failed"
        return self._builder._close(self._case, None)


def _spec_of(ctx: _compile.CompileContext, value: Any) -> tuple[TypeSpec, Any]:
    if isinstance(value, Promise):
        return value.spec, value.py_type
    engine = ctx.engine
    py = type(value)
    return engine.to_spec(py), py


class BranchResult(Promise):
    """The output of a conditional (a promise), which can also take more cases."""

    __slots__ = ("_builder",)

    def __init__(self, builder: ConditionalBuilder) -> None:
        node = builder._node
        super().__init__(
            Binding(kind="output", node=node.id, name="o0"),
            builder._out_spec or TypeSpec("none"),
            builder._out_type,
        )
        self._builder = builder

    def elif_(self, expr: Any) -> _Case:
        """Another case."""
        return self._builder.elif_(expr)

    def else_(self) -> _Case:
        """The case taken when no other holds."""
        return self._builder.else_()

    @property
    def node_id(self) -> str:
        return self._builder._node.id
