"""``airfoil quotas set / list / delete`` (``airfoil queue`` is in :mod:`airfoil.cli._cluster`).

Quotas and priorities are configuration of the metadata store, read by every process that
admits attempts (re-read every few seconds, so a change applies to running servers too).
``airfoil queue`` shows what the admitting processes hold, from the snapshots they write to
the store: what waits, in queue order, and why; and what runs, on which GPUs.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from airfoil.cli._common import err_console, fail, handle_errors, out_console, runtime, say
from airfoil.cli._table import Table

__all__ = ["app", "register"]

app = typer.Typer(no_args_is_help=True)


def register(app_: typer.Typer) -> None:
    """Add ``airfoil quotas ...`` to the CLI."""
    app_.add_typer(app, name="quotas", help="Set and list projects' quotas and priorities.")


def _mem(n: int) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def _quota_json(q: Any) -> dict[str, Any]:
    return {
        "project": q.project,
        "cpu": q.cpu,
        "mem": q.mem,
        "gpu": q.gpu,
        "priority": q.priority,
        "weight": q.weight,
        "borrow": q.borrow,
        "updated_at": q.updated_at,
    }


@app.command("set")
@handle_errors
def set_quota(
    project: str = typer.Argument(..., help="The project."),
    cpu: str = typer.Option("0", "--cpu", help="Guaranteed CPU cores (0: not governed)."),
    mem: str = typer.Option("0", "--mem", help="Guaranteed memory, e.g. 4Gi (0: not governed)."),
    gpu: int = typer.Option(0, "--gpu", min=0, help="Guaranteed GPUs (0: not governed)."),
    priority: int = typer.Option(0, "--priority", help="Priority of the project's attempts."),
    weight: float = typer.Option(1.0, "--weight", help="Fair-share weight (> 0)."),
    borrow: bool = typer.Option(
        True, "--borrow/--no-borrow", help="May use idle capacity above the quota."
    ),
) -> None:
    """Set a project's quota and priority (replacing any earlier one)."""
    from airfoil.core.resources import parse_cpu, parse_memory
    from airfoil.store._scheduling import ProjectQuota

    if weight <= 0:
        fail(f"invalid --weight {weight}: must be greater than 0")
    quota = ProjectQuota(
        project=project,
        cpu=parse_cpu(cpu),
        mem=parse_memory(mem),
        gpu=gpu,
        priority=priority,
        weight=weight,
        borrow=borrow,
        updated_at=time.time(),
    )
    runtime().meta.put_quota(quota)
    say(
        err_console,
        "quota of ",
        (project, "bold"),
        f": cpu={quota.cpu:g} mem={_mem(quota.mem)} gpu={gpu} "
        f"priority={priority} weight={weight:g} {'borrowing' if borrow else 'no borrowing'}",
    )


@app.command("list")
@handle_errors
def list_quotas(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every project's quota and priority."""
    quotas = runtime().meta.list_quotas()
    if as_json:
        out_console.print_json(json.dumps([_quota_json(q) for q in quotas]))
        return
    if not quotas:
        err_console.print("no quotas set (`airfoil quotas set PROJECT --gpu 2`)")
        return
    table = Table("project", "cpu", "mem", "gpu", "priority", "weight", "borrow")
    for q in quotas:
        table.add_row(
            q.project,
            f"{q.cpu:g}",
            _mem(q.mem),
            str(q.gpu),
            str(q.priority),
            f"{q.weight:g}",
            "yes" if q.borrow else "no",
        )
    out_console.print(table)


@app.command("delete")
@handle_errors
def delete_quota(project: str = typer.Argument(..., help="The project.")) -> None:
    """Remove a project's quota (it then has no guarantee and no cap)."""
    if not runtime().meta.delete_quota(project):
        fail(f"project {project!r} has no quota")
    say(err_console, "quota of ", (project, "bold"), " removed")
