"""The authoring SDK: ``@task``, ``@workflow``, resources, the task context."""

from airfoil.sdk._context import ExecutionContext, current_context
from airfoil.sdk._resources import Resources
from airfoil.sdk._task import TaskDef, task
from airfoil.sdk._workflow import WorkflowDef, workflow

__all__ = [
    "ExecutionContext",
    "Resources",
    "TaskDef",
    "WorkflowDef",
    "current_context",
    "task",
    "workflow",
]
