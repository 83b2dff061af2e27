"""``map_task``: run a task over one or several lists, item by item.

```python
squares = af.map_task(square)(x=numbers)                          # list[int]
scaled = af.map_task(functools.partial(scale, factor=2.0))(x=xs)  # fixed arguments
lenient = af.map_task(parse, concurrency=8, min_success_ratio=0.9)(line=lines)
```

Each item runs as its own attempt with the task's retries, timeout, resources and cache
settings. With ``min_success_ratio`` below 1, failed items give ``None`` in the outputs. An
input with a default that the call leaves out takes that default for every item.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from airfoil.core.errors import DefinitionError
from airfoil.core.phases import NodeKind
from airfoil.core.records import Binding, Interface, MapSpec, NodeSpec, Param, WorkflowSpec
from airfoil.sdk import _compile
from airfoil.sdk._entity import run_outside, type_engine
from airfoil.sdk._interface import PyInterface
from airfoil.sdk._overrides import apply_spec_overrides
from airfoil.sdk._task import TaskDef

__all__ = ["MapTaskDef", "map_task"]


class MapTaskDef:
    """A task mapped over lists. Call it in a workflow with lists for the mapped inputs."""

    def __init__(
        self, target: Any, concurrency: int | None = None, min_success_ratio: float = 1.0
    ) -> None:
        fixed: dict[str, Any] = {}
        task = target
        if isinstance(target, functools.partial):
            if target.args:
                raise DefinitionError(
                    "map_task(functools.partial(...)) takes fixed inputs by keyword only"
                )
            task, fixed = target.func, dict(target.keywords)
        if not isinstance(task, TaskDef):
            raise DefinitionError(f"map_task maps a task (an @af.task), not {task!r}")
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise DefinitionError(
                f"map_task concurrency must be a whole number >= 1, got {concurrency!r}"
            )
        if (
            isinstance(min_success_ratio, bool)
            or not isinstance(min_success_ratio, int | float)
            or not 0.0 < min_success_ratio <= 1.0
        ):
            raise DefinitionError(
                f"map_task min_success_ratio must be in (0, 1], got {min_success_ratio!r}"
            )
        py = task.py_interface
        unknown = sorted(set(fixed) - set(py.input_types))
        if unknown:
            raise DefinitionError(f"map_task: {task.name} has no input(s) {unknown}")
        mapped = tuple(n for n in py.input_types if n not in fixed)
        if not mapped:
            raise DefinitionError(f"map_task: every input of {task.name} is fixed; map over one")
        self.task = task
        self.fixed = fixed
        self.map_spec = MapSpec(
            mapped=mapped,
            concurrency=concurrency or 0,
            min_success_ratio=float(min_success_ratio),
        )
        self.name = f"map_{task.name}"
        self.module = task.module
        engine = type_engine()
        input_types: dict[str, Any] = {}
        params = []
        for p in py.interface.inputs:
            if p.name in fixed:
                continue
            tp: Any = list[py.input_types[p.name]]  # type: ignore[name-defined]
            input_types[p.name] = tp
            params.append(Param(name=p.name, type=engine.to_spec(tp), description=p.description))
        for p in py.interface.inputs:
            if p.name in fixed:
                input_types[p.name] = py.input_types[p.name]
                params.append(p)
        output_types: dict[str, Any] = {}
        outputs = []
        for p in py.interface.outputs:
            elem = py.output_types[p.name]
            if self.map_spec.min_success_ratio < 1.0:
                elem = typing.Optional[elem]  # noqa: UP045 - built from a runtime type
            out_tp: Any = list[elem]  # type: ignore[valid-type]
            tp = out_tp
            output_types[p.name] = tp
            outputs.append(Param(name=p.name, type=engine.to_spec(tp)))
        style = py.interface.output_style
        self.py_interface = PyInterface(
            interface=Interface(
                inputs=tuple(params),
                outputs=tuple(outputs),
                output_style=style,
                output_tuple_name=py.interface.output_tuple_name,
            ),
            input_types=input_types,
            output_types=output_types,
            defaults={},
            return_type=py.return_type if style == "named" else None,
        )
        self._spec: WorkflowSpec | None = None
        self.ratio = float(min_success_ratio)
        self._variants: dict[tuple[str, ...], MapTaskDef] = {}
        #: Task spec fields every item runs with (``airfoil.sdk._overrides.spec_overrides``):
        #: flytekit's ``map_task(t, metadata=TaskMetadata(retries=...))``; a node's
        #: ``with_overrides`` applies over them.
        self.item_overrides: dict[str, Any] = {}

    @property
    def interface(self) -> Interface:
        return self.py_interface.interface

    @property
    def spec(self) -> WorkflowSpec:
        """A one-node workflow running this map (for calls outside a workflow)."""
        if self._spec is None:
            iface = self.interface
            mapped = [p for p in iface.inputs if p.name in self.map_spec.mapped]
            inputs = {p.name: Binding(kind="input", name=p.name) for p in mapped}
            ctx = _compile.CompileContext(workflow=self.name, engine=type_engine(), filename="")
            for name, value in self.fixed.items():
                param = iface.input(name)
                assert param is not None
                inputs[name] = _compile.bind_value(
                    ctx,
                    value,
                    param.type,
                    self.py_interface.input_types[name],
                    f"fixed input {name!r}",
                    self.name,
                )
            node = NodeSpec(
                id="n0",
                kind=NodeKind.MAP,
                inputs=inputs,
                task=apply_spec_overrides(self.task.spec, self.item_overrides),
                map=self.map_spec,
                label=self.name,
            )
            self._spec = WorkflowSpec(
                name=self.name,
                version=self.task.spec.version,
                interface=Interface(
                    inputs=tuple(mapped),
                    outputs=iface.outputs,
                    output_style=iface.output_style,
                    output_tuple_name=iface.output_tuple_name,
                ),
                nodes=(node,),
                outputs={
                    p.name: Binding(kind="output", node="n0", name=p.name) for p in iface.outputs
                },
                module=self.module,
            )
        return self._spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ctx = _compile.active()
        if args:
            raise DefinitionError(f"{self.name}: give the mapped lists by keyword")
        both = sorted(set(kwargs) & set(self.fixed))
        if both:
            fixed = ", ".join(f"{n}={self.fixed[n]!r}" for n in both)
            raise DefinitionError(
                f"{self.name}: input(s) {', '.join(map(repr, both))} fixed by "
                f"functools.partial(..., {fixed}) cannot also be given to the call: leave "
                "them out of the partial to map over them, or out of the call"
            )
        defaults = self.task.py_interface.defaults
        omitted = {
            n: defaults[n] for n in self.map_spec.mapped if n not in kwargs and n in defaults
        }
        if omitted and len(omitted) < len(self.map_spec.mapped):
            # An input the call leaves out takes the task's default for every item, as a call
            # of the task itself would (it was a missing list input).
            return self._with_fixed(omitted)(**kwargs)
        if ctx is not None:
            return _compile.bind_call(
                ctx,
                self,
                self.interface,
                self.py_interface.input_types,
                (),
                {**kwargs, **self.fixed},
                "map",
            )
        return run_outside(self, (), {**kwargs, **self.fixed})

    def _with_fixed(self, values: dict[str, Any]) -> MapTaskDef:
        """This map with ``values`` fixed too (made once per set of names)."""
        key = tuple(sorted(values))
        made = self._variants.get(key)
        if made is None:
            target = functools.partial(self.task, **self.fixed, **values)
            made = MapTaskDef(target, self.map_spec.concurrency or None, self.ratio)
            made.item_overrides = self.item_overrides
            self._variants[key] = made
        return made

    def __repr__(self) -> str:
        return f"MapTaskDef({self.task.name})"


def map_task(
    target: Any, concurrency: int | None = None, min_success_ratio: float = 1.0
) -> MapTaskDef:
    """Map a task (or a ``functools.partial`` of one, for fixed inputs) over lists.

    Args:
        target: the task, or ``functools.partial(task, name=value, ...)``.
        concurrency: at most this many items run at once (default: no limit beyond the
            executor's).
        min_success_ratio: the share of items that must succeed; failed items give None.
    """
    return MapTaskDef(target, concurrency, min_success_ratio)
