"""What tasks and workflows share: naming, interface building, what a call of one does, running
outside a workflow."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airfoil.core.local_runner import local_runner
from airfoil.sdk import _compile
from airfoil.sdk._gather import inside_gather
from airfoil.sdk._imperative import deferred_call
from airfoil.types._primitives import importable_module

if TYPE_CHECKING:
    from airfoil.sdk._task import TaskDef
    from airfoil.sdk._workflow import WorkflowDef
    from airfoil.types import TypeEngine

__all__ = ["call_entity", "entity_module", "run_outside"]


def entity_module(fn: Callable[..., Any]) -> str:
    """The importable module name of a function; scripts run as ``__main__`` get their file
    stem, so worker processes can import them by name."""
    return importable_module(str(getattr(fn, "__module__", None) or "__main__"))


def type_engine() -> TypeEngine:
    from airfoil.types import default_type_engine

    return default_type_engine()


def run_outside(entity: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a task or workflow called outside any workflow through the installed local runner
    (the embedded engine, see :mod:`airfoil.core.local_runner`): the SDK layer does not
    depend on the engine; the entry point that starts it is handed in.
    """
    ctx = _compile.active()
    assert ctx is None
    return local_runner().call_entity(entity, args, kwargs)


def call_entity(
    entity: TaskDef[..., Any] | WorkflowDef[..., Any],
    kind: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    caller: types.FrameType,
    *,
    plain_in_worker: bool,
    awaited: bool = False,
) -> Any:
    """What a call of a task or workflow (``kind``) from the frame ``caller`` does: a node
    while a workflow is compiled; a branch's call while an imperative conditional is written;
    a durable child node of the calling node inside a running task (calls written inside
    ``af.gather(...)`` start without waiting, and so do ``awaited`` ones: the caller awaits
    them); else a run of its own.

    ``plain_in_worker``: inside a running task with no engine to record a child (a worker
    process), call the plain function instead.
    """
    ctx = _compile.active()
    if ctx is not None:
        return _compile.bind_call(
            ctx,
            entity,
            entity.interface,
            entity.py_interface.input_types,
            args,
            kwargs,
            kind,
            label=entity._node_label,
            caller=caller,
        )
    recorded = deferred_call(entity, args, kwargs)  # a branch of an imperative conditional
    if recorded is not None:
        return recorded
    from airfoil.sdk._context import running_context

    running = running_context()
    if running is not None:
        if running.child_runner is not None:
            given = dict(zip(entity.py_interface.input_types, args, strict=False))
            given.update(kwargs)
            deferred = not awaited and inside_gather(caller)
            return running.child_runner(entity, given, deferred=deferred)
        if plain_in_worker:
            return entity.__airfoil_fn__(*args, **kwargs)
    return run_outside(entity, args, kwargs)
