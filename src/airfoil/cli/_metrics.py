"""``airfoil metrics EXEC [NODE]``: the metric time series an execution's tasks logged, as a
table with a sparkline per series, or as JSON; locally or on the server (``--remote``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer

from airfoil.cli._common import RUN_DOMAIN, handle_errors, local_execution, out_console, runtime
from airfoil.cli._table import Table

if TYPE_CHECKING:
    from airfoil.core.metrics import MetricSeries
    from airfoil.wire import MetricSeriesOut

__all__ = ["register", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int = 32) -> str:
    """A one-line chart of ``values``: at most ``width`` bars, each the mean of its share of
    the points (a gap, ``·``, where a share has no number)."""
    if not values:
        return ""
    n = len(values)
    buckets: list[float | None] = []
    for b in range(min(width, n)):
        lo, hi = b * n // min(width, n), (b + 1) * n // min(width, n)
        nums = [v for v in values[lo:hi] if v is not None and math.isfinite(v)]
        buckets.append(sum(nums) / len(nums) if nums else None)
    nums = [v for v in buckets if v is not None]
    if not nums:
        return "·" * len(buckets)
    low, high = min(nums), max(nums)
    span = high - low
    out = []
    for v in buckets:
        if v is None:
            out.append("·")
        else:
            out.append(_BARS[int((v - low) / span * (len(_BARS) - 1)) if span else 3])
    return "".join(out)


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def _rows(items: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("node", "attempt", "metric", "kind", "points", "last", "min", "max", "trend"):
        table.add_column(col, no_wrap=True)
    for s in items:
        nums = [v for v in s["values"] if v is not None]
        table.add_row(
            s["node"],
            str(s["attempt"]),
            s["name"],
            s["kind"],
            str(len(s["values"])),
            _fmt(s["values"][-1] if s["values"] else None),
            _fmt(min(nums) if nums else None),
            _fmt(max(nums) if nums else None),
            sparkline(s["values"]),
        )
    return table


def _local(
    execution_id: str, node: str | None, name: str | None, domain: str | None
) -> list[dict[str, Any]]:
    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)  # NotFoundError names it
    series = rt.meta.metric_series(execution_id, node, name)
    if node is not None and not series:
        rt.meta.get_node(execution_id, node)
    return _series_rows(series)


def _series_rows(series: Iterable[MetricSeries | MetricSeriesOut]) -> list[dict[str, Any]]:
    """The JSON rows of metric series, stored (a local run's) or sent (a server's)."""
    return [
        {
            "node": s.node_id,
            "attempt": s.attempt,
            "task": s.task,
            "name": s.name,
            "kind": s.kind,
            "steps": s.steps,
            "values": s.values,
            "times": s.times,
        }
        for s in series
    ]


def _remote(
    server: str | None,
    project: str | None,
    execution_id: str,
    node: str | None,
    name: str | None,
    domain: str | None,
) -> list[dict[str, Any]]:
    from airfoil.cli._remote import _client, addressed

    with _client(server, project) as client:
        out = addressed(
            client, domain, lambda d: client.metrics(execution_id, node, name=name, domain=d)
        )
    return _series_rows(out.items)


def register(root: typer.Typer) -> None:
    @root.command("metrics")
    @handle_errors
    def metrics(
        execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
        node: str = typer.Argument(None, help="Node id (default: every node)."),
        name: str = typer.Option(None, "--name", help="Only this metric."),
        as_json: bool = typer.Option(
            False,
            "--json",
            help="Print a JSON list of {node, attempt, task, name, kind, steps, values, times}.",
        ),
        remote: bool = typer.Option(
            False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
        ),
        server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
        project: str = typer.Option(None, "--project", help="Server project."),
        domain: str = RUN_DOMAIN,
    ) -> None:
        """Print the metrics an execution's tasks logged (log_metric, count): a table with a
        sparkline per series, or JSON."""
        if remote or server:
            items = _remote(server, project, execution_id, node, name, domain)
        else:
            items = _local(execution_id, node, name, domain)
        if as_json:
            typer.echo(json.dumps(items))
            return
        if not items:
            out_console.print("no metrics logged", markup=False)
            return
        out_console.print(_rows(items))
