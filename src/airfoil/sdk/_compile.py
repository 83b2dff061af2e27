"""Building a workflow: its body runs once with promises and yields a WorkflowSpec.

Every call made inside the body becomes a node; every argument becomes a binding that is
type-checked against the callee's interface right there, so wiring mistakes raise at
definition time with the workflow's name and the file and line of the call.
"""

from __future__ import annotations

import contextvars
import sys
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import (
    BindingTypeError,
    DefinitionError,
    MissingInputError,
    TypeTransformError,
    UnknownInputError,
)
from airfoil.core.phases import NodeKind
from airfoil.core.records import Binding, BranchCase, Condition, Interface, NodeSpec, TypeSpec
from airfoil.sdk._overrides import apply_spec_overrides
from airfoil.sdk._promise import NodeOutputs, Promise

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = [
    "CompileContext",
    "add_order",
    "bind_call",
    "check_node_name",
    "current_location",
    "current_workflow_name",
    "rename_node",
]

_MAX_NODE_NAME = 80


@dataclass
class PendingCase:
    """One case of a conditional being built: its scope of nodes and its outputs."""

    condition: Condition | None
    nodes: list[PendingNode]
    label: str
    outputs: dict[str, Binding] = field(default_factory=dict)
    fail_message: str = ""


@dataclass
class PendingNode:
    id: str
    kind: str
    inputs: dict[str, Binding]
    callee: Any
    upstream: list[str]
    label: str
    location: str
    cases: list[PendingCase] = field(default_factory=list)
    #: ``with_overrides`` of a task node: TaskSpec fields replaced in this node's copy.
    spec_overrides: dict[str, Any] = field(default_factory=dict)
    #: ``with_overrides`` settings that only mean something on a cluster (recorded).
    platform: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Scope:
    prefix: str
    nodes: list[PendingNode]


@dataclass
class CompileContext:
    """State of one workflow body being built: a stack of scopes (the body, and the case of
    a conditional being built, whose nodes get ids under the conditional's id)."""

    workflow: str
    engine: TypeEngine
    filename: str
    location: str = ""
    stack: list[_Scope] = field(default_factory=lambda: [_Scope("", [])])
    blobs: Any = None  # set when building a dynamic workflow at run time
    module: str = ""  # the workflow's module (select nodes' tasks live there)

    @property
    def nodes(self) -> list[PendingNode]:
        return self.stack[-1].nodes

    def new_id(self) -> str:
        scope = self.stack[-1]
        return f"{scope.prefix}n{len(scope.nodes)}"

    def push(self, prefix: str, nodes: list[PendingNode]) -> None:
        self.stack.append(_Scope(prefix, nodes))

    def pop(self) -> None:
        self.stack.pop()

    def node_specs(self) -> tuple[NodeSpec, ...]:
        return _specs(self.stack[0].nodes)


def condition_nodes(cond: Condition | None) -> set[str]:
    """Nodes whose outputs a condition reads."""
    if cond is None:
        return set()
    found = _binding_nodes([b for b in (cond.lhs, cond.rhs) if b is not None])
    return found | condition_nodes(cond.left) | condition_nodes(cond.right)


def _specs(nodes: list[PendingNode]) -> tuple[NodeSpec, ...]:
    return tuple(_spec(n) for n in nodes)


