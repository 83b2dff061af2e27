"""Wire models of observability: metric time series of attempts and failure groups
(issue 15), and the comparison of two executions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ComparisonOut",
    "FailureGroupList",
    "FailureGroupOut",
    "FailureList",
    "FailureOut",
    "MetricSeriesOut",
    "MetricsOut",
    "NodeDiffOut",
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
