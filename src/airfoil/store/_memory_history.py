"""The in-memory :class:`TaskHistoryStore`, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore` (through its observability store).

Invariants: runs are frozen records kept in a dict under the host store's one lock
(``self._lock``); metric final values are read from the host's stored series.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import msgspec

from airfoil.core.history import TaskRun
from airfoil.core.metrics import MetricSeries
from airfoil.store._history import RunKey, TaskCount, TaskHistoryStore, TaskVersionCount

__all__ = ["MemoryTaskHistoryStore"]


def _newest_first(run: TaskRun) -> tuple[float, str, str, int]:
    return (run.ended_at, run.execution_id, run.node_id, run.attempt)


class MemoryTaskHistoryStore(TaskHistoryStore):
    """Task runs in a dict under the host store's lock."""

    _lock: threading.Lock
    _executions: dict[str, Any]

    def _series_rows(self) -> dict[tuple[str, str, int, str], bytes]:
        raise NotImplementedError  # pragma: no cover - the observability store's

    def _run_rows(self) -> dict[RunKey, TaskRun]:
        """The runs (created on first use); call with ``self._lock`` held."""
        rows: dict[RunKey, TaskRun] | None = self.__dict__.get("_task_run_rows")
        if rows is None:
            rows = self.__dict__["_task_run_rows"] = {}
        return rows

    def put_task_runs(self, runs: Sequence[TaskRun]) -> None:
        with self._lock:
            rows = self._run_rows()
            for r in runs:
                execution = self._executions.get(r.execution_id)
                key = (r.execution_id, r.node_id, r.attempt)
                if execution is None or key in rows:
                    continue
                rows[key] = msgspec.structs.replace(r, project=execution.project)

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
        with self._lock:
            found = [
                r
                for r in self._run_rows().values()
                if r.project == project
                and r.task == task
                and (version is None or r.version == version)
                and (before is None or r.ended_at < before)
                and (exclude_execution is None or r.execution_id != exclude_execution)
                and (r.ok or not succeeded_only)
            ]
        found.sort(key=_newest_first, reverse=True)
        return found[: max(0, last)]

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
        runs = self.task_runs(
            project,
            task,
            version=version,
            last=last,
            before=before,
            exclude_execution=exclude_execution,
        )
        keys = {(r.execution_id, r.node_id, r.attempt) for r in runs}
        with self._lock:
            stored = [(k, v) for k, v in self._series_rows().items() if k[:3] in keys]
        decoder = msgspec.json.Decoder(MetricSeries)
        out: dict[RunKey, dict[str, float | None]] = {}
        for (eid, nid, attempt, name), data in stored:
            last_value = decoder.decode(data).last
            finite = last_value is not None and math.isfinite(last_value)
            out.setdefault((eid, nid, attempt), {})[name] = last_value if finite else None
        return out

    def execution_task_runs(self, execution_id: str) -> list[TaskRun]:
        with self._lock:
            found = [r for k, r in self._run_rows().items() if k[0] == execution_id]
        found.sort(key=lambda r: (r.node_id, r.attempt))
        return found

    def task_versions(self, project: str, task: str) -> list[TaskVersionCount]:
        by: dict[str, tuple[int, float]] = {}
        with self._lock:
            for r in self._run_rows().values():
                if r.project == project and r.task == task:
                    n, at = by.get(r.version, (0, -math.inf))
                    by[r.version] = (n + 1, max(at, r.ended_at))
        out = [(v, n, at) for v, (n, at) in by.items()]
        out.sort(key=lambda x: (-x[2], x[0]))
        return out

    def task_names(self, project: str, *, limit: int = 1000) -> list[TaskCount]:
        by: dict[str, tuple[int, int, float]] = {}
        with self._lock:
            for r in self._run_rows().values():
                if r.project == project:
                    n, failed, at = by.get(r.task, (0, 0, -math.inf))
                    by[r.task] = (n + 1, failed + (not r.ok), max(at, r.ended_at))
        out = [(t, n, failed, at) for t, (n, failed, at) in by.items()]
        out.sort(key=lambda x: (-x[3], x[0]))
        return out[:limit]