def _spec(n: PendingNode) -> NodeSpec:
    """The spec of one pending node; what it calls goes in the field of its kind."""
    upstream = set(n.upstream) | _binding_nodes(n.inputs.values())
    extra: dict[str, Any] = {}
    if n.kind == "branch":
        for c in n.cases:
            upstream |= condition_nodes(c.condition)
        extra["cases"] = tuple(
            BranchCase(
                condition=c.condition,
                nodes=_specs(c.nodes),
                outputs=c.outputs,
                fail_message=c.fail_message,
                label=c.label,
            )
            for c in n.cases
        )
    elif n.kind == "gate":
        extra["gate"] = n.callee
    elif n.kind == "map":
        extra["task"], extra["map"] = n.callee.task.spec, n.callee.map_spec
        overrides = {**n.callee.item_overrides, **n.spec_overrides}
        if overrides:  # every item runs with the overridden settings, as in flytekit
            extra["task"] = apply_spec_overrides(extra["task"], overrides)
    elif n.kind == "task":
        extra["task"] = n.callee.spec
        if n.spec_overrides:
            extra["task"] = apply_spec_overrides(extra["task"], n.spec_overrides)
    else:
        extra["workflow"] = n.callee.spec
    return NodeSpec(
        id=n.id,
        kind=NodeKind(n.kind),
        inputs=n.inputs,
        upstream=tuple(sorted(upstream)),
        label=n.label,
        location=n.location,
        **extra,
    )


_ctx: contextvars.ContextVar[CompileContext | None] = contextvars.ContextVar(
    "airfoil_compile", default=None
)


def active() -> CompileContext | None:
    """The workflow being built now, if any."""
    return _ctx.get()


def enter(ctx: CompileContext) -> contextvars.Token[CompileContext | None]:
    return _ctx.set(ctx)


def leave(token: contextvars.Token[CompileContext | None]) -> None:
    _ctx.reset(token)


def current_workflow_name() -> str | None:
    ctx = _ctx.get()
    return ctx.workflow if ctx else None


def current_location() -> str | None:
    """File and line of the innermost frame of the workflow body being built."""
    ctx = _ctx.get()
    if ctx is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == ctx.filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return ctx.location or None


def _binding_nodes(bindings: Any) -> set[str]:
    found: set[str] = set()
    for b in bindings:
        if b.kind == "output":
            found.add(b.node)
        elif b.kind in ("list", "dict"):
            found |= _binding_nodes(b.items)
    return found


def add_order(upstream_node: str, other: Any) -> Any:
    """``a >> b``: make ``b``'s node wait for ``a``'s node."""
    ctx = _ctx.get()
    target = getattr(other, "node_id", None)
    if ctx is None or not target:
        raise DefinitionError(
            "`>>` orders two nodes of the same workflow: use it on the results of task calls "
            "inside a workflow body",
            workflow=current_workflow_name(),
        )
    for n in ctx.nodes:
        if n.id == target:
            n.upstream.append(upstream_node)
    return other


def _describe_call(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name.rsplit('.', 1)[-1]}({', '.join(f'{k}=...' for k in kwargs)})"


