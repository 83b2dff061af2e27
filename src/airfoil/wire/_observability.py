"""Wire models of observability: metric time series of attempts and failure groups
(issue 15), and the comparison of two executions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from airfoil.wire._models import UnreadableOut

__all__ = [
    "ColumnDiffOut",
    "ColumnStatsOut",
    "ComparisonOut",
    "FrameDiffOut",
    "FrameStatsOut",
    "FailureGroupList",
    "FailureGroupOut",
    "FailureList",
    "FailureOut",
    "MetricSeriesOut",
    "MetricsOut",
    "MetricSummaryOut",
    "NodeDiffOut",
    "RunRowOut",
    "RunsTableOut",
    "ValueDiffOut",
]


class MetricSeriesOut(BaseModel):
    """One metric of one attempt, as parallel arrays (a chart reads them as they are).

    ``values`` holds None where the task logged NaN or an infinity.
    """

    model_config = ConfigDict(extra="ignore")

    node_id: str
    attempt: int
    task: str
    name: str
    kind: str
    steps: list[int]
    values: list[float | None]
    times: list[float]


class MetricsOut(BaseModel):
    """The metric series of an execution (one node's, one name's, if asked)."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    workflow: str
    items: list[MetricSeriesOut]
    #: the execution's name in its project (what routes and ``airfoil`` commands take)
    execution_name: str = ""
    #: the execution's domain, within which its name is unique (``?domain=``)
    execution_domain: str = ""


class FailureOut(BaseModel):
    """One failed attempt of a failure group."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    node_id: str
    attempt: int
    task: str
    version: str
    at: float
    kind: str
    type: str
    message: str
    traceback: str
    #: the execution's name in its project (what routes and ``airfoil`` commands take)
    execution_name: str = ""
    #: the execution's domain, within which its name is unique (``?domain=``)
    execution_domain: str = ""


class FailureGroupOut(BaseModel):
    """Failed attempts sharing a signature: exception type, normalised message (``pattern``)
    and top user frame; ``tasks`` lists ``task@version``; ``example`` is the latest."""

    model_config = ConfigDict(extra="ignore")

    signature: str
    type: str
    pattern: str
    frame: str
    count: int
    executions: int
    first_seen: float
    last_seen: float
    tasks: list[str]
    example: FailureOut


class FailureGroupList(BaseModel):
    """Failure groups of a project, most frequent first."""

    model_config = ConfigDict(extra="ignore")

    items: list[FailureGroupOut]


class FailureList(BaseModel):
    """The failed attempts of one group, newest first."""

    model_config = ConfigDict(extra="ignore")

    signature: str
    items: list[FailureOut]


class ValueDiffOut(BaseModel):
    """An input or output of two runs: short previews and whether the contents are equal."""

    model_config = ConfigDict(extra="ignore")

    name: str
    a: str
    b: str
    same: bool


class NodeDiffOut(BaseModel):
    """A node of two runs ("" / null where a run has no such node); ``source_diff`` lists
    what changed between the task's two code versions."""

    model_config = ConfigDict(extra="ignore")

    node_id: str
    task: str
    phase_a: str
    phase_b: str
    cache_a: str
    cache_b: str
    duration_a: float | None
    duration_b: float | None
    version_a: str
    version_b: str
    version_changed: bool
    outputs_same: bool | None
    source_diff: list[str]


class ColumnStatsOut(BaseModel):
    """One column of a stored frame over the rows read: ``nulls`` counts null and NaN;
    numeric columns have mean, std (sample), min and max, the others ``distinct``."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    count: int
    nulls: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    distinct: int | None = None


class FrameStatsOut(BaseModel):
    """A stored frame's schema and column statistics over its first ``rows_read`` rows
    (``rows`` in all, -1 when unknown); ``error`` when the frame could not be read."""

    model_config = ConfigDict(extra="ignore")

    rows: int
    rows_read: int
    columns: list[ColumnStatsOut]
    error: str = ""


class ColumnDiffOut(BaseModel):
    """A column of two frames: ``change`` is added, removed, type or empty."""

    model_config = ConfigDict(extra="ignore")

    name: str
    change: str
    a: ColumnStatsOut | None
    b: ColumnStatsOut | None


class FrameDiffOut(BaseModel):
    """A frame input or output (``kind``) of two runs, with its columns side by side."""

    model_config = ConfigDict(extra="ignore")

    name: str
    kind: str
    a: FrameStatsOut | None
    b: FrameStatsOut | None
    columns: list[ColumnDiffOut]


class ComparisonOut(BaseModel):
    """Two executions side by side (``airfoil compare``)."""

    model_config = ConfigDict(extra="ignore")

    a: str
    b: str
    workflow_a: str
    workflow_b: str
    phase_a: str
    phase_b: str
    duration_a: float | None
    duration_b: float | None
    inputs: list[ValueDiffOut]
    outputs: list[ValueDiffOut]
    nodes: list[NodeDiffOut]
    frames: list[FrameDiffOut] = []
    #: the executions' names in the project (``a`` and ``b`` are their ids) and their
    #: domains: a name is unique within its project and domain only, so ``name_a`` with
    #: ``?domain=DOMAIN_A`` opens run A
    name_a: str = ""
    name_b: str = ""
    domain_a: str = ""
    domain_b: str = ""
    #: the nodes of either run that no longer decode (stored by an older or faulty version),
    #: left out of ``nodes``: the rest is compared
    unreadable: list[UnreadableOut] = []


class MetricSummaryOut(BaseModel):
    """One metric of one run over all its nodes' and attempts' series: ``min``/``max`` of
    their finite points, ``last`` the last point of the series that ended latest (null when
    it was NaN), ``points`` and ``series`` counted."""

    model_config = ConfigDict(extra="ignore")

    name: str
    last: float | None
    min: float | None
    max: float | None
    points: int
    series: int


class RunRowOut(BaseModel):
    """One run of the experiment table: ``inputs`` as previews, ``input_values`` the JSON
    of those stored as JSON, ``metrics`` by name (absent: the run did not log it). ``id`` is
    the run's name in its project and ``domain`` its domain: a name is unique within its
    project and domain only, so ``id`` with ``?domain=`` opens the row's run."""

    model_config = ConfigDict(extra="ignore")

    id: str
    domain: str = ""
    phase: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None
    inputs: dict[str, str]
    input_values: dict[str, Any]
    metrics: dict[str, MetricSummaryOut]


class RunsTableOut(BaseModel):
    """Runs of one workflow with their inputs and chosen metrics (``airfoil runs``).
    ``available_metrics``: every metric the listed runs logged."""

    model_config = ConfigDict(extra="ignore")

    workflow: str
    inputs: list[str]
    metrics: list[str]
    available_metrics: list[str]
    sort: str
    rows: list[RunRowOut]
    #: Where this page starts among the workflow's runs (newest first), where the next
    #: starts (None: no older run), how many runs the workflow has (in ``phase``), how many
    #: were read for this page, and the filters applied.
    offset: int = 0
    next_offset: int | None = None
    total: int | None = None
    scanned: int = 0
    where: list[str] = []
