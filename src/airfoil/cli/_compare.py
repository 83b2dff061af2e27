"""``airfoil compare A B``: two executions side by side -- inputs, outputs, each node's phase,
cache status and duration, and which tasks' code versions changed, with the source diff --
locally or on the server (``--remote``)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from airfoil.cli._common import handle_errors, out_console, plain, runtime

__all__ = ["register"]


def _secs(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}s"


def _print(c: dict[str, Any], show_all: bool) -> None:
    plain(
        out_console,
        f"A {c['a']} ({c['workflow_a']}, {c['phase_a']}, {_secs(c['duration_a'])})  vs  "
        f"B {c['b']} ({c['workflow_b']}, {c['phase_b']}, {_secs(c['duration_b'])})",
        style="bold",
    )
    for title in ("inputs", "outputs"):
        table = Table(title=title, show_edge=False, pad_edge=False, title_justify="left")
        for col in ("name", "A", "B", ""):
            table.add_column(col, overflow="fold")
        for v in c[title]:
            table.add_row(v["name"], v["a"], v["b"], "same" if v["same"] else "differs")
        if c[title]:
            out_console.print(table)
    table = Table(title="nodes", show_edge=False, pad_edge=False, title_justify="left")
    for col in ("node", "task", "phase A/B", "cache A/B", "duration A/B", "version", "outputs"):
        table.add_column(col, overflow="fold")
    shown = 0
    for n in c["nodes"]:
        differs = (
            n["phase_a"] != n["phase_b"]
            or n["cache_a"] != n["cache_b"]
            or n["version_changed"]
            or n["outputs_same"] is False
        )
        if not (show_all or differs):
            continue
        shown += 1
        table.add_row(
            n["node_id"],
            n["task"],
            f"{n['phase_a'] or '—'} / {n['phase_b'] or '—'}",
            f"{n['cache_a'] or '—'} / {n['cache_b'] or '—'}",
            f"{_secs(n['duration_a'])} / {_secs(n['duration_b'])}",
            "changed" if n["version_changed"] else "same",
            {True: "same", False: "differ", None: "—"}[n["outputs_same"]],
        )
    if shown:
        out_console.print(table)
    else:
        plain(out_console, f"nodes: all {len(c['nodes'])} alike (--all shows them)")
    for n in c["nodes"]:
        if n["version_changed"] and n["source_diff"]:
            plain(out_console, f"== {n['node_id']} {n['task']}: code changed", style="bold")
            for line in n["source_diff"]:
                plain(out_console, line)


def register(root: typer.Typer) -> None:
    @root.command("compare")
    @handle_errors
    def compare(
        a: str = typer.Argument(..., help="Execution A."),
        b: str = typer.Argument(..., help="Execution B."),
        show_all: bool = typer.Option(
            False, "--all", help="List every node, not only those that differ."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
        remote: bool = typer.Option(
            False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
        ),
        server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
        project: str = typer.Option(None, "--project", help="Server project."),
    ) -> None:
        """Compare two executions: inputs, outputs, node phases, cache status, durations and
        which tasks' code versions changed (with the source diff)."""
        if remote or server:
            from airfoil.cli._remote import _client

            with _client(server, project) as client:
                c = client.compare(a, b).model_dump()
        else:
            from airfoil.core.code_versions import load_manifest
            from airfoil.core.compare import compare_executions
            from airfoil.server._observability import comparison_out

            rt = runtime()
            blobs = rt.blobs
            comparison = compare_executions(
                rt.meta.get_execution(a),
                rt.meta.get_nodes(a),
                rt.meta.get_execution(b),
                rt.meta.get_nodes(b),
                lambda version: load_manifest(blobs, version),
            )
            c = comparison_out(comparison).model_dump()
        if as_json:
            typer.echo(json.dumps(c))
        else:
            _print(c, show_all)
