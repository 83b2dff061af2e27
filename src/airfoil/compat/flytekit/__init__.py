"""flytekit's public API on Airfoil: change ``from flytekit import ...`` to
``from airfoil.compat.flytekit import ...`` (or ``import airfoil.compat.flytekit as
flytekit``) and run the program on Airfoil's embedded engine or server.

See ``docs/migrating-from-flyte.md`` for the mapping of each name, what differs, and what is
not supported. Names that address a remote Flyte cluster (``FlyteRemote``,
``reference_task``, ``reference_launch_plan``) raise an error saying what to do instead.
"""

from __future__ import annotations

import logging

from airfoil.compat.flytekit._checkpoint import Checkpoint
from airfoil.compat.flytekit._container import ContainerTask
from airfoil.compat.flytekit._context import Deck, Secret, current_context
from airfoil.compat.flytekit._decorators import (
    Cache,
    FlyteError,
    ImageSpec,
    PodTemplate,
    PythonFunctionTask,
    Resources,
    TaskMetadata,
    WorkflowFailurePolicy,
    dynamic,
    eager,
    map_task,
    task,
    workflow,
)
from airfoil.compat.flytekit._imperative import Workflow, create_node
from airfoil.compat.flytekit._launch import (
    Annotations,
    CronSchedule,
    Email,
    FixedRate,
    Labels,
    LaunchPlan,
    PagerDuty,
    Slack,
    WorkflowExecutionPhase,
)
from airfoil.compat.flytekit._models import Literal, LiteralType, Scalar
from airfoil.compat.flytekit._remote import (
    FlyteRemote,
    reference_launch_plan,
    reference_task,
    reference_workflow,
)
from airfoil.compat.flytekit._sqlite import SQLTask
from airfoil.compat.flytekit._structured import (
    StructuredDatasetFormat,
    StructuredDatasetTransformerEngine,
    StructuredDatasetType,
)
from airfoil.compat.flytekit._types import (
    BatchSize,
    FlyteDirectory,
    FlyteFile,
    HashMethod,
    StructuredDataset,
    TypeEngine,
    TypeTransformer,
    kwtypes,
)
from airfoil.compat.flytekit.core.context_manager import (
    ExecutionParameters,
    FlyteContext,
    FlyteContextManager,
)
from airfoil.compat.flytekit.models.documentation import Description, Documentation, SourceCode
from airfoil.sdk._conditional import conditional
from airfoil.sdk._gates import approve, sleep, wait_for_input

#: flytekit's ``flytekit.map`` (array node map): the same as :func:`map_task`.
map = map_task

#: flytekit's own logger (``flytekit.logger.info(...)`` in a task): records go to the log.
logger = logging.getLogger("flytekit")

__all__ = [
    "Annotations",
    "BatchSize",
    "Cache",
    "Checkpoint",
    "ContainerTask",
    "CronSchedule",
    "Deck",
    "Description",
    "Documentation",
    "Email",
    "ExecutionParameters",
    "FixedRate",
    "FlyteContext",
    "FlyteContextManager",
    "FlyteDirectory",
    "FlyteError",
    "FlyteFile",
    "FlyteRemote",
    "HashMethod",
    "ImageSpec",
    "Labels",
    "LaunchPlan",
    "Literal",
    "LiteralType",
    "PagerDuty",
    "PodTemplate",
    "PythonFunctionTask",
    "Resources",
    "SQLTask",
    "Scalar",
    "Secret",
    "Slack",
    "SourceCode",
    "StructuredDataset",
    "StructuredDatasetFormat",
    "StructuredDatasetTransformerEngine",
    "StructuredDatasetType",
    "TaskMetadata",
    "TypeEngine",
    "TypeTransformer",
    "WorkflowExecutionPhase",
    "Workflow",
    "WorkflowFailurePolicy",
    "approve",
    "conditional",
    "create_node",
    "current_context",
    "dynamic",
    "eager",
    "kwtypes",
    "logger",
    "map",
    "map_task",
    "reference_launch_plan",
    "reference_task",
    "reference_workflow",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]