def bind_value(
    ctx: CompileContext,
    value: Any,
    spec: TypeSpec,
    py_type: Any,
    what: str,
    call: str,
) -> Binding:
    """Turn an argument (promise, literal, or list/dict holding promises) into a binding."""
    engine = ctx.engine
    if isinstance(value, Promise):
        if not engine.is_assignable(value.spec, spec):
            raise BindingTypeError(
                f"{what} expects {spec} but is given {value.describe()}",
                workflow=ctx.workflow,
                call=call,
                location=ctx.location,
            )
        return value.binding
    if isinstance(value, NodeOutputs):
        task, names = value._task, list(value._promises)
        if names:
            listed = ", ".join(f"`.{n}`" for n in names)
            why = f"all {len(names)} outputs of {task} ({listed}); pick one, e.g. `.{names[0]}`"
        else:
            why = f"the outputs of {task}, which has none (it returns None)"
        raise BindingTypeError(
            f"{what} is given {why}",
            workflow=ctx.workflow,
            call=call,
            location=ctx.location,
        )
    if _holds_promise(value):
        if isinstance(value, list | tuple) and spec.kind in ("list", "tuple"):
            items = []
            for i, item in enumerate(value):
                if spec.kind == "list":
                    et, ept = spec.args[0], _arg(py_type, 0)
                else:
                    idx = 0 if spec.variadic else i
                    et, ept = spec.args[idx], _arg(py_type, idx)
                items.append(bind_value(ctx, item, et, ept, item_of(what, f"[{i}]"), call))
            return Binding(kind="list", items=tuple(items))
        if isinstance(value, dict) and spec.kind == "dict":
            keys, items = [], []
            for k, item in value.items():
                if not isinstance(k, str):
                    raise BindingTypeError(
                        f"{what}: dict keys that hold promises must be str, got {k!r}",
                        workflow=ctx.workflow,
                        call=call,
                        location=ctx.location,
                    )
                keys.append(k)
                items.append(bind_value(ctx, item, spec.args[1], _arg(py_type, 1), what, call))
            return Binding(kind="dict", keys=tuple(keys), items=tuple(items))
        raise BindingTypeError(
            f"{what} expects {spec} but is given a collection holding promises",
            workflow=ctx.workflow,
            call=call,
            location=ctx.location,
        )
    try:
        literal = literal_value(engine, value, py_type)
    except TypeTransformError as exc:
        raise BindingTypeError(
            f"{what} expects {spec}: {exc}", workflow=ctx.workflow, call=call, location=ctx.location
        ) from None
    from airfoil.types._binding import input_ints_problem

    # a constant is the callee's input: the 64-bit rule of a run's inputs, in its words
    name, _, owner = what.partition(" of ")
    problem = input_ints_problem(value, name, owner)
    if problem is not None:
        raise BindingTypeError(problem, workflow=ctx.workflow, call=call, location=ctx.location)
    return Binding(kind="literal", value=literal)


def item_of(what: str, place: str) -> str:
    """``what`` (``input 'x' of flow.inc``) with ``place`` (``[1]``) next to the input's name:
    ``input 'x'[1] of flow.inc``, never ``flow.inc[1]`` (which reads as a map's item)."""
    name, of, owner = what.partition(" of ")
    return f"{name}{place}{of}{owner}"


def _arg(py_type: Any, index: int) -> Any:
    args = getattr(py_type, "__args__", None) or ()
    if not args:
        return Any
    return args[index] if index < len(args) else args[-1]


def _holds_promise(value: Any) -> bool:
    if isinstance(value, Promise | NodeOutputs):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_promise(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_promise(v) for v in value.values())
    return False


def literal_value(engine: TypeEngine, value: Any, py_type: Any) -> Any:
    """Serialise a constant of a workflow (kept inline in the spec)."""
    from airfoil.types import ValueContext

    engine.check_value(value, py_type)
    active_ctx = _ctx.get()
    if active_ctx is not None and active_ctx.blobs is not None:
        # A dynamic workflow built at run time: constants are real values, maybe large.
        return engine.to_value(value, py_type, ValueContext(blobs=active_ctx.blobs))
    try:
        return engine.to_value(value, py_type, ValueContext.inline_only())
    except AttributeError:  # a File / DataFrame constant needs a blob store
        raise TypeTransformError(
            "files, directories and dataframes cannot be constants of a workflow definition: "
            "make them workflow inputs (or produce them in a task)"
        ) from None


