"""The embedded engine: what runs when a workflow or task is called as a function, and what
the CLI drives. It wires the store, blob store, executor and type engine from settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airfoil.core.errors import ConfigError, ExecutionFailedError, InvalidInputError
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import ExecutionRecord, Value, WorkflowSpec
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.base import Executor
from airfoil.sdk._values import convert_values, decode_values
from airfoil.store.base import BlobStore, MetaStore

__all__ = ["LocalRuntime", "call_entity", "convert_inputs", "decode_outputs", "get_runtime"]


class LocalRuntime:
    """A store, a blob store and a type engine, opened once per settings per process."""

    def __init__(self, settings: Any) -> None:
        from airfoil.store._open import open_meta_store
        from airfoil.store.blob import open_blob_store
        from airfoil.types import default_type_engine

        self.settings = settings
        self.meta: MetaStore = open_meta_store(settings.database_url, settings.home)
        self.blob_url: str = settings.resolved_blob_url()
        self.blobs: BlobStore = open_blob_store(self.blob_url)
        self.types = default_type_engine()
        self._executors: dict[str, Executor] = {}
        self._resources: Any = None

    @property
    def resources(self) -> Any:
        """The process's resource queue: every engine of this runtime admits through it, so
        executions run from several threads share the machine fairly."""
        if self._resources is None:
            import os
            import socket
            import uuid

            from airfoil.engine._resources import machine_queue

            self._resources = machine_queue(
                self.meta,
                owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
                policy=self.settings.scheduler_policy,
                gpus=self.settings.gpus,
            )
        return self._resources

    def executor(self, name: str | None = None) -> Executor:
        name = name or self.settings.executor
        ex = self._executors.get(name)
        if ex is None:
            if name == "inline":
                from airfoil.executors.inline import InlineExecutor

                ex = InlineExecutor(self.blobs, self.types)
            elif name == "process":
                from airfoil.executors.process import ProcessExecutor

                ex = ProcessExecutor(self.blob_url, max_workers=self.settings.max_parallel)
            else:
                raise ConfigError(f"unknown executor {name!r}: use 'inline' or 'process'")
            self._executors[name] = ex
        return ex

    def engine(
        self, executor: str | None = None, on_change: Callable[[Any], None] | None = None
    ) -> Engine:
        return Engine(
            self.meta,
            self.blobs,
            self.executor(executor),
            blob_url=self.blob_url,
            settings=EngineSettings(
                project=self.settings.project,
                domain=self.settings.domain,
                max_parallel=self.settings.max_parallel,
                scheduler_policy=self.settings.scheduler_policy,
                journal_dir=str(Path(self.settings.home) / "journals"),
            ),
            on_change=on_change,
            resources=self.resources,
        )

    def close(self) -> None:
        if self._resources is not None:
            self._resources.close()
        for ex in self._executors.values():
            ex.close()
        self.meta.close()


_runtimes: dict[str, LocalRuntime] = {}
_lock = threading.Lock()


def get_runtime(settings: Any = None) -> LocalRuntime:
    """The process's runtime for these settings (default: from the environment)."""
    if settings is None:
        from airfoil.settings import AirfoilSettings

        settings = AirfoilSettings()
    key = settings.model_dump_json()
    with _lock:
        rt = _runtimes.get(key)
        if rt is None:
            rt = _runtimes[key] = LocalRuntime(settings)
        return rt


def spec_of(entity: Any) -> WorkflowSpec:
    """The workflow spec to run for a workflow, or a one-node wrapper for a task."""
    from airfoil.sdk._workflow import single_task_workflow

    if hasattr(entity, "spec") and isinstance(entity.spec, WorkflowSpec):
        return entity.spec
    return single_task_workflow(entity)


def convert_inputs(entity: Any, given: dict[str, Any], runtime: LocalRuntime) -> dict[str, Value]:
    """Check launch inputs against the interface and serialise them.

    Raises:
        InvalidInputError: an unknown, missing or ill-typed input.
    """
    return convert_values(entity, given, runtime.types, runtime.blobs)


def decode_outputs(entity: Any, record: ExecutionRecord, runtime: LocalRuntime) -> Any:
    """The execution's outputs as the Python value(s) the entity's signature promises."""
    return decode_values(entity, record.outputs or {}, runtime.types, runtime.blobs)


def raise_for_failure(record: ExecutionRecord) -> None:
    """Raise :class:`ExecutionFailedError` if the execution did not succeed."""
    if record.phase == ExecutionPhase.SUCCEEDED.value:
        return
    err = record.error
    raise ExecutionFailedError(
        record.id,
        f"{err.type}: {err.message}" if err else record.phase,
        node_id=None,
        error_kind=err.kind if err else "system",
        error_type=err.type if err else "",
        traceback=err.traceback if err else "",
    )


def call_entity(entity: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a workflow or task called as a function; return its outputs as Python values."""
    from airfoil.sdk._versioning import project_root

    names = list(entity.py_interface.input_types)
    if len(args) > len(names):
        raise InvalidInputError(
            f"{entity.name} takes {len(names)} inputs but {len(args)} positional arguments "
            "were given"
        )
    given = dict(zip(names, args, strict=False))
    given.update(kwargs)
    runtime = get_runtime()
    values = convert_inputs(entity, given, runtime)
    engine = runtime.engine()
    record = engine.launch(
        spec_of(entity), values, code_root=project_root(entity.module), keep=True
    )
    record = engine.drive(record.id)
    raise_for_failure(record)
    return decode_outputs(entity, record, runtime)
