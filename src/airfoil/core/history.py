"""Task history: every attempt of a task version with its duration, its summary statistics,
and the rule that flags an attempt (or a metric's final value) far from its history.

The driver records a :class:`TaskRun` for each ended attempt (batched, see
:mod:`airfoil.executors.observe`); ``airfoil tasks stats``, ``airfoil executions show``, the
API and the console read them back (``ObservabilityStore.task_runs``).

Invariants:

- :func:`summarize` of fewer than one value is ``None``; its ``std`` is the sample standard
  deviation (``n - 1``; 0 for one value) and its percentiles interpolate linearly between
  the closest ranks (numpy's default), so p50 of ``[1, 2]`` is 1.5.
- :func:`check` flags a value only with at least ``min_history`` values of history; with a
  history whose spread is zero, any value different from it is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MIN_HISTORY",
    "DEFAULT_RUNS",
    "DURATION_FLOOR_S",
    "Anomaly",
    "Summary",
    "TaskHistory",
    "TaskRun",
    "check",
    "summarize",
]

#: How many standard deviations from the mean flag a value (``AIRFOIL_ANOMALY_K``).
DEFAULT_K = 3.0
#: The fewest earlier runs a value is compared with (``AIRFOIL_ANOMALY_MIN_HISTORY``).
DEFAULT_MIN_HISTORY = 10
#: How many of the latest successful runs make a history (``AIRFOIL_HISTORY_RUNS``).
DEFAULT_RUNS = 100
#: The least a duration must differ from its history's mean to be flagged, whatever the
#: spread: a run of milliseconds that waited a few more for a CPU on a busy machine is not an
#: anomaly (a trivial task's history can have a spread of microseconds).
DURATION_FLOOR_S = 0.1


class TaskRun(msgspec.Struct, frozen=True, omit_defaults=True):
    """One ended attempt of a task version.

    Attributes:
        execution_id / node_id / attempt: the attempt.
        task / version: the task's name and code version.
        started_at / ended_at: when it ran (seconds since the epoch).
        ok: whether it succeeded.
        project: the execution's project (filled in by the store).
    """

    execution_id: str
    node_id: str
    attempt: int
    task: str
    version: str
    started_at: float
    ended_at: float
    ok: bool = True
    project: str = ""

    @property
    def duration(self) -> float:
        """How long it ran, in seconds (never negative)."""
        return max(0.0, self.ended_at - self.started_at)


class Summary(msgspec.Struct, frozen=True):
    """Summary statistics of a list of values."""

    count: int
    mean: float
    std: float
    p50: float
    p95: float
    min: float
    max: float


def _percentile(ordered: Sequence[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float | None]) -> Summary | None:
    """Count, mean, sample std, p50, p95, min and max of the finite values (None if none)."""
    data = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not data:
        return None
    n = len(data)
    mean = math.fsum(data) / n
    var = math.fsum((v - mean) ** 2 for v in data) / (n - 1) if n > 1 else 0.0
    ordered = sorted(data)
    return Summary(
        count=n,
        mean=mean,
        std=math.sqrt(var),
        p50=_percentile(ordered, 0.5),
        p95=_percentile(ordered, 0.95),
        min=ordered[0],
        max=ordered[-1],
    )


class Anomaly(msgspec.Struct, frozen=True, omit_defaults=True):
    """An attempt's duration or metric far from its task version's history.

    Attributes:
        execution_id / node_id / attempt / task / version: the attempt.
        kind: ``duration`` or ``metric``.
        value: the attempt's value (seconds, or the metric's final value).
        mean / std / count: its history.
        deviations: ``(value - mean) / std`` (infinite when the history has no spread).
        message: the reason in words ("took 12.3 s, 4.1 std above the mean 2.0 s of 20 runs").
        metric: the metric's name (kind ``metric``).
    """

    execution_id: str
    node_id: str
    attempt: int
    task: str
    version: str
    kind: str
    value: float
    mean: float
    std: float
    count: int
    deviations: float
    message: str
    metric: str = ""


def _num(v: float, unit: str) -> str:
    """12.3, 2.0, 0.00244, 1,234: one decimal from 1 on, three significant digits below."""
    if abs(v) >= 1000:
        text = f"{v:,.0f}"
    elif abs(v) >= 1:
        text = f"{v:.1f}"
    else:
        text = f"{v:.3g}"
    return f"{text} {unit}" if unit else text


def check(
    run: TaskRun,
    value: float | None,
    history: Summary | None,
    *,
    k: float,
    min_history: int,
    metric: str = "",
) -> Anomaly | None:
    """The anomaly if ``value`` is more than ``k`` standard deviations from ``history``
    (with at least ``min_history`` values; a duration also at least
    :data:`DURATION_FLOOR_S` from its mean), else None. ``metric`` names the metric whose
    final value ``value`` is; without it, ``value`` is the run's duration in seconds."""
    if value is None or not math.isfinite(value) or history is None:
        return None
    if history.count < min_history:
        return None
    diff = value - history.mean
    if not metric and abs(diff) < DURATION_FLOOR_S:
        return None
    if history.std > 0:
        deviations = diff / history.std
        if abs(deviations) <= k:
            return None
    else:
        if abs(diff) <= 1e-9 * max(1.0, abs(history.mean)):
            return None
        deviations = math.copysign(math.inf, diff)
    unit = "" if metric else "s"
    side = "above" if diff > 0 else "below"
    what = f"{metric} ended at {_num(value, unit)}" if metric else f"took {_num(value, unit)}"
    if math.isfinite(deviations):
        message = (
            f"{what}, {abs(deviations):.1f} std {side} the mean {_num(history.mean, unit)} "
            f"of {history.count} runs"
        )
    else:
        message = f"{what}, {side} the {_num(history.mean, unit)} all {history.count} runs gave"
    return Anomaly(
        execution_id=run.execution_id,
        node_id=run.node_id,
        attempt=run.attempt,
        task=run.task,
        version=run.version,
        kind="metric" if metric else "duration",
        value=value,
        mean=history.mean,
        std=history.std,
        count=history.count,
        deviations=deviations,
        message=message,
        metric=metric,
    )


class TaskHistory(msgspec.Struct, frozen=True):
    """The history of one task version: its latest successful runs, newest first.

    Attributes:
        project / task / version: whose history.
        runs: the runs, newest first.
        duration: the summary of their durations (None without runs).
        metrics: the summary of each metric's final value over the runs that logged it.
        metric_values: each metric's final value per run (aligned with ``runs``; None for a
            run that did not log it or ended it on NaN).
        versions: every version of the task with runs: ``(version, runs, latest end)``, the
            one that ran last first.
    """

    project: str
    task: str
    version: str
    runs: list[TaskRun]
    duration: Summary | None
    metrics: dict[str, Summary]
    metric_values: dict[str, list[float | None]]
    versions: list[tuple[str, int, float]]