def bind_call(
    ctx: CompileContext,
    callee: Any,
    interface: Interface,
    input_types: dict[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    kind: str,
    label: str | None = None,
    caller: types.FrameType | None = None,
) -> Any:
    """Record a call as a node and return its promised outputs (``label`` names the node;
    default the callee's short name; ``caller``: the frame that made the call, default the
    caller of this function's caller)."""
    name = callee.name
    call = _describe_call(name, kwargs)
    frame = caller or sys._getframe(2)
    ctx.location = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    names = [p.name for p in interface.inputs]
    if len(args) > len(names):
        raise UnknownInputError(
            f"{name} takes {len(names)} inputs but {len(args)} positional arguments were given",
            workflow=ctx.workflow,
            call=call,
            location=ctx.location,
        )
    given = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k in given:
            raise DefinitionError(
                f"{name} got input {k!r} twice",
                workflow=ctx.workflow,
                call=call,
                location=ctx.location,
            )
        given[k] = v
    bindings: dict[str, Binding] = {}
    for k, v in given.items():
        param = interface.input(k)
        if param is None:
            raise UnknownInputError(
                f"{name} has no input {k!r} (its inputs: {', '.join(names) or 'none'})",
                workflow=ctx.workflow,
                call=call,
                location=ctx.location,
            )
        bindings[k] = bind_value(ctx, v, param.type, input_types[k], f"input {k!r} of {name}", call)
    for p in interface.inputs:
        if p.name not in bindings:
            if p.has_default and p.default is not None:
                bindings[p.name] = Binding(kind="literal", value=p.default)
            elif not p.has_default:
                raise MissingInputError(
                    f"{name} needs input {p.name!r} ({p.type}) but it is not given",
                    workflow=ctx.workflow,
                    call=call,
                    location=ctx.location,
                )
    node_id = ctx.new_id()
    label = label or name.rsplit(".", 1)[-1]
    ctx.nodes.append(
        PendingNode(
            id=node_id,
            kind=kind,
            inputs=bindings,
            callee=callee,
            upstream=[],
            label=label,
            location=ctx.location,
        )
    )
    promises = {
        p.name: Promise(Binding(kind="output", node=node_id, name=p.name), p.type, py, label)
        for p, py in zip(interface.outputs, callee.py_interface.output_types.values(), strict=True)
    }
    if interface.output_style == "single":
        return promises["o0"]
    return NodeOutputs(node_id, name, promises)


def check_node_name(name: object) -> str:
    """A node name given by the user (``with_name`` / ``with_overrides(name=...)``), checked:
    a non-empty single line of at most 80 characters."""
    if not isinstance(name, str):
        raise DefinitionError(
            f"a node name must be a str, not {type(name).__name__}",
            workflow=current_workflow_name(),
            location=current_location(),
        )
    text = name.strip()
    if not text or "\n" in text or "\r" in text or len(text) > _MAX_NODE_NAME:
        raise DefinitionError(
            f"a node name must be one non-empty line of at most {_MAX_NODE_NAME} characters, "
            f"not {name!r}",
            workflow=current_workflow_name(),
            location=current_location(),
        )
    return text


def _find_pending(nodes: list[PendingNode], node_id: str) -> PendingNode | None:
    for n in nodes:
        if n.id == node_id:
            return n
        for c in n.cases:
            found = _find_pending(c.nodes, node_id)
            if found is not None:
                return found
    return None


def override_node(
    node_id: str,
    name: object = None,
    *,
    spec: dict[str, Any] | None = None,
    platform: dict[str, Any] | None = None,
) -> None:
    """Apply ``with_overrides`` to the node ``node_id`` of the workflow being built: its label,
    its task spec fields (task nodes only) and recorded platform settings."""
    found = _pending(node_id)
    if name is not None:
        found.label = check_node_name(name)
    if spec:
        if found.kind not in ("task", "map"):
            raise DefinitionError(
                f"with_overrides({', '.join(spec)}) changes a task's settings; "
                f"{found.label or found.id} is a {found.kind} node",
                workflow=current_workflow_name(),
                location=current_location(),
            )
        found.spec_overrides.update(spec)
    if platform:
        found.platform.update(platform)


def rename_node(node_id: str, name: object) -> None:
    """Give the node ``node_id`` of the workflow being built the label ``name``."""
    label = check_node_name(name)
    _pending(node_id).label = label


def _pending(node_id: str) -> PendingNode:
    ctx = _ctx.get()
    found = None
    if ctx is not None:
        for scope in reversed(ctx.stack):
            found = _find_pending(scope.nodes, node_id)
            if found is not None:
                break
    if found is None:
        raise DefinitionError(
            "with_overrides(name=...) names the node of a call made in the workflow being "
            "built; call it on that call's outputs inside the workflow body",
            workflow=current_workflow_name(),
            location=current_location(),
        )
    return found
