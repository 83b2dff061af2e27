"""The task-history store: one :class:`~airfoil.core.history.TaskRun` per ended attempt, read
back per task version (newest first) for ``airfoil tasks stats`` and anomaly flags.

:class:`TaskHistoryStore` is part of :class:`~airfoil.store._observability.ObservabilityStore`
(so of every metadata store); backends pass :mod:`airfoil.testing.observability_conformance`.

Invariants every backend keeps:

- A run is keyed by ``(execution_id, node_id, attempt)``; storing it again keeps the first
  (an attempt ends once). Its ``project`` is its execution's, filled in by the store; a run
  whose execution does not exist (deleted meanwhile) is dropped, not an error, so one
  missing execution never loses the rest of a batch.
- Runs come back newest first (``ended_at``, then execution, node and attempt, descending);
  a run stays until its execution is deleted.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from airfoil.core.history import TaskRun

__all__ = ["RunKey", "TaskCount", "TaskHistoryStore", "TaskVersionCount"]

#: ``(execution_id, node_id, attempt)``.
RunKey = tuple[str, str, int]
#: ``(version, runs, latest ended_at)``.
TaskVersionCount = tuple[str, int, float]
#: ``(task, runs, failed runs, latest ended_at)``.
TaskCount = tuple[str, int, int, float]


class TaskHistoryStore(abc.ABC):
    """Where the ended attempts of every task version are kept."""

    @abc.abstractmethod
    def put_task_runs(self, runs: Sequence[TaskRun]) -> None:
        """Store each run (one transaction); runs of unknown executions are dropped."""

    @abc.abstractmethod
    def task_runs(
        self,
        project: str,
        task: str,
        *,
        version: str | None = None,
        last: int = 100,
        before: float | None = None,
        exclude_execution: str | None = None,
        succeeded_only: bool = True,
    ) -> list[TaskRun]:
        """The latest ``last`` runs of ``task`` in ``project`` (of one ``version``; ended
        before ``before``; not of ``exclude_execution``; only successful ones), newest first."""

    @abc.abstractmethod
    def task_run_metrics(
        self,
        project: str,
        task: str,
        *,
        version: str | None = None,
        last: int = 100,
        before: float | None = None,
        exclude_execution: str | None = None,
    ) -> dict[RunKey, dict[str, float | None]]:
        """The final value of each metric of the successful runs :meth:`task_runs` returns
        for the same arguments (None: its last point was NaN or infinite)."""

    @abc.abstractmethod
    def execution_task_runs(self, execution_id: str) -> list[TaskRun]:
        """The runs of one execution, by node id and attempt."""

    @abc.abstractmethod
    def task_versions(self, project: str, task: str) -> list[TaskVersionCount]:
        """The versions of ``task`` with runs: ``(version, runs, latest end)``, the version
        that ran last first."""

    @abc.abstractmethod
    def task_names(self, project: str, *, limit: int = 1000) -> list[TaskCount]:
        """The tasks of ``project`` with recorded runs (every version, successful or not):
        ``(task, runs, failed runs, latest end)``, the task that ran last first, at most
        ``limit``."""
