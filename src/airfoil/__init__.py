"""Airfoil: typed, durable, cached ML and data pipelines, from a laptop to a cluster.

The public API is loaded lazily: ``import airfoil`` imports nothing heavy, opens nothing
and starts nothing.

Example:
    >>> import airfoil as af
    >>> @af.task
    ... def double(x: int) -> int:
    ...     return 2 * x
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airfoil.core import local_runner as _local_runner

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "task": "airfoil.sdk._task",
    "TaskDef": "airfoil.sdk._task",
    "workflow": "airfoil.sdk._workflow",
    "ImperativeWorkflow": "airfoil.sdk._imperative",
    "create_node": "airfoil.sdk._imperative",
    "conditional": "airfoil.sdk._conditional",
    "dynamic": "airfoil.sdk._dynamic",
    "gather": "airfoil.sdk._gather",
    "FailureInfo": "airfoil.sdk._failure",
    "map_task": "airfoil.sdk._map",
    "training_task": "airfoil.sdk._training",
    "shell_task": "airfoil.sdk._shell",
    "sql_task": "airfoil.sdk._sql",
    "container_task": "airfoil.sdk._container",
    "sleep": "airfoil.sdk._gates",
    "wait_for_input": "airfoil.sdk._gates",
    "approve": "airfoil.sdk._gates",
    "WorkflowDef": "airfoil.sdk._workflow",
    "Resources": "airfoil.sdk._resources",
    "current_context": "airfoil.sdk._context",
    "ExecutionContext": "airfoil.sdk._context",
    "File": "airfoil.types",
    "Directory": "airfoil.types",
    "TypeEngine": "airfoil.types",
    "AirfoilSettings": "airfoil.settings",
    "AirfoilError": "airfoil.core.errors",
    "DefinitionError": "airfoil.core.errors",
    "ExecutionFailedError": "airfoil.core.errors",
    "UserError": "airfoil.core.errors",
    "CronSchedule": "airfoil.sdk._launch_plan",
    "FixedRate": "airfoil.sdk._launch_plan",
    "LaunchPlan": "airfoil.sdk._launch_plan",
    "LogNotification": "airfoil.sdk._launch_plan",
    "Webhook": "airfoil.sdk._launch_plan",
    "on_artifact": "airfoil.sdk._launch_plan",
}

__all__ = [
    "AirfoilError",
    "AirfoilSettings",
    "CronSchedule",
    "DefinitionError",
    "Directory",
    "ExecutionContext",
    "ExecutionFailedError",
    "ImperativeWorkflow",
    "FailureInfo",
    "File",
    "FixedRate",
    "LaunchPlan",
    "LogNotification",
    "Resources",
    "TaskDef",
    "TypeEngine",
    "UserError",
    "Webhook",
    "WorkflowDef",
    "__version__",
    "approve",
    "conditional",
    "container_task",
    "create_node",
    "current_context",
    "dynamic",
    "gather",
    "map_task",
    "on_artifact",
    "shell_task",
    "sleep",
    "sql_task",
    "task",
    "training_task",
    "wait_for_input",
    "workflow",
]

if TYPE_CHECKING:
    from airfoil.core.errors import (
        AirfoilError,
        DefinitionError,
        ExecutionFailedError,
        UserError,
    )
    from airfoil.sdk._conditional import conditional
    from airfoil.sdk._container import container_task
    from airfoil.sdk._context import ExecutionContext, current_context
    from airfoil.sdk._dynamic import dynamic
    from airfoil.sdk._failure import FailureInfo
    from airfoil.sdk._gates import approve, sleep, wait_for_input
    from airfoil.sdk._gather import gather
    from airfoil.sdk._imperative import ImperativeWorkflow, create_node
    from airfoil.sdk._launch_plan import (
        CronSchedule,
        FixedRate,
        LaunchPlan,
        LogNotification,
        Webhook,
        on_artifact,
    )
    from airfoil.sdk._map import map_task
    from airfoil.sdk._resources import Resources
    from airfoil.sdk._shell import shell_task
    from airfoil.sdk._sql import sql_task
    from airfoil.sdk._task import TaskDef, task
    from airfoil.sdk._training import training_task
    from airfoil.sdk._workflow import WorkflowDef, workflow
    from airfoil.settings import AirfoilSettings
    from airfoil.types import Directory, File, TypeEngine


class _EmbeddedEngine:
    """Runs entities called as functions on the embedded engine, imported on the first call
    (see :mod:`airfoil.core.local_runner`; importing ``airfoil`` opens and starts nothing)."""

    def call_entity(
        self, entity: object, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> object:
        from airfoil.local import EMBEDDED

        return EMBEDDED.call_entity(entity, args, kwargs)

    def call_launch_plan(self, plan: object, inputs: dict[str, object]) -> object:
        from airfoil.local import EMBEDDED

        return EMBEDDED.call_launch_plan(plan, inputs)


_local_runner.install_local_runner(_EmbeddedEngine())


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'airfoil' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
