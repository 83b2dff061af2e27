"""``airfoil tasks stats NAME``: a task version's history (durations and metrics' final
values over its latest successful runs: count, mean, std, p50, p95, with a sparkline and a
bar per run), and the anomaly lines ``airfoil executions show`` prints. Locally or on the
server (``--remote``), with the same output."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import typer
from rich.text import Text

from airfoil.cli._common import handle_errors, out_console, plain, run_label, runtime
from airfoil.cli._table import Table

__all__ = ["app", "local_anomalies", "print_anomalies", "rule_given"]

app = typer.Typer(no_args_is_help=True)

#: Runs shown as bars under the summary table (the newest).
BARS_SHOWN = 20
_BAR_WIDTH = 40


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return ""
    text = f"{v:.4g}"
    return f"{text} {unit}" if unit else text


def _summary_row(
    name: str, s: dict[str, Any] | None, values: list[float | None], unit: str
) -> list[str]:
    from airfoil.cli._metrics import sparkline

    if s is None:
        return [name, "0", "", "", "", "", "", "", ""]
    cells = [_fmt(s[k], unit) for k in ("mean", "std", "p50", "p95", "min", "max")]
    # oldest first, so the line reads left to right as time goes
    return [name, str(s["count"]), *cells, sparkline(list(reversed(values)))]


def _print_stats(data: dict[str, Any], k: float, home: str) -> None:
    runs = data["runs"]
    others = [v for v in data["versions"] if v["version"] != data["version"]]
    plain(
        out_console,
        f"task {data['task']} @ {data['version']}: {len(runs)} successful runs (newest first)",
        style="bold",
    )
    if others:
        listed = ", ".join(f"{v['version']} ({v['runs']} runs)" for v in others[:5])
        plain(out_console, f"other versions: {listed} (--version V)", style="dim")
    if not runs:
        plain(out_console, "no successful runs of this version yet")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("", "n", "mean", "std", "p50", "p95", "min", "max", "trend"):
        table.add_column(col, no_wrap=True)
    table.add_row(*_summary_row("duration", data["duration"], [r["duration"] for r in runs], "s"))
    for name, s in sorted(data["metrics"].items()):
        values = [r["metrics"].get(name) for r in runs]
        table.add_row(*_summary_row(name, s, values, ""))
    out_console.print(table)
    _print_bars(runs, data["duration"], k, home)


def _print_bars(
    runs: list[dict[str, Any]], summary: dict[str, Any] | None, k: float, home: str
) -> None:
    shown = runs[:BARS_SHOWN]
    labels = [
        f"{run_label(r.get('name') or r['execution_id'], r.get('domain', ''), home)} {r['node_id']}"
        for r in shown
    ]
    top = max(r["duration"] for r in shown) or 1.0
    mean, std = (summary["mean"], summary["std"]) if summary else (0.0, 0.0)
    plain(out_console, "")
    plain(out_console, f"durations of the latest {len(shown)} (| marks the mean)", style="dim")
    width = max(len(label) for label in labels)
    mark = min(_BAR_WIDTH - 1, int(mean / top * _BAR_WIDTH))
    for r, label in zip(shown, labels, strict=True):
        d = r["duration"]
        n = max(1, round(d / top * _BAR_WIDTH))
        bar = "".join("█" if i < n else ("|" if i == mark else " ") for i in range(_BAR_WIDTH))
        far = std > 0 and abs(d - mean) > k * std
        line = Text(label.ljust(width) + " ")
        line.append(bar, style="red" if far else "cyan")
        line.append(f" {_fmt(d, 's')}")
        line.append(f"  {dt.datetime.fromtimestamp(r['ended_at']):%Y-%m-%d %H:%M:%S}", "dim")
        out_console.print(line, soft_wrap=True, highlight=False)


@app.command("stats")
@handle_errors
def stats(
    name: str = typer.Argument(..., help="The task's full name (module.function)."),
    version: str = typer.Option(None, "--version", help="This code version (default: newest)."),
    last: int = typer.Option(
        None, "--last", "-n", min=1, max=10_000, help="Latest N runs (default 100)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = typer.Option(
        False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
    ),
    server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
    project: str = typer.Option(None, "--project", help="Project (default: AIRFOIL_PROJECT)."),
) -> None:
    """A task version's history: its latest successful runs' durations and metrics' final
    values (count, mean, std, p50, p95, min, max), a sparkline, and a bar per run."""
    from airfoil.settings import AirfoilSettings

    if remote or server:
        from airfoil.cli._remote import _client

        with _client(server, project) as client:
            data = client.task_stats(name, version=version, last=last).model_dump(mode="json")
            home = client.domain
        k = AirfoilSettings().anomaly_k
    else:
        from airfoil.store._task_history import task_history
        from airfoil.wire._history import stats_out

        rt = runtime()
        history = task_history(
            rt.meta,
            project or rt.settings.project,
            name,
            version=version,
            last=last or rt.settings.history_runs,
        )
        k = rt.settings.anomaly_k
        names = rt.meta.execution_names([r.execution_id for r in history.runs])
        data = stats_out(history, k=k, names=names).model_dump(mode="json")
        home = rt.settings.domain
    if as_json:
        typer.echo(json.dumps(data))
        return
    _print_stats(data, k, home)


def local_anomalies(rt: Any, execution_id: str) -> list[dict[str, Any]]:
    """The anomalies of a local execution, as the API's JSON objects."""
    from airfoil.store._task_history import execution_anomalies
    from airfoil.wire._history import anomaly_out

    s = rt.settings
    found = execution_anomalies(
        rt.meta, execution_id, k=s.anomaly_k, min_history=s.anomaly_min_history, last=s.history_runs
    )
    return [anomaly_out(a).model_dump(mode="json") for a in found]


def rule_given() -> dict[str, Any]:
    """The parts of the anomaly rule set in this environment (``AIRFOIL_ANOMALY_K``,
    ``AIRFOIL_ANOMALY_MIN_HISTORY``, ``AIRFOIL_HISTORY_RUNS``), as the API's query: a remote
    ``executions show`` uses the server's rule for the others."""
    from airfoil.settings import AirfoilSettings

    s = AirfoilSettings()
    names = {"anomaly_k": "k", "anomaly_min_history": "min_history", "history_runs": "last"}
    return {q: getattr(s, f) for f, q in names.items() if f in s.model_fields_set}


def print_anomalies(items: list[dict[str, Any]]) -> None:
    """One line per anomaly: ``! node attempt task: why``."""
    if not items:
        return
    out_console.print(Text("anomalies (far from each task version's history):", style="bold"))
    for a in items:
        line = Text("! ", style="bold yellow")
        line.append(f"{a['node_id']} attempt {a['attempt']} {a['task']}: ")
        line.append(a["message"], style="yellow")
        out_console.print(line, soft_wrap=True, highlight=False)
