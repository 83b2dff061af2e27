"""Wire models of task history (issue 15): a task version's latest runs with summary
statistics (``airfoil tasks stats --remote``), and an execution's anomalies (attempts far
from their history)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from airfoil.core.history import Anomaly, Summary, TaskHistory
from airfoil.wire._models import UnreadableOut

__all__ = [
    "AnomalyList",
    "AnomalyOut",
    "LogMatchOut",
    "LogSearchOut",
    "SummaryOut",
    "TaskNameList",
    "TaskNameOut",
    "TaskRunOut",
    "TaskStatsOut",
    "TaskVersionOut",
    "anomaly_out",
    "stats_out",
]


class SummaryOut(BaseModel):
    """Summary statistics of a list of values (std: sample; percentiles interpolated)."""

    model_config = ConfigDict(extra="ignore")

    count: int
    mean: float
    std: float
    p50: float
    p95: float
    min: float
    max: float


class TaskRunOut(BaseModel):
    """One successful run of a task version, with the final value of each of its metrics."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    node_id: str
    attempt: int
    started_at: float
    ended_at: float
    duration: float
    metrics: dict[str, float | None] = {}
    #: the execution's name in its project (its id when none was chosen)
    name: str = ""
    #: the execution's domain: its name is unique within the project and domain only
    #: (``?domain=`` beside the name opens this run)
    domain: str = ""


class TaskVersionOut(BaseModel):
    """A version of a task with recorded runs."""

    model_config = ConfigDict(extra="ignore")

    version: str
    runs: int
    last_ended_at: float


class TaskStatsOut(BaseModel):
    """The history of one task version: its latest successful runs, newest first."""

    model_config = ConfigDict(extra="ignore")

    project: str
    task: str
    version: str
    runs: list[TaskRunOut]
    duration: SummaryOut | None
    metrics: dict[str, SummaryOut]
    versions: list[TaskVersionOut]
    #: The anomaly rule's k (``AIRFOIL_ANOMALY_K``), for marking runs beyond k std.
    k: float | None = None


class TaskNameOut(BaseModel):
    """A task with recorded runs (every version; failed runs counted apart)."""

    model_config = ConfigDict(extra="ignore")

    task: str
    runs: int
    failed: int
    last_ended_at: float


class TaskNameList(BaseModel):
    """The tasks of a project with recorded runs, the one that ran last first."""

    model_config = ConfigDict(extra="ignore")

    items: list[TaskNameOut]


class AnomalyOut(BaseModel):
    """An attempt whose duration (``kind`` ``duration``) or a metric's final value (``metric``)
    is beyond ``k`` standard deviations from its task version's history.

    ``deviations`` is None when the history has no spread (every run gave the same value).
    """

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    node_id: str
    attempt: int
    task: str
    version: str
    kind: str
    metric: str = ""
    value: float
    mean: float
    std: float
    count: int
    deviations: float | None
    message: str


class AnomalyList(BaseModel):
    """The anomalies of an execution, with the rule that found them."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    k: float
    min_history: int
    runs: int
    items: list[AnomalyOut]


def _summary(s: Summary | None) -> SummaryOut | None:
    if s is None:
        return None
    return SummaryOut(
        count=s.count, mean=s.mean, std=s.std, p50=s.p50, p95=s.p95, min=s.min, max=s.max
    )


def stats_out(
    h: TaskHistory, k: float | None = None, names: dict[str, tuple[str, str]] | None = None
) -> TaskStatsOut:
    """The wire form of a task version's history (``k``: the anomaly rule's, to mark runs;
    ``names``: each execution's name and domain by id)."""
    runs = []
    for i, r in enumerate(h.runs):
        finals = {name: values[i] for name, values in h.metric_values.items()}
        name, domain = (names or {}).get(r.execution_id, (r.execution_id, ""))
        runs.append(
            TaskRunOut(
                execution_id=r.execution_id,
                node_id=r.node_id,
                attempt=r.attempt,
                started_at=r.started_at,
                ended_at=r.ended_at,
                duration=r.duration,
                metrics={k: v for k, v in finals.items() if v is not None},
                name=name,
                domain=domain,
            )
        )
    metrics = {}
    for name, s in h.metrics.items():
        out = _summary(s)
        if out is not None:
            metrics[name] = out
    return TaskStatsOut(
        project=h.project,
        task=h.task,
        version=h.version,
        runs=runs,
        duration=_summary(h.duration),
        metrics=metrics,
        versions=[TaskVersionOut(version=v, runs=n, last_ended_at=at) for v, n, at in h.versions],
        k=k,
    )


def anomaly_out(a: Anomaly) -> AnomalyOut:
    """The wire form of an anomaly (no spread in the history: ``deviations`` None)."""
    return AnomalyOut(
        execution_id=a.execution_id,
        node_id=a.node_id,
        attempt=a.attempt,
        task=a.task,
        version=a.version,
        kind=a.kind,
        metric=a.metric,
        value=a.value,
        mean=a.mean,
        std=a.std,
        count=a.count,
        deviations=a.deviations if math.isfinite(a.deviations) else None,
        message=a.message,
    )


class LogMatchOut(BaseModel):
    """A log line that matched a search, with its attempt and its entry's time and level."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    node_id: str
    attempt: int
    workflow: str
    at: str
    level: str
    line: str
    #: the execution's name in its project and its domain (``?domain=`` beside the name)
    name: str = ""
    domain: str = ""


class LogSearchOut(BaseModel):
    """Matching log lines across runs, and how much was read (``complete`` False: the
    ``runs`` or ``limit`` bound stopped the search early)."""

    model_config = ConfigDict(extra="ignore")

    text: str
    matches: list[LogMatchOut]
    runs: int
    logs: int
    skipped: int
    complete: bool
    #: the damaged parts passed over (a record that no longer decodes, a log that cannot
    #: be read): the rest was searched
    unreadable: list[UnreadableOut] = []
