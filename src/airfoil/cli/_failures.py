"""``airfoil failures``: failed attempts across runs grouped by signature (exception type,
normalised message, top user frame), with counts, first and last seen, tasks and versions,
and one example traceback each; ``--signature`` drills into one group's attempts. Locally or
on the server (``--remote``)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import typer

from airfoil.cli._common import handle_errors, out_console, plain, run_label, runtime
from airfoil.cli._table import Table

__all__ = ["parse_since", "register"]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: float) -> float | None:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` ago as epoch seconds (None: no limit)."""
    from airfoil.core.errors import InvalidInputError

    if text is None or not text.strip():
        return None
    m = _SPAN.match(text)
    if m is None:
        raise InvalidInputError(
            f"--since {text!r}: give a span like 7d, 12h, 30m, 90s or 2w (days, hours, "
            "minutes, seconds, weeks)"
        )
    return now - float(m.group(1)) * _UNIT[m.group(2)]


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _failure(f: Any, names: Any = None) -> dict[str, Any]:
    """A failed attempt as printed; ``names`` (local: an ExecutionNames) names its execution,
    else the server's answer does."""
    if names is not None:
        name, domain = names.shown(f.execution_id), names.domain(f.execution_id)
    else:
        name, domain = f.execution_name, f.execution_domain
    return {
        "execution_id": f.execution_id,
        "execution_name": name or f.execution_id,
        "execution_domain": domain,
        "node_id": f.node_id,
        "attempt": f.attempt,
        "task": f.task,
        "version": f.version,
        "at": f.at,
        "kind": str(f.kind),
        "type": f.type,
        "message": f.message,
        "traceback": f.traceback,
    }


def _group(g: Any, names: Any = None) -> dict[str, Any]:
    return {
        "signature": g.signature,
        "type": g.type,
        "pattern": g.pattern,
        "frame": g.frame,
        "count": g.count,
        "executions": g.executions,
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "tasks": list(g.tasks),
        "example": _failure(g.example, names),
    }


def _run(f: dict[str, Any], home: str) -> str:
    return run_label(f["execution_name"], f["execution_domain"], home)


def _print_groups(groups: list[dict[str, Any]], home: str) -> None:
    if not groups:
        out_console.print("no failures", markup=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("signature", "count", "runs", "type", "message", "where", "first", "last"):
        table.add_column(col, overflow="fold")
    for g in groups:
        table.add_row(
            g["signature"],
            str(g["count"]),
            str(g["executions"]),
            g["type"],
            g["pattern"],
            g["frame"],
            _when(g["first_seen"]),
            _when(g["last_seen"]),
        )
    out_console.print(table)
    for g in groups:
        ex = g["example"]
        plain(out_console, "")
        plain(
            out_console,
            f"== {g['signature']} {g['type']}: {g['count']} attempts in tasks "
            f"{', '.join(g['tasks'])}; latest {_run(ex, home)} {ex['node_id']} "
            f"attempt {ex['attempt']}",
            style="bold",
        )
        plain(out_console, (ex["traceback"] or f"{ex['type']}: {ex['message']}").rstrip())


def register(root: typer.Typer) -> None:
    @root.command("failures")
    @handle_errors
    def failures(
        since: str = typer.Option(None, "--since", help="Only failures this recent: 7d, 12h."),
        task: str = typer.Option(None, "--task", help="Only this task (its full name)."),
        signature: str = typer.Option(
            None, "--signature", help="List the attempts of this group instead."
        ),
        limit: int = typer.Option(100, "--limit", min=1, max=1000, help="Most groups/rows."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        remote: bool = typer.Option(
            False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
        ),
        server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
        project: str = typer.Option(None, "--project", help="Project (default: AIRFOIL_PROJECT)."),
    ) -> None:
        """Failed attempts across runs grouped by signature (type, normalised message, top
        user frame), most frequent first, with one example traceback each."""
        after = parse_since(since, time.time())
        if remote or server:
            from airfoil.cli._remote import _client

            with _client(server, project) as client:
                home = client.domain
                if signature:
                    rows = client.failures(signature, since=after, limit=limit).items
                    items = [_failure(f) for f in rows]
                else:
                    groups = client.failure_groups(since=after, task=task, limit=limit).items
                    items = [_group(g) for g in groups]
        else:
            from airfoil.store.naming import ExecutionNames

            rt = runtime()
            proj, home = project or rt.settings.project, rt.settings.domain
            names = ExecutionNames(rt.meta, proj)
            if signature:
                found = rt.meta.failures(proj, signature, since=after, limit=limit)
                items = [_failure(f, names) for f in found]
            else:
                groups = rt.meta.failure_groups(proj, since=after, task=task, limit=limit)
                items = [_group(g, names) for g in groups]
        if as_json:
            typer.echo(json.dumps(items))
        elif signature:
            for f in items:
                plain(
                    out_console,
                    f"{_when(f['at'])}  {_run(f, home)}  {f['node_id']}  attempt "
                    f"{f['attempt']}  {f['task']}@{f['version']}  {f['type']}: {f['message']}",
                )
            if not items:
                out_console.print("no failures with this signature", markup=False)
        else:
            _print_groups(items, home)
