"""Wire models of observability: metric time series of attempts (issue 15)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["MetricSeriesOut", "MetricsOut"]


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
