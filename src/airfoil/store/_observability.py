"""The observability store: what tasks logged about themselves (metric time series) and how
attempts failed (failure records with their signatures), kept with the attempt, and read
across runs.

:class:`ObservabilityStore` is a small abstract class the metadata stores inherit
(:class:`~airfoil.store.memory.MemoryMetaStore`, :class:`~airfoil.store.sql.SqlMetaStore`),
so ``airfoil metrics``, the API and the console read what the driver stored whatever the
backend. Backends pass the shared suite in :mod:`airfoil.testing.observability_conformance`.

Invariants every backend keeps:

- A series is keyed by ``(execution_id, node_id, attempt, name)``; storing it again replaces
  it whole (the driver stores an attempt's series once its chunks are merged; a resumed
  driver may store them again).
- Series come back ordered by node id, attempt and name (code-point order), points in the
  order they were logged; a series stays until its execution is deleted.
- A series' summary (:class:`~airfoil.core.experiments.SeriesStat`) is written with it
  and always agrees with it (``metric_stats``).
- A failure is keyed by ``(execution_id, node_id, attempt)``; storing it again replaces it.
  Groups are computed by the backend (SQL ``GROUP BY`` on the server), ordered by count,
  then last seen (newest first), then signature; a group's example is its latest attempt.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from airfoil.core.experiments import SeriesStat
from airfoil.core.failures import FailureGroup, FailureRecord
from airfoil.core.metrics import MetricSeries
from airfoil.store._history import TaskHistoryStore

__all__ = ["ObservabilityStore"]


class ObservabilityStore(TaskHistoryStore, abc.ABC):
    """Where metric series, failures and the history of task versions are kept."""

    @abc.abstractmethod
    def put_metric_series(self, series: Sequence[MetricSeries]) -> None:
        """Store (replace) each series.

        Raises:
            NotFoundError: one names an execution that does not exist (nothing is stored).
        """

    @abc.abstractmethod
    def metric_series(
        self, execution_id: str, node_id: str | None = None, name: str | None = None
    ) -> list[MetricSeries]:
        """The series of an execution (of one node, of one metric name, if given)."""

    @abc.abstractmethod
    def metric_stats(
        self, execution_ids: Sequence[str], names: Sequence[str] | None = None
    ) -> list[SeriesStat]:
        """The summary of every series of these executions (of these metric names, if
        given): points, last value and time, finite min and max. Read without decoding the
        series (the SQL backend keeps them as columns), so a table of many runs is cheap.
        Unknown execution ids have none. Ordered by execution, node, attempt, name."""

    @abc.abstractmethod
    def put_failure(self, failure: FailureRecord) -> None:
        """Store (replace) a failed attempt's record.

        Raises:
            NotFoundError: its execution does not exist.
        """

    @abc.abstractmethod
    def failure_groups(
        self,
        project: str,
        *,
        since: float | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[FailureGroup]:
        """Failed attempts of ``project`` grouped by signature (ended at or after ``since``,
        of ``task``, if given): at most ``limit`` groups."""

    @abc.abstractmethod
    def failures(
        self, project: str, signature: str, *, since: float | None = None, limit: int = 100
    ) -> list[FailureRecord]:
        """The failed attempts of one group, newest first (at most ``limit``)."""
