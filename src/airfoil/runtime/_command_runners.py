"""The runners of the ``shell``, ``sql`` and ``container`` task types.

Each reads what to run from the spec's config (the record that was versioned and cached, not
the closure of the loaded definition), runs it with the attempt's decoded inputs (see
:mod:`airfoil.sdk._shell`, :mod:`airfoil.sdk._sql`, :mod:`airfoil.sdk._container`) and encodes
the result with the task's declared outputs, like a Python task's.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.blobs import BlobStore
from airfoil.core.records import TaskSpec, Value
from airfoil.runtime._task_types import encode_outputs
from airfoil.sdk._container import ContainerConfig, run_container
from airfoil.sdk._shell import ShellConfig, run_shell
from airfoil.sdk._sql import SQLConfig, run_sql
from airfoil.types import TypeEngine, ValueContext

__all__ = ["ContainerRunner", "SQLRunner", "ShellRunner"]


def _short_name(spec: TaskSpec) -> str:
    return spec.name.rsplit(".", 1)[-1]


def _output_types(task: Any) -> list[Any]:
    return list(task.py_interface.output_types.values())


class _Encoded:
    def outputs(
        self, result: Any, task: Any, engine: TypeEngine, ctx: ValueContext
    ) -> dict[str, Value]:
        return encode_outputs(result, task, engine, ctx)


class ShellRunner(_Encoded):
    """``shell``: run the config's script with the inputs placed in it."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        config = ShellConfig.decode(spec.config)
        return run_shell(_short_name(spec), config, kwargs, _output_types(task))


class SQLRunner(_Encoded):
    """``sql``: run the config's query on SQLite or DuckDB, the input frames as tables."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        return run_sql(_short_name(spec), SQLConfig.decode(spec.config), kwargs)


class ContainerRunner(_Encoded):
    """``container``: run the config's command locally (the image is recorded, not run)."""

    def run(self, task: Any, kwargs: dict[str, Any], spec: TaskSpec, blobs: BlobStore) -> Any:
        config = ContainerConfig.decode(spec.config)
        return run_container(_short_name(spec), config, kwargs, _output_types(task))
