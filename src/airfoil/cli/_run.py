"""``airfoil run FILE NAME --input value ...``"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from airfoil.cli._common import err_console, handle_errors, is_tty, out_console, runtime

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help=(
            "Run a task or workflow from a Python file. Inputs follow as --name value "
            "(JSON for lists, dicts and dataclasses; a file path for File, Directory and "
            "DataFrame inputs, read from CSV or Parquet)."
        ),
    )
    @handle_errors
    def run(
        ctx: typer.Context,
        file: str = typer.Argument(..., help="Python file defining the task or workflow."),
        name: str = typer.Argument(..., help="Name of the task or workflow in that file."),
        executor: str = typer.Option(
            None, "--executor", "-e", help="inline (same process) or process (worker processes)."
        ),
        execution_id: str = typer.Option(
            None, "--name", help="Execution id to use (default: generated)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        remote: bool = typer.Option(False, "--remote", help="Run on the server instead."),
        server: str = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
    ) -> None:
        if remote or server:  # hook: remote runs live in cli/_remote.py
            from airfoil.cli._remote import run_remote

            return run_remote(
                file,
                name,
                list(ctx.args),
                server=server,
                execution_id=execution_id,
                as_json=as_json,
            )
        from airfoil.cli._inputs import parse_inputs
        from airfoil.cli._load import load_entity
        from airfoil.cli._render import LiveProgress, execution_json, sort_nodes
        from airfoil.core.errors import ConfigError
        from airfoil.core.ids import validate_execution_id
        from airfoil.engine.code_manifests import save_manifests
        from airfoil.engine.launch_plans import after_drive, prepare_launch
        from airfoil.sdk._versioning import manifest_for, project_root

        if executor is not None and executor not in ("inline", "process"):
            raise ConfigError(f"unknown executor {executor!r}: use 'inline' or 'process'")
        if execution_id is not None:
            validate_execution_id(execution_id)
        rt = runtime()
        entity = load_entity(file, name)
        given = parse_inputs(entity, list(ctx.args), rt.types)
        spec, values, labels = prepare_launch(entity, given, rt)
        save_manifests(rt.blobs, spec, manifest_for)
        live = LiveProgress(err_console, entity.name) if (not as_json and is_tty()) else None
        engine = rt.engine(executor, on_change=live.update if live else None)
        started = time.perf_counter()
        record = engine.launch(
            spec,
            values,
            execution_id=execution_id,
            code_root=project_root(entity.module),
            labels=labels,
            keep=True,
        )
        if not as_json:
            err_console.print(f"execution [bold]{record.id}[/] of {entity.name} started")
        if live is not None:
            with live:
                record = engine.drive(record.id)
                live.update(engine.load_state(record.id), force=True)
        else:
            record = engine.drive(record.id)
        after_drive(entity, record)
        nodes = sort_nodes(rt.meta.get_nodes(record.id))
        if as_json:
            out_console.print_json(json.dumps(execution_json(record, nodes, rt)))
        else:
            _print_summary(record, nodes, rt, time.perf_counter() - started, live is None)
        if record.phase != "succeeded":
            raise typer.Exit(1)


def _print_summary(record: Any, nodes: list[Any], rt: Any, elapsed: float, table: bool) -> None:
    from airfoil.cli._render import PHASE_STYLE, node_table, outputs_json

    if table:
        err_console.print(node_table(nodes))
    hits = sum(1 for n in nodes if n.cache_status == "hit")
    style = PHASE_STYLE.get(record.phase, "")
    cached = f", {hits} of {len(nodes)} nodes from cache" if hits else ""
    err_console.print(
        f"execution [bold]{record.id}[/] [{style}]{record.phase}[/] in {elapsed:.2f}s{cached}"
    )
    if record.phase == "succeeded":
        outputs = outputs_json(record, rt)
        if outputs:
            out_console.print_json(json.dumps(outputs, default=str))
    elif record.error is not None:
        err = record.error
        err_console.print(f"[bold red]{err.kind} error[/] {err.type}: {err.message}")
        if err.traceback:
            err_console.print(err.traceback.rstrip(), markup=False, highlight=False)
        err_console.print(
            f"logs: airfoil logs {record.id}    resume: airfoil executions resume {record.id}"
        )
