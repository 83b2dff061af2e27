"""Reading task history: one task version's history (``airfoil tasks stats``) and the
anomalies of one execution (``airfoil executions show``, the API, the console, launch-plan
notifications), from any :class:`~airfoil.store._observability.ObservabilityStore`.

An execution's attempt is compared with the latest ``last`` successful runs of the same task
version in *other* executions that ended before that version's last run in this one (so
the items of one map are each compared with the same history, and a rerun of an old
execution is not compared with itself). Reads: one query for the execution's runs, one for
its metric series, then two per task version it ran (runs, their metrics' final values).
"""

from __future__ import annotations

import math
from collections import defaultdict

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.core.history import (
    DEFAULT_K,
    DEFAULT_MIN_HISTORY,
    DEFAULT_RUNS,
    Anomaly,
    Summary,
    TaskHistory,
    TaskRun,
    check,
    summarize,
)
from airfoil.store._observability import ObservabilityStore

__all__ = ["MAX_RUNS", "check_history_settings", "execution_anomalies", "task_history"]

#: The most runs a history reads (``--last`` and ``history_runs`` are capped here).
MAX_RUNS = 10_000


def check_history_settings(k: float, min_history: int, last: int) -> None:
    """Refuse settings that cannot make a history.

    Raises:
        InvalidInputError: ``k`` is not a positive number, ``min_history`` is under 2 or
            ``last`` is not in 1..:data:`MAX_RUNS`.
    """
    if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
        raise InvalidInputError(f"invalid anomaly k {k!r}: use a positive number such as 3")
    if min_history < 2:
        raise InvalidInputError(
            f"invalid minimum history {min_history}: use 2 or more runs (default "
            f"{DEFAULT_MIN_HISTORY}); a standard deviation needs at least two"
        )
    if not 1 <= last <= MAX_RUNS:
        raise InvalidInputError(f"invalid number of runs {last}: use 1 to {MAX_RUNS}")


def _metric_summaries(
    runs: list[TaskRun], finals: dict[tuple[str, str, int], dict[str, float | None]]
) -> tuple[dict[str, Summary], dict[str, list[float | None]]]:
    names = sorted({n for values in finals.values() for n in values})
    aligned: dict[str, list[float | None]] = {}
    summaries: dict[str, Summary] = {}
    for name in names:
        column = [finals.get((r.execution_id, r.node_id, r.attempt), {}).get(name) for r in runs]
        aligned[name] = column
        summary = summarize(column)
        if summary is not None:
            summaries[name] = summary
    return summaries, aligned


def task_history(
    meta: ObservabilityStore,
    project: str,
    task: str,
    *,
    version: str | None = None,
    last: int = DEFAULT_RUNS,
) -> TaskHistory:
    """The latest ``last`` successful runs of ``task`` (its newest version by default).

    Raises:
        NotFoundError: the task has no runs in ``project`` (or none of ``version``).
        InvalidInputError: ``last`` is out of range.
    """
    if not 1 <= last <= MAX_RUNS:
        raise InvalidInputError(f"invalid --last {last}: use 1 to {MAX_RUNS}")
    versions = meta.task_versions(project, task)
    if not versions:
        raise NotFoundError(
            f"task {task!r} has no recorded runs in project {project!r}: give its full name "
            "(module.function, as `airfoil executions show` lists it) and run it first"
        )
    if version is None:
        version = versions[0][0]
    elif version not in {v for v, _, _ in versions}:
        known = ", ".join(v for v, _, _ in versions[:10])
        raise NotFoundError(f"task {task!r} has no runs of version {version!r}: it has {known}")
    runs = meta.task_runs(project, task, version=version, last=last)
    finals = meta.task_run_metrics(project, task, version=version, last=last)
    metrics, values = _metric_summaries(runs, finals)
    return TaskHistory(
        project=project,
        task=task,
        version=version,
        runs=runs,
        duration=summarize([r.duration for r in runs]),
        metrics=metrics,
        metric_values=values,
        versions=list(versions),
    )


def execution_anomalies(
    meta: ObservabilityStore,
    execution_id: str,
    *,
    k: float = DEFAULT_K,
    min_history: int = DEFAULT_MIN_HISTORY,
    last: int = DEFAULT_RUNS,
) -> list[Anomaly]:
    """The successful attempts of an execution whose duration or a metric's final value is
    more than ``k`` standard deviations from their task version's history (see the module
    docstring), by node id, attempt, then duration before metrics."""
    check_history_settings(k, min_history, last)
    runs = [r for r in meta.execution_task_runs(execution_id) if r.ok]
    if not runs:
        return []
    own: dict[tuple[str, int], dict[str, float | None]] = defaultdict(dict)
    for s in meta.metric_series(execution_id):
        final = s.last
        own[(s.node_id, s.attempt)][s.name] = (
            final if final is not None and math.isfinite(final) else None
        )
    groups: dict[tuple[str, str], list[TaskRun]] = defaultdict(list)
    for r in runs:
        groups[(r.task, r.version)].append(r)
    found: list[Anomaly] = []
    for (task, version), members in groups.items():
        project, before = members[0].project, max(r.ended_at for r in members)
        history = meta.task_runs(
            project, task, version=version, last=last, before=before, exclude_execution=execution_id
        )
        if len(history) < min_history:
            continue
        duration = summarize([r.duration for r in history])
        finals = meta.task_run_metrics(
            project, task, version=version, last=last, before=before, exclude_execution=execution_id
        )
        metrics, _ = _metric_summaries(history, finals)
        for r in members:
            flag = check(r, r.duration, duration, k=k, min_history=min_history)
            if flag is not None:
                found.append(flag)
            for name, value in sorted(own.get((r.node_id, r.attempt), {}).items()):
                flag = check(r, value, metrics.get(name), k=k, min_history=min_history, metric=name)
                if flag is not None:
                    found.append(flag)
    found.sort(key=lambda a: (a.node_id, a.attempt, a.kind != "duration", a.metric))
    return found
