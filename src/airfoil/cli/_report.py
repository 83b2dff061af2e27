"""``airfoil report EXEC NODE [-o FILE]``: the report a node's task attached
(``af.current_context().report``), written as an HTML file; locally or on the server
(``--remote``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from airfoil.cli._common import (
    RUN_DOMAIN,
    handle_errors,
    local_execution,
    out_console,
    runtime,
    say_unreadable,
)
from airfoil.core.errors import unreadable_why

if TYPE_CHECKING:
    from airfoil.core.reports import NodeReport

__all__ = ["register"]


def _local(execution_id: str, node_id: str, domain: str | None) -> tuple[str, NodeReport]:
    from airfoil.core.reports import latest_report

    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)  # NotFoundError names it
    node = rt.meta.get_node(execution_id, node_id)
    return execution_id, latest_report(rt.blobs, execution_id, node_id, node.attempts)


def _remote(
    server: str | None, project: str | None, execution_id: str, node_id: str, domain: str | None
) -> NodeReport:
    from airfoil.cli._remote import _client, addressed

    with _client(server, project) as client:
        rep: NodeReport = addressed(
            client, domain, lambda d: client.report(execution_id, node_id, domain=d)
        )
    return rep


def register(root: typer.Typer) -> None:
    @root.command("report")
    @handle_errors
    def report(
        execution_id: str = typer.Argument(..., help="Execution name (in the project) or id."),
        node: str = typer.Argument(..., help="Node id (e.g. n0)."),
        output: Path = typer.Option(
            None,
            "-o",
            "--output",
            help="HTML file to write (default: EXEC-NODE-report.html, with --domain "
            "EXEC-DOMAIN-NODE-report.html).",
        ),
        remote: bool = typer.Option(
            False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL)."
        ),
        server: str = typer.Option(None, "--server", help="Server URL (implies --remote)."),
        project: str = typer.Option(None, "--project", help="Server project."),
        domain: str = RUN_DOMAIN,
    ) -> None:
        """Write the report a node's task attached (its newest attempt that reported) to an
        HTML file."""
        if remote or server:
            shown, rep = execution_id, _remote(server, project, execution_id, node, domain)
        else:
            shown, rep = _local(execution_id, node, domain)
        if rep.damage is not None:  # what is readable is written, locally and remotely
            where = f"{shown}/{node}#{rep.attempt}"
            why = unreadable_why("report")
            damage = {"kind": "report", "id": where, "reason": rep.damage, "why": why}
            say_unreadable(damage, shown="its readable part written")
        run = f"{execution_id}-{domain}" if domain else execution_id  # twins write apart
        path = output or Path(f"{run}-{node.replace('/', '_')}-report.html")
        path.write_text(rep.html, encoding="utf-8")
        out_console.print(f"wrote {path} (attempt {rep.attempt})", markup=False, soft_wrap=True)
