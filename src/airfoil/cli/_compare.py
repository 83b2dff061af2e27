"""``airfoil compare A B``: two executions side by side -- inputs, outputs (frames with their
schema and column statistics), each node's phase, cache status and duration, and which tasks'
code versions changed, with the source diff -- locally or on the server (``--remote``)."""

from __future__ import annotations

import json
from typing import Any

import typer

from airfoil.cli._common import (
    handle_errors,
    local_execution,
    out_console,
    plain,
    run_label,
    runtime,
    say_unreadable,
)
from airfoil.cli._table import Table

__all__ = ["register"]


def _secs(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}s"


def _g(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _side(f: dict[str, Any] | None) -> str:
    if f is None:
        return "no frame"
    if f["error"]:
        return str(f["error"])
    rows = "?" if f["rows"] < 0 else f"{f['rows']:,}"
    read = "" if f["rows_read"] == f["rows"] else f", stats over the first {f['rows_read']:,}"
    return f"{rows} rows, {len(f['columns'])} columns{read}"


def _print_frame(f: dict[str, Any]) -> None:
    """A frame input/output of both runs: schema changes and column statistics, A / B."""
    plain(
        out_console,
        f"frame {f['kind']} {f['name']}: A {_side(f['a'])}  |  B {_side(f['b'])}",
        style="bold",
    )
    if not f["columns"]:
        return
    table = Table(show_edge=False, pad_edge=False)
    stats = ("count", "nulls", "mean", "std", "min", "max", "distinct")
    for col in ("column", "change", "type", *stats):
        table.add_column(col, overflow="fold")
    for col in f["columns"]:
        a, b = col["a"] or {}, col["b"] or {}
        types = (
            a.get("type", "—")
            if a.get("type") == b.get("type")
            else (f"{a.get('type', '—')} / {b.get('type', '—')}")
        )
        cells = []
        for key in stats:
            x, y = _g(a.get(key)), _g(b.get(key))
            cells.append(x if x == y else f"{x} / {y}")
        table.add_row(col["name"], col["change"] or "", types, *cells)
    out_console.print(table)


def _print(c: dict[str, Any], show_all: bool, home: str) -> None:
    """``home``: the caller's domain, where a run prints by its name alone."""
    a, b = (run_label(c[f"name_{s}"] or c[s], c[f"domain_{s}"], home) for s in "ab")
    plain(
        out_console,
        f"A {a} ({c['workflow_a']}, {c['phase_a']}, {_secs(c['duration_a'])})  vs  "
        f"B {b} ({c['workflow_b']}, {c['phase_b']}, {_secs(c['duration_b'])})",
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
    for f in c.get("frames", []):
        _print_frame(f)
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


def _remote_compare(client: Any, a: str, b: str, domain_a: str | None, domain_b: str | None) -> Any:
    """The server's comparison of ``a`` and ``b``, each found as ``executions show`` finds a
    run: a name the project uses in several domains (a 409) is the one in its side's domain
    if given, else in the client's (``AIRFOIL_DOMAIN``)."""
    from airfoil.cli._remote import remote_detail
    from airfoil.core.errors import ConflictError

    try:
        return client.compare(a, b, domain_a=domain_a, domain_b=domain_b)
    except ConflictError:
        if domain_a and domain_b:
            raise
    ids = [remote_detail(client, ref, domain).id for ref, domain in ((a, domain_a), (b, domain_b))]
    return client.compare(*ids)


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
        domain_a: str = typer.Option(
            None, "--domain-a", help="The domain of A's name, if the project uses it in several."
        ),
        domain_b: str = typer.Option(
            None, "--domain-b", help="The domain of B's name, if the project uses it in several."
        ),
    ) -> None:
        """Compare two executions: inputs, outputs, node phases, cache status, durations and
        which tasks' code versions changed (with the source diff). A name the project uses
        in several domains is the run in --domain-a / --domain-b, else in AIRFOIL_DOMAIN."""
        if remote or server:
            from airfoil.cli._remote import _client

            with _client(server, project) as client:
                c = _remote_compare(client, a, b, domain_a, domain_b).model_dump()
                home = client.domain
        else:
            from airfoil.server._observability import compare_records

            rt = runtime()
            a, b = local_execution(rt, a, domain_a), local_execution(rt, b, domain_b)
            home = rt.settings.domain
            ra, rb = rt.meta.get_execution(a), rt.meta.get_execution(b)
            c = compare_records(rt.meta, rt.blobs, ra, rb).model_dump()
        for u in c.get("unreadable", []):  # nodes left out of the comparison: the rest shown
            say_unreadable(u)
        if as_json:
            typer.echo(json.dumps(c))
        else:
            _print(c, show_all, home)
