"""``airfoil runs WORKFLOW``: the experiment table -- the newest runs of a workflow with
their inputs and chosen metrics (each metric's last, min or max over the run's nodes and
attempts), sortable, as a table or JSON; locally or on the server (``--remote``)."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from airfoil.cli._common import handle_errors, out_console, plain, run_label, runtime
from airfoil.cli._table import Table
from airfoil.core.experiments import AGGREGATES, parse_metric_column

__all__ = ["register"]


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def _when(t: float | None) -> str:
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _columns(specs: list[str] | None) -> tuple[list[str] | None, list[tuple[str, str]]]:
    """The metric names to ask for and the ``(name, aggregate)`` columns to print."""
    if not specs:
        return None, []
    names: list[str] = []
    cols: list[tuple[str, str]] = []
    for spec in specs:
        name, agg = parse_metric_column(spec)
        names.append(name)
        cols += [(name, a) for a in ([agg] if agg else AGGREGATES)]
    return list(dict.fromkeys(names)), list(dict.fromkeys(cols))


def _print(t: dict[str, Any], cols: list[tuple[str, str]], home: str) -> None:
    """``home``: the caller's domain, where a run prints by its name alone (one in another
    domain as ``NAME (DOMAIN)``: a name is unique within its project and domain only)."""
    if not t["rows"]:
        where = f" passing {' and '.join(t['where'])}" if t["where"] else ""
        more = f" (next page: --offset {t['next_offset']})" if t["next_offset"] is not None else ""
        plain(out_console, f"no runs of {t['workflow']}{where}{more}")
        return
    if not cols:  # every metric: its last value (min and max with --metric NAME)
        cols = [(m, "last") for m in t["metrics"]]
    table = Table(show_edge=False, pad_edge=False)
    for col in ("execution", "phase", "started", "duration"):
        table.add_column(col, no_wrap=True)
    for name in t["inputs"]:
        table.add_column(name, overflow="fold")
    for name, agg in cols:
        table.add_column(f"{name}:{agg}", no_wrap=True, justify="right")
    for r in t["rows"]:
        cells = [
            run_label(r["id"], r.get("domain", ""), home),
            r["phase"],
            _when(r["started_at"] or r["created_at"]),
            "" if r["duration"] is None else f"{r['duration']:.3f}s",
        ]
        cells += [r["inputs"].get(name, "") for name in t["inputs"]]
        for name, agg in cols:
            m = r["metrics"].get(name)
            if m is None:
                cells.append("")  # the run did not log it
            else:  # no number: the last point was NaN, or no point was finite
                cells.append(_num(m[agg]) or ("NaN" if agg == "last" else "—"))
        table.add_row(*cells)
    out_console.print(table)
    where = f" passing {' and '.join(t['where'])}" if t["where"] else ""
    page = f" ({t['scanned']} read from offset {t['offset']} of {t['total']} runs)"
    more = f"; next page: --offset {t['next_offset']}" if t["next_offset"] is not None else ""
    plain(
        out_console,
        f"{len(t['rows'])} runs of {t['workflow']}{where}{page}, sorted by {t['sort']}; "
        f"metrics logged: {', '.join(t['available_metrics']) or '(none)'}{more}",
    )


def register(root: typer.Typer) -> None:
    @root.command("runs")
    @handle_errors
    def runs(
        workflow: str = typer.Argument(..., help="Workflow name (as `executions list` shows)."),
        last: int = typer.Option(50, "--last", help="The newest N runs (at most 5000)."),
        metric: list[str] = typer.Option(
            None,
            "--metric",
            help="A metric column: NAME (its last, min and max) or NAME:last|min|max. "
            "Repeat for more; default: the last value of every metric the runs logged.",
        ),
        inputs: list[str] = typer.Option(
            None, "--input", help="Show only this input (repeat for more; default: all)."
        ),
        sort: str = typer.Option(
            "-started",
            "--sort",
            help="started, duration, phase, id, an input or METRIC:last|min|max; "
            "'-' first for descending (runs without the value go last).",
        ),
        phase: str = typer.Option(None, "--phase", help="Only runs in this phase."),
        where: list[str] = typer.Option(
            None,
            "--where",
            help="Keep runs passing KEY OP VALUE (OP: < <= > >= = !=; KEY: duration, phase, "
            "an input or METRIC[:last|min|max]), e.g. 'loss:min<0.3', lr=0.1. Repeat: all.",
        ),
        offset: int = typer.Option(
            0, "--offset", min=0, help="Start this many runs from the newest (next page)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
        remote: bool = typer.Option(
            False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
        ),
        server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
        project: str = typer.Option(None, "--project", help="Server project."),
        domain: str = typer.Option(
            None, "--domain", help="Only the runs in this domain (default: every domain's)."
        ),
    ) -> None:
        """The experiment table: a workflow's runs with their inputs and the last, min or
        max of chosen metrics (over each run's nodes and attempts), sortable. A run outside
        AIRFOIL_DOMAIN prints as NAME (DOMAIN), what `--domain DOMAIN` then opens."""
        names, cols = _columns(metric)
        ask: dict[str, Any] = {
            "last": last,
            "metrics": names,
            "inputs": list(inputs) if inputs else None,
            "sort": sort,
            "phase": phase,
            "offset": offset,
            "where": list(where) if where else None,
            "domain": domain,
        }
        if remote or server:
            from airfoil.cli._remote import _client

            with _client(server, project) as client:
                out = client.runs(workflow, **ask)
                home = client.domain
        else:
            from airfoil.server._experiments import runs as runs_service

            rt = runtime()  # the project's runs only: their names are what it takes
            out = runs_service(rt.meta, rt.settings.project, workflow, **ask)
            home = rt.settings.domain
        t = out.model_dump()
        if as_json:
            typer.echo(json.dumps(t))
        else:
            _print(t, cols, home)
