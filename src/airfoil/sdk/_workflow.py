"""``@workflow``: a typed graph built by running the body once with promises."""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from airfoil.core.errors import BindingTypeError, DefinitionError
from airfoil.core.phases import NodeKind
from airfoil.core.records import Binding, Interface, NodeSpec, WorkflowSpec, encode_json
from airfoil.sdk import _compile
from airfoil.sdk._entity import call_entity, entity_module, type_engine
from airfoil.sdk._gates import check_gate_names
from airfoil.sdk._interface import PyInterface, build_interface
from airfoil.sdk._mocking import mock_epoch
from airfoil.sdk._promise import NodeOutputs, Promise
from airfoil.sdk._versioning import CodeVersion, compute_version, defining

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["WorkflowDef", "single_task_workflow", "workflow"]

P = ParamSpec("P")
R = TypeVar("R")

FAILURE_POLICIES = ("fail_immediately", "finish_what_can_run")


class WorkflowDef(Generic[P, R]):
    """A workflow: a typed graph of task and subworkflow calls.

    The body runs once, at decoration, with promises for inputs; every call becomes a node
    and every wiring mistake raises a :class:`~airfoil.core.errors.DefinitionError` there.
    Calling the workflow outside another workflow runs it through the engine; inside another
    workflow it becomes a subworkflow node.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        failure_policy: str = "fail_immediately",
        docs: str | None = None,
        on_failure: Any = None,
    ) -> None:
        self.__airfoil_fn__: Callable[P, R] = fn
        functools.update_wrapper(self, fn)
        self.module = entity_module(fn)
        self.name = name or f"{self.module}.{fn.__qualname__}"
        location = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
        # stored in the spec of every execution: a number here made each record unreadable
        for setting, value in (("name", self.name), ("docs", docs)):
            if value is not None and not isinstance(value, str):
                raise DefinitionError(
                    f"@workflow({setting}=...) takes a string, not {value!r}", location=location
                )
        if failure_policy not in FAILURE_POLICIES:
            raise DefinitionError(
                f"workflow {self.name!r}: failure_policy must be one of {FAILURE_POLICIES}, "
                f"got {failure_policy!r}",
                location=location,
            )
        engine = type_engine()
        self.py_interface: PyInterface = build_interface(
            fn,
            engine,
            kind="workflow",
            name=self.name,
            literal_value=lambda v, tp, _n: _compile.literal_value(engine, v, tp),
        )
        self.docs = docs if docs is not None else inspect.cleandoc(fn.__doc__ or "")
        self.failure_policy = failure_policy
        self.on_failure = on_failure
        self._node_label: str | None = None
        self._engine, self._location = engine, location
        self._code_version: CodeVersion | None = None
        self._mock_epoch = mock_epoch()
        with defining():  # wiring checked now; versions provisional until the first use
            self._spec: WorkflowSpec = self._compile(engine, location)

    @property
    def spec(self) -> WorkflowSpec:
        """The compiled spec; compiled again when a global its code (or a task's) reads has
        been rebound since (``importlib.reload`` of a module it uses)."""
        stale = self._code_version is not None and self._code_version.stale()
        if stale or self._mock_epoch != mock_epoch():  # a task it calls was (un)mocked
            self._mock_epoch = mock_epoch()
            self._spec = self._compile(self._engine, self._location)
        return self._spec

    @property
    def fn(self) -> Callable[P, R]:
        return self.__airfoil_fn__

    @property
    def interface(self) -> Interface:
        return self.py_interface.interface

    @property
    def version(self) -> str:
        return self.spec.version

    def _compile(self, engine: TypeEngine, location: str) -> WorkflowSpec:
        fn = self.__airfoil_fn__
        ctx = _compile.CompileContext(
            workflow=self.name,
            engine=engine,
            filename=fn.__code__.co_filename,
            location=location,
            module=self.module,
        )
        inputs = {
            p.name: Promise(Binding(kind="input", name=p.name), p.type, tp)
            for p, tp in zip(
                self.interface.inputs, self.py_interface.input_types.values(), strict=True
            )
        }
        token = _compile.enter(ctx)
        try:
            returned = fn(**inputs)  # type: ignore[arg-type, call-arg]
        finally:
            _compile.leave(token)
        ctx.location = location
        outputs = self._bind_outputs(ctx, returned)
        nodes = ctx.node_specs()
        check_gate_names(nodes, self.name)
        self._code_version = compute_version(
            fn, extra=encode_json([list(nodes), outputs]).decode(), warn=False
        )
        return WorkflowSpec(
            name=self.name,
            version=self._code_version.version,
            interface=self.interface,
            nodes=nodes,
            outputs=outputs,
            module=self.module,
            qualname=fn.__qualname__,
            docs=self.docs,
            failure_policy=self.failure_policy,
            on_failure=self._handler_node(engine, location),
        )

    def _handler_node(self, engine: TypeEngine, location: str) -> NodeSpec | None:
        """The ``on_failure`` handler as a node: its ``error: FailureInfo`` input gets the
        failure, its other inputs the workflow inputs of the same names."""
        from airfoil.sdk._failure import FailureInfo
        from airfoil.sdk._task import TaskDef

        handler = self.on_failure
        if handler is None:
            return None
        if not isinstance(handler, TaskDef):
            raise DefinitionError(
                f"workflow {self.name!r}: on_failure takes a task, not {handler!r}",
                location=location,
            )
        types_ = handler.py_interface.input_types
        if types_.get("error") is not FailureInfo:
            raise DefinitionError(
                f"workflow {self.name!r}: the on_failure task {handler.name!r} needs an input "
                "`error: af.FailureInfo`",
                location=location,
            )
        inputs = {"error": Binding(kind="input", name="__failure__")}
        mine = self.py_interface.input_types
        for p in handler.interface.inputs:
            if p.name == "error":
                continue
            own = self.interface.input(p.name)
            if own is not None and engine.is_assignable(own.type, p.type):
                inputs[p.name] = Binding(kind="input", name=p.name)
            elif not p.has_default:
                raise DefinitionError(
                    f"workflow {self.name!r}: the on_failure task's input {p.name!r} must be "
                    f"an input of the workflow with the same type, or have a default "
                    f"(workflow inputs: {', '.join(mine) or 'none'})",
                    location=location,
                )
            elif p.default is not None:
                inputs[p.name] = Binding(kind="literal", value=p.default)
        return NodeSpec(
            id="on_failure",
            kind=NodeKind.TASK,
            inputs=inputs,
            task=handler.spec,
            label="on_failure",
        )

    def _bind_outputs(self, ctx: Any, returned: Any) -> dict[str, Binding]:
        iface = self.interface
        types_ = self.py_interface.output_types
        if iface.output_style == "none":
            if returned is not None and not isinstance(returned, NodeOutputs | Promise):
                raise DefinitionError(
                    f"workflow {self.name!r} returns a value but declares no return type: "
                    "annotate its return type",
                    workflow=self.name,
                    location=ctx.location,
                )
            return {}
        if iface.output_style == "single":
            if returned is None:
                raise DefinitionError(
                    f"workflow {self.name!r} declares a return type {iface.outputs[0].type} "
                    "but its body returns nothing",
                    workflow=self.name,
                    location=ctx.location,
                )
            return {
                "o0": _compile.bind_value(
                    ctx,
                    returned,
                    iface.outputs[0].type,
                    types_["o0"],
                    "the workflow's output",
                    "return",
                )
            }
        # NamedTuple outputs: a tuple of promises in field order, or a node's NodeOutputs.
        values = list(returned) if isinstance(returned, tuple | list | NodeOutputs) else None
        if values is None or len(values) != len(iface.outputs):
            raise BindingTypeError(
                f"workflow {self.name!r} declares outputs "
                f"{[p.name for p in iface.outputs]} but its body returns {returned!r}",
                workflow=self.name,
                location=ctx.location,
            )
        return {
            p.name: _compile.bind_value(
                ctx, v, p.type, types_[p.name], f"output {p.name!r}", "return"
            )
            for p, v in zip(iface.outputs, values, strict=True)
        }

    def with_name(self, name: str) -> WorkflowDef[P, R]:
        """The same workflow, whose calls as a subworkflow make nodes labelled ``name`` (see
        :meth:`TaskDef.with_name <airfoil.sdk._task.TaskDef.with_name>`).

        Raises:
            DefinitionError: ``name`` is not one non-empty line of at most 80 characters.
        """
        named = copy.copy(self)
        named._node_label = _compile.check_node_name(name)
        return named

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = call_entity(
            self, "workflow", args, kwargs, sys._getframe(1), plain_in_worker=False
        )
        return result

    def __repr__(self) -> str:
        return f"WorkflowDef({self.name})"


@overload
def workflow(fn: Callable[P, R], /) -> WorkflowDef[P, R]: ...


@overload
def workflow(
    *,
    name: str | None = None,
    failure_policy: str = "fail_immediately",
    docs: str | None = None,
    on_failure: Any = None,
) -> Callable[[Callable[P, R]], WorkflowDef[P, R]]: ...


def workflow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    failure_policy: str = "fail_immediately",
    docs: str | None = None,
    on_failure: Any = None,
) -> WorkflowDef[P, R] | Callable[[Callable[P, R]], WorkflowDef[P, R]]:
    """Turn a function that calls tasks into a typed workflow. Usable bare or with options.

    Args:
        fn: the function (when used bare).
        name: the workflow's name; default ``module.qualname``.
        failure_policy: ``"fail_immediately"`` (default) stops at the first failed node;
            ``"finish_what_can_run"`` runs every node that does not depend on a failure.
        docs: a description; default the function's docstring.
        on_failure: a task run when an execution fails, with ``error: af.FailureInfo``
            (and any workflow inputs it names); the execution still ends failed.
    """

    def wrap(f: Callable[P, R]) -> WorkflowDef[P, R]:
        return WorkflowDef(
            f, name=name, failure_policy=failure_policy, docs=docs, on_failure=on_failure
        )

    if fn is not None:
        return wrap(fn)
    return wrap


def single_task_workflow(task: Any) -> WorkflowSpec:
    """A one-node workflow around a task, so a task called on its own runs like any
    workflow (recorded, cached, resumable)."""
    spec = task.spec
    node = NodeSpec(
        id="n0",
        kind=NodeKind.TASK,
        inputs={p.name: Binding(kind="input", name=p.name) for p in spec.interface.inputs},
        task=spec,
        label=spec.name.rsplit(".", 1)[-1],
    )
    return WorkflowSpec(
        name=spec.name,
        version=spec.version,
        interface=spec.interface,
        nodes=(node,),
        outputs={
            p.name: Binding(kind="output", node="n0", name=p.name) for p in spec.interface.outputs
        },
        module=spec.module,
        qualname=spec.qualname,
    )
