"""Task-history services: a task version's history (``airfoil tasks stats --remote``, the
console) and an execution's anomalies (``airfoil executions show --remote``, the console's
node panel), with the rule of the server's settings (``AIRFOIL_ANOMALY_K``,
``AIRFOIL_ANOMALY_MIN_HISTORY``, ``AIRFOIL_HISTORY_RUNS`` in its environment)."""

from __future__ import annotations

import msgspec

from airfoil.server._deps import Deps, get_head
from airfoil.store._log_search import search_logs as _search
from airfoil.store._task_history import execution_anomalies, task_history
from airfoil.wire._history import (
    AnomalyList,
    LogMatchOut,
    LogSearchOut,
    TaskNameList,
    TaskNameOut,
    TaskStatsOut,
    anomaly_out,
    stats_out,
)
from airfoil.wire._models import UnreadableOut

__all__ = ["anomalies", "search_logs", "task_names", "task_stats"]


def task_stats(
    d: Deps, project: str, task: str, version: str | None, last: int | None
) -> TaskStatsOut:
    """The history of ``task`` (its newest version by default) in ``project``.

    Raises:
        NotFoundError: the task has no runs there (or none of that version).
        InvalidInputError: ``last`` is out of range.
    """
    s = d.runtime.settings
    runs = last if last is not None else s.history_runs
    history = task_history(d.meta, project, task, version=version, last=runs)
    names = d.meta.execution_names([r.execution_id for r in history.runs])
    return stats_out(history, k=s.anomaly_k, names=names)


def task_names(d: Deps, project: str, limit: int) -> TaskNameList:
    """The tasks of ``project`` with recorded runs, the one that ran last first."""
    return TaskNameList(
        items=[
            TaskNameOut(task=t, runs=n, failed=failed, last_ended_at=at)
            for t, n, failed, at in d.meta.task_names(project, limit=limit)
        ]
    )


def anomalies(
    d: Deps,
    project: str,
    execution_id: str,
    *,
    k: float | None = None,
    min_history: int | None = None,
    last: int | None = None,
) -> AnomalyList:
    """The anomalies of an execution of ``project`` (the rule's parts not given: the
    server's settings).

    Raises:
        NotFoundError: no such execution in the project.
    """
    get_head(d, project, execution_id)
    s = d.runtime.settings
    k = s.anomaly_k if k is None else k
    min_history = s.anomaly_min_history if min_history is None else min_history
    last = s.history_runs if last is None else last
    found = execution_anomalies(d.meta, execution_id, k=k, min_history=min_history, last=last)
    return AnomalyList(
        execution_id=execution_id,
        k=k,
        min_history=min_history,
        runs=last,
        items=[anomaly_out(a) for a in found],
    )


def search_logs(
    d: Deps,
    project: str,
    text: str,
    since: float | None,
    runs: int,
    limit: int,
    level: str | None = None,
) -> LogSearchOut:
    """Lines of the project's task logs containing ``text`` (of entries at ``level`` or
    above, if given; bounded: see :mod:`airfoil.store._log_search`).

    Raises:
        InvalidInputError: an empty text, bounds out of range, an unknown level.
    """
    found = _search(
        d.meta, d.blobs, project, text, since=since, runs=runs, limit=limit, level=level
    )
    return LogSearchOut(
        text=text,
        matches=[LogMatchOut(**msgspec.structs.asdict(m)) for m in found.matches],
        runs=found.runs,
        logs=found.logs,
        skipped=found.skipped,
        complete=found.complete,
        unreadable=[
            UnreadableOut(kind=u.kind, id=u.id, reason=u.reason, why=u.why)
            for u in found.unreadable
        ],
    )
