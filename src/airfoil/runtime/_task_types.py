"""Task types: how a worker runs a task of each kind, found by ``TaskSpec.task_type``.

The engine schedules, retries and caches every task the same way; what differs by kind is
what an attempt *does* in the worker: call a Python function (``python``), build a graph
(``dynamic``), or -- plugged in by whoever needs them -- run a shell command, an SQL query, a
container, a training job. A :class:`TaskRunner` does that from the loaded task, its decoded
inputs and the spec's ``config`` (the type's settings, see
:func:`airfoil.sdk._task.task_of_type`), and turns what it returned into output values.

Registries are plain objects: the entry point builds one (:func:`default_task_types` plus its
own) and hands it to the :class:`~airfoil.runtime.worker.WorkerRuntime` it builds; nothing is
registered at import.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Protocol

from airfoil.core.blobs import BlobStore
from airfoil.core.code_versions import save_manifests
from airfoil.core.errors import PlatformError, TypeTransformError
from airfoil.core.ids import sha256_hex
from airfoil.core.records import (
    GRAPH_FORMAT,
    GRAPH_OUTPUT,
    TaskSpec,
    Value,
    WorkflowSpec,
    encode_json,
)
from airfoil.sdk._versioning import manifest_for
from airfoil.types import TypeEngine, ValueContext

__all__ = [
    "DynamicRunner",
    "OutputError",
    "PythonRunner",
    "TaskRunner",
    "TaskTypes",
    "default_task_types",
    "encode_outputs",
    "graph_outputs",
]


class OutputError(Exception):
    """The task returned a value that does not fit its declared outputs (a user error)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class TaskRunner(Protocol):
    """Runs the attempts of one task type inside a worker."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        """Do the attempt's work; return its result (a coroutine is awaited by the caller).

        Args:
            task: the loaded task definition (``TaskDef``).
            kwargs: its inputs, decoded into the interface's Python types.
            spec: its spec (``spec.config`` holds the type's settings).
            blobs: the blob store.
        """
        ...

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        """The attempt's output values (raise :class:`OutputError` for a bad result)."""
        ...


def encode_outputs(
    result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
) -> dict[str, Value]:
    """A result as the output values of ``task``'s interface (single, named tuple or none).

    Raises:
        OutputError: the result does not fit the declared outputs.
    """
    iface = task.py_interface
    style = iface.interface.output_style
    try:
        if style == "none":
            return {}
        if style == "single":
            return {"o0": engine.to_value(result, iface.output_types["o0"], ctx)}
        names = list(iface.output_types)
        if style == "named" and len(names) == 1 and not _whole_tuple(result, iface):
            result = (result,)  # a one-field NamedTuple task may return the bare value
        if not isinstance(result, tuple) or len(result) != len(names):
            got = type(result).__name__
            if isinstance(result, tuple):
                got = f"a {got} of {len(result)} item{'' if len(result) == 1 else 's'}"
            raise TypeTransformError(
                f"it must return a {iface.interface.output_tuple_name} "
                f"({', '.join(names)}), got {got}"
            )
        out = {}
        for n, v in zip(names, result, strict=True):
            try:
                out[n] = engine.to_value(v, iface.output_types[n], ctx)
            except TypeTransformError as exc:  # which of the outputs, by its name
                output = iface.interface.output(n)
                spec = f" ({output.type})" if output is not None else ""
                raise TypeTransformError(f"output {n!r}{spec}: {exc}") from exc
        return out
    except TypeTransformError as exc:
        raise OutputError(
            TypeTransformError(
                f"task {task.name!r} returned a bad output: {exc}; return what its annotation "
                "declares, or change the annotation"
            )
        ) from exc


def graph_outputs(graph: WorkflowSpec) -> dict[str, Value]:
    """The outputs of an attempt that built ``graph``: the engine runs it as the node's
    children, and the node takes the graph's outputs as its own (any task type's runner may
    return these; ``dynamic``'s does)."""
    payload = encode_json(graph)
    value = Value(hash=sha256_hex(payload), format=GRAPH_FORMAT, inline=payload, size=len(payload))
    return {GRAPH_OUTPUT: value}


def _whole_tuple(result: Any, iface: Any) -> bool:
    """Whether a one-field NamedTuple task returned the tuple itself (its NamedTuple, or a
    1-tuple when the field is not itself a tuple) rather than the bare value."""
    if isinstance(result, iface.return_type):
        return True
    field_type = next(iter(iface.output_types.values()))
    field_is_tuple = field_type is tuple or typing.get_origin(field_type) is tuple
    return type(result) is tuple and len(result) == 1 and not field_is_tuple


class PythonRunner:
    """``python``: call the task's function."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        return task.fn(**kwargs)

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return encode_outputs(result, task, engine, ctx)


class DynamicRunner:
    """``dynamic``: build the graph; its spec is the single ``__dynamic__`` output
    (:func:`graph_outputs`), which the engine expands into nodes."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        built = task.build(kwargs, blobs)
        save_manifests(blobs, built, manifest_for)  # the versions of the tasks it adds
        return built

    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return graph_outputs(result)


class TaskTypes:
    """Task runners by type name (a plain object: copy it, add to it, pass it down).

    Args:
        runners: the runners by type name.
        deferred: runners built on first :meth:`get` (by type name: a function that returns
            the runner), for types whose modules most runs never need.
    """

    def __init__(
        self,
        runners: dict[str, TaskRunner] | None = None,
        deferred: dict[str, Callable[[], TaskRunner]] | None = None,
    ) -> None:
        self._runners: dict[str, TaskRunner] = dict(runners or {})
        self._deferred: dict[str, Callable[[], TaskRunner]] = {
            k: v for k, v in (deferred or {}).items() if k not in self._runners
        }

    def register(self, name: str, runner: TaskRunner) -> None:
        """Add (or replace) the runner of task type ``name``."""
        self._runners[name] = runner
        self._deferred.pop(name, None)

    def names(self) -> list[str]:
        return sorted({*self._runners, *self._deferred})

    def get(self, name: str) -> TaskRunner:
        """The runner of ``name``.

        Raises:
            PlatformError: no runner is registered for it in this worker (a system error:
                the worker was not given the type).
        """
        runner = self._runners.get(name)
        if runner is None and name in self._deferred:
            runner = self._runners[name] = self._deferred.pop(name)()
        if runner is None:
            raise PlatformError(
                f"no runner for task type {name!r} in this worker (known: "
                f"{', '.join(self.names())}): give the runtime a TaskTypes registry holding it"
            )
        return runner

    def copy(self) -> TaskTypes:
        return TaskTypes(self._runners, self._deferred)


def _training_runner() -> TaskRunner:
    from airfoil.runtime._training import TrainingRunner

    return TrainingRunner()


def _shell_runner() -> TaskRunner:
    from airfoil.runtime._command_runners import ShellRunner

    return ShellRunner()


def _sql_runner() -> TaskRunner:
    from airfoil.runtime._command_runners import SQLRunner

    return SQLRunner()


def _container_runner() -> TaskRunner:
    from airfoil.runtime._command_runners import ContainerRunner

    return ContainerRunner()


def default_task_types() -> TaskTypes:
    """A new registry holding ``python``, ``dynamic``, ``training`` (a gang of ranks, see
    :mod:`airfoil.runtime._training`), ``shell``, ``sql`` and ``container`` (see
    :mod:`airfoil.runtime._command_runners`). The last four are built when a task of theirs
    first runs: their modules (zip files, gangs, containers) were ~4 ms of every
    ``airfoil run`` (issue 17, W5)."""
    return TaskTypes(
        {"python": PythonRunner(), "dynamic": DynamicRunner()},
        {
            "training": _training_runner,
            "shell": _shell_runner,
            "sql": _sql_runner,
            "container": _container_runner,
        },
    )
