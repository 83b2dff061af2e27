"""``@dynamic``: a workflow built at run time from the actual input values.

```python
@af.dynamic
def train_all(configs: list[Config]) -> list[float]:
    scores = []
    for cfg in configs:            # a real list: loops and ifs on real values
        if cfg.enabled:
            scores.append(evaluate(model=train(cfg=cfg)))
    return scores
```

The body runs as an attempt (with the task's retries and resources), builds a graph of the
calls it makes (type-checked like any workflow), and returns it; the engine records the graph
and runs it as children of the dynamic node, whose outputs are the graph's outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from airfoil.core.records import WorkflowSpec
from airfoil.sdk import _compile
from airfoil.sdk._entity import type_engine
from airfoil.sdk._gates import check_gate_names
from airfoil.sdk._task import TaskDef
from airfoil.sdk._workflow import WorkflowDef

__all__ = ["DynamicDef", "dynamic"]

P = ParamSpec("P")
R = TypeVar("R")


class DynamicDef(TaskDef[P, R]):
    """A dynamic workflow: a task whose body returns a graph built from real values."""

    def build(self, values: dict[str, Any], blobs: Any) -> WorkflowSpec:
        """Run the body with real input values and return the graph it builds."""
        fn = self.__airfoil_fn__
        engine = type_engine()
        location = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"
        ctx = _compile.CompileContext(
            workflow=self.name,
            engine=engine,
            filename=fn.__code__.co_filename,
            location=location,
            blobs=blobs,
            module=self.module,
        )
        token = _compile.enter(ctx)
        try:
            returned = fn(**values)  # type: ignore[call-arg]
        finally:
            _compile.leave(token)
        ctx.location = location
        outputs = WorkflowDef._bind_outputs(self, ctx, returned)  # type: ignore[arg-type]
        nodes = ctx.node_specs()
        check_gate_names(nodes, self.name)
        return WorkflowSpec(
            name=self.name,
            version=self.spec.version,
            interface=self.interface,
            nodes=nodes,
            outputs=outputs,
            module=self.module,
            qualname=fn.__qualname__,
        )


@overload
def dynamic(fn: Callable[P, R], /) -> DynamicDef[P, R]: ...


@overload
def dynamic(**options: Any) -> Callable[[Callable[P, R]], DynamicDef[P, R]]: ...


def dynamic(
    fn: Callable[P, R] | None = None, /, **options: Any
) -> DynamicDef[P, R] | Callable[[Callable[P, R]], DynamicDef[P, R]]:
    """Turn a function into a dynamic workflow. Takes the task options of ``@af.task``
    (``retries``, ``requests``, ``timeout``...). With ``cache=True`` the dynamic node's
    outputs (its graph's) are cached as a task's are, by its inputs and its code version (or
    ``cache_version``): a hit runs neither the body nor the graph; ``cache_serialize=True``
    holds the key until the graph finished."""
    from airfoil.sdk._task import task

    def wrap(f: Callable[P, R]) -> DynamicDef[P, R]:
        made = task(**options)(f)
        made.__class__ = DynamicDef
        made._options["task_type"] = "dynamic"
        return made  # type: ignore[return-value]

    if fn is not None:
        return wrap(fn)
    return wrap
