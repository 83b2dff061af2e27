"""``airfoil report EXEC NODE [-o FILE]``: the report a node's task attached
(``af.current_context().report``), written as an HTML file; locally or on the server
(``--remote``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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

__all__ = ["register"]

#: Writes a report's pieces; returns its attempt and damage (None: read whole).
Copy = Callable[[Callable[[bytes], object]], tuple[int, str | None]]


def _local(execution_id: str, node_id: str, domain: str | None) -> tuple[str, Copy]:
    from airfoil.core.reports import copy_report, find_report, read_chunks

    rt = runtime()
    execution_id = local_execution(rt, execution_id, domain)  # NotFoundError names it
    node = rt.meta.get_node(execution_id, node_id)
    attempt, uri = find_report(rt.blobs, execution_id, node_id, node.attempts)

    def copy(write: Callable[[bytes], object]) -> tuple[int, str | None]:
        with rt.blobs.open_read(uri) as fh:
            return attempt, copy_report(read_chunks(fh), write)

    return execution_id, copy


def _remote(
    server: str | None, project: str | None, execution_id: str, node_id: str, domain: str | None
) -> Copy:
    from airfoil.cli._remote import _client, addressed

    def copy(write: Callable[[bytes], object]) -> tuple[int, str | None]:
        with _client(server, project) as client:
            found: tuple[int, str | None] = addressed(
                client,
                domain,
                lambda d: client.download_report(execution_id, node_id, write, domain=d),
            )
        return found

    return copy


def _write(path: Path, copy: Copy) -> tuple[int, str | None]:
    """Copy the report into ``path`` in pieces (whatever its size), through a temporary
    beside it: a report that cannot be read leaves no file, nor half of one."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as fh:
            found = copy(fh.write)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return found


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
            shown, copy = execution_id, _remote(server, project, execution_id, node, domain)
        else:
            shown, copy = _local(execution_id, node, domain)
        run = f"{execution_id}-{domain}" if domain else execution_id  # twins write apart
        path = output or Path(f"{run}-{node.replace('/', '_')}-report.html")
        attempt, damage = _write(path, copy)
        if damage is not None:  # what is readable is written, locally and remotely
            where = f"{shown}/{node}#{attempt}"
            why = unreadable_why("report")
            found = {"kind": "report", "id": where, "reason": damage, "why": why}
            say_unreadable(found, shown="its readable part written")
        out_console.print(f"wrote {path} (attempt {attempt})", markup=False, soft_wrap=True)
