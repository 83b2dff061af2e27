"""``@training_task``: a multi-worker (distributed) training task, run as a gang.

The task's function is run by every worker (rank) of a gang, each started with the
environment PyTorch's ``init_process_group`` reads (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) and ``AIRFOIL_TRAINING_BACKEND``; rank 0's
return value is the task's output. The worker's runtime runs it with the ``training`` task
type (:mod:`airfoil.runtime._training`): all ranks start together or none do, and when one
fails the whole gang stops and starts again (up to ``max_restarts`` times), each rank resuming
from the latest checkpoint (``af.current_context().checkpoint``).

The task's ``requests`` are the gang's total (``workers`` times the per-worker resources), so
the engine's admission admits the whole gang at once or keeps it waiting whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, ParamSpec, TypeVar

import msgspec

from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.sdk._resources import Resources
from airfoil.sdk._task import TaskDef, task_of_type

__all__ = ["TRAINING_TYPE", "TrainingConfig", "training_task"]

P = ParamSpec("P")
R = TypeVar("R")

#: The task type name of training tasks.
TRAINING_TYPE = "training"

Backend = Literal["gloo", "nccl"]
Placement = Literal["auto", "pack", "spread"]


class TrainingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A training task's settings (``TaskSpec.config`` holds them as JSON).

    Attributes:
        workers: how many ranks (processes) the gang has.
        cpu: CPU cores per worker.
        mem: memory bytes per worker (0: not asked).
        gpu: whole GPUs per worker.
        backend: the collective backend the ranks use (``gloo`` on CPUs, ``nccl`` on GPUs).
        max_restarts: how many times the gang is restarted after a worker fails (each restart
            resumes from the latest checkpoint). Separate from the task's ``retries``.
        placement: ``auto`` (as few nodes as possible, each filled before the next: one node
            when the gang fits, else whole nodes), ``pack`` (one node, or wait), ``spread``
            (one rank per node). The process executor runs every rank on its machine.
        start_timeout_s: how long the gang may wait to be placed before the attempt fails.
    """

    workers: int
    cpu: float = 1.0
    mem: int = 0
    gpu: int = 0
    backend: Backend = "gloo"
    max_restarts: int = 3
    placement: Placement = "auto"
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        for field in ("cpu", "start_timeout_s"):  # JSON has no NaN/inf: stored, they read null
            if not math.isfinite(getattr(self, field)):
                raise ConfigError(f"{field} must be a finite number, got {getattr(self, field)}")
        if self.workers < 1:
            raise ConfigError(f"a training task needs at least 1 worker, got {self.workers}")
        if self.cpu < 0 or self.mem < 0 or self.gpu < 0:
            raise ConfigError("per-worker resources cannot be negative")
        if self.max_restarts < 0:
            raise ConfigError(f"max_restarts must be 0 or more, got {self.max_restarts}")
        if self.start_timeout_s <= 0:
            raise ConfigError("start_timeout_s must be positive")

    @staticmethod
    def decode(data: dict[str, Any]) -> TrainingConfig:
        """The config of a spec.

        Raises:
            ConfigError: the data is not a valid training config.
        """
        try:
            own = {k: v for k, v in data.items() if k != "gang"}
            return msgspec.convert(own, TrainingConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"invalid training task config: {exc}") from None


def training_task(
    *,
    workers: int,
    resources_per_worker: Resources | None = None,
    backend: Backend = "gloo",
    max_restarts: int = 3,
    placement: Placement = "auto",
    start_timeout_s: float = 120.0,
    **options: Any,
) -> Callable[[Callable[P, R]], TaskDef[P, R]]:
    """Declare a distributed training task: its function runs on ``workers`` ranks at once.

    Example:
        >>> @af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1))
        ... def train(steps: int) -> float:
        ...     torch.distributed.init_process_group("gloo")  # reads the env the gang sets
        ...     ...

    Args:
        workers: how many ranks.
        resources_per_worker: what each rank needs (CPUs, memory, GPUs).
        backend: ``gloo`` or ``nccl`` (set as ``AIRFOIL_TRAINING_BACKEND`` for the ranks).
        max_restarts: gang restarts after a worker fails (system faults and rank errors alike;
            the task's own ``retries`` are not used for them).
        placement: ``auto``, ``pack`` or ``spread`` (see :class:`TrainingConfig`).
        start_timeout_s: how long the gang may wait to be placed.
        options: the options of :func:`airfoil.task` (``requests`` is computed: do not give it).

    Raises:
        DefinitionError: a bad setting (the message names it).
    """
    if "requests" in options:
        raise DefinitionError(
            "a training task's requests are its gang's total: give resources_per_worker instead"
        )
    if backend not in ("gloo", "nccl"):
        raise DefinitionError(f"unknown backend {backend!r}: use 'gloo' or 'nccl'")
    if placement not in ("auto", "pack", "spread"):
        raise DefinitionError(f"unknown placement {placement!r}: use 'auto', 'pack' or 'spread'")
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise DefinitionError(f"workers must be an int, got {workers!r}")
    if resources_per_worker is not None and not isinstance(resources_per_worker, Resources):
        raise DefinitionError(
            "resources_per_worker takes af.Resources(cpu=..., mem=..., gpu=...), not "
            f"{resources_per_worker!r}"
        )
    per = (resources_per_worker or Resources(cpu=1)).to_spec()
    settings = {
        "workers": workers,
        "cpu": per.cpu,
        "mem": per.mem,
        "gpu": per.gpu,
        "backend": backend,
        "max_restarts": max_restarts,
        "placement": placement,
        "start_timeout_s": start_timeout_s,
    }
    try:  # checked against the fields' types: the worker reads the stored config back
        config = msgspec.convert(settings, TrainingConfig)
    except msgspec.ValidationError as exc:
        raise DefinitionError(f"training task: a setting is not of its type: {exc}") from None
    except ConfigError as exc:
        raise DefinitionError(f"training task: {exc}") from None
    total = Resources(
        cpu=per.cpu * workers or None,
        mem=per.mem * workers or None,
        gpu=per.gpu * workers or None,
    )
    data = msgspec.to_builtins(config)
    data["gang"] = True  # the runner places its own workers (executors read this flag)
    return task_of_type(TRAINING_TYPE, data, requests=total, **options)
