"""``airfoil run [OPTIONS] FILE NAME [INPUTS]``.

Options before ``FILE`` are Airfoil's (``--json``, ``--name``, ``--executor``, ``--remote``,
``--server``); everything after ``NAME`` is the workflow's inputs, as ``pyflyte run`` does, so
an input may be called ``name`` or ``json``. ``airfoil run FILE NAME --help`` lists the inputs.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from airfoil.cli import _collector as collector
from airfoil.cli._common import (
    err_console,
    handle_errors,
    is_tty,
    out_console,
    plain,
    runtime,
    say_unreadable,
    shown_name,
    unreadable_json,
)

if TYPE_CHECKING:
    from airfoil.local import LocalRuntime

__all__ = ["register"]

RUN_OPTIONS = ("--executor", "-e", "--ray-address", "--name", "--json", "--remote", "--server")


def register(app: typer.Typer) -> None:
    @app.command(
        context_settings={"allow_extra_args": True, "allow_interspersed_args": False},
        help=(
            "Run a task or workflow from a Python file.\n\n"
            "Options go before FILE; everything after NAME is an input of the workflow, given "
            "as --input value (JSON for lists, dicts and dataclasses; a file path for File, "
            "Directory and DataFrame inputs, read from CSV or Parquet). "
            "`airfoil run FILE NAME --help` lists the inputs, their types, defaults and docs."
        ),
    )
    @handle_errors
    @collector.resumed_in_body  # before the launch: the start-up's imports uncollected
    def run(
        ctx: typer.Context,
        file: str = typer.Argument(
            ..., metavar="FILE", help="Python file defining the task or workflow."
        ),
        name: str = typer.Argument(
            ..., metavar="NAME", help="Name of the task or workflow in that file."
        ),
        executor: str = typer.Option(
            None,
            "--executor",
            "-e",
            help="inline (same process), process (worker processes) or ray (a Ray cluster: "
            "pip install 'airfoil[ray]'); default AIRFOIL_EXECUTOR or inline.",
        ),
        ray_address: str = typer.Option(
            None,
            "--ray-address",
            help="Ray cluster to run on with --executor ray (host:port, ray://host:10001, "
            "auto; AIRFOIL_RAY_ADDRESS). Default: a local Ray, stopped after the run.",
        ),
        execution_id: str = typer.Option(
            None, "--name", help="Execution name in the project (default: its generated id)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        remote: bool = typer.Option(False, "--remote", help="Run on the server instead."),
        server: str = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
    ) -> None:
        from airfoil.cli._inputs import input_help, parse_inputs, wants_help
        from airfoil.cli._load import load_entity
        from airfoil.core.errors import ConfigError

        args = list(ctx.args)
        if wants_help_anywhere(args):
            from airfoil.types import default_type_engine

            entity = load_entity(file, name)
            if wants_help(entity, args):
                plain(out_console, input_help(entity, default_type_engine(), file))
                return
        if remote or server:  # hook: remote runs live in cli/_remote.py
            from airfoil.cli._remote import run_remote

            collector.resume()
            return run_remote(
                file, name, args, server=server, execution_id=execution_id, as_json=as_json
            )
        from airfoil.cli._echo import OutputEcho, chain
        from airfoil.cli._render import execution_json, sort_nodes
        from airfoil.core.code_versions import save_manifests
        from airfoil.core.ids import validate_execution_id
        from airfoil.engine.control import TerminateWatch, drive_watched
        from airfoil.engine.launch_plans import after_drive, engine_anomalies, prepare_launch
        from airfoil.sdk._versioning import manifest_for, project_root

        if execution_id is not None:
            validate_execution_id(execution_id)
        rt = runtime(ray_address=ray_address)
        if executor is not None and executor not in rt.executors.names():
            raise ConfigError(
                f"unknown executor {executor!r}: use "
                + " or ".join(repr(n) for n in rt.executors.names())
            )
        entity = load_entity(file, name)
        given = parse_inputs(entity, args, rt.types, RUN_OPTIONS)
        spec, values, labels = prepare_launch(entity, given, rt)
        save_manifests(rt.blobs, spec, manifest_for)
        live = None
        if not as_json and is_tty():
            from airfoil.cli._live import LiveView

            live = LiveView(err_console, entity.name, rt.settings.domain)
        echo = None if as_json else OutputEcho(err_console, rt.blobs, "", home=rt.settings.domain)
        watch = TerminateWatch(rt.executor(executor), rt.meta, "")
        engine = rt.engine(
            watch, on_change=chain(live.update if live else None, echo and echo.update)
        )
        collector.resume()
        started = time.perf_counter()
        record = engine.launch(
            spec,
            values,
            name=execution_id,
            code_root=project_root(entity.module),
            labels=labels,
            keep=True,
        )
        if not as_json:
            err_console.print(
                Text.assemble(
                    "execution ", (record.display_name, "bold"), " of ", entity.name, " started"
                )
            )
        try:
            if echo is not None:
                echo.execution_id = record.id
            with live or contextlib.nullcontext(), echo or contextlib.nullcontext():
                record = drive_watched(engine, watch, record.id)
        except KeyboardInterrupt:
            interrupted(shown_name(record))
        after_drive(entity, record, anomalies=engine_anomalies(engine, record.id))
        bad: dict[str, Any] = {}  # nodes that no longer decode: the rest is shown

        def skipped(exc: Any) -> None:
            bad.setdefault(exc.record_id, exc)

        nodes = sort_nodes(rt.meta.get_nodes(record.id, on_unreadable=skipped))
        for exc in bad.values():
            say_unreadable(unreadable_json(exc))
        if as_json:
            data = execution_json(record, nodes, rt)
            data["unreadable"] = [unreadable_json(e) for e in bad.values()]
            out_console.print_json(json.dumps(data))
        else:
            print_summary(record, nodes, rt, time.perf_counter() - started, live is None)
        if record.phase != "succeeded":
            raise typer.Exit(1)


def wants_help_anywhere(args: list[str]) -> bool:
    return "--help" in args or "-h" in args


def command_ref(record: Any, home: str) -> str:
    """How a command names ``record``'s run for a caller in domain ``home``
    (``AIRFOIL_DOMAIN``, where a name is looked up first): its name, and ``--domain D`` for
    a run outside ``home``, so the command acts on this run, not one of the same name in
    ``home``."""
    name = shown_name(record)
    domain = getattr(record, "domain", "")
    return f"{name} --domain {domain}" if domain and domain != home else name


def interrupted(execution_id: str, ref: str | None = None) -> None:
    """Ctrl-C while driving: say how to pick the execution up again, exit 130 (``ref``: how
    a command names it, see :func:`command_ref`; default ``execution_id``)."""
    plain(
        err_console,
        f"interrupted: execution {execution_id} stopped where it was (finished nodes are "
        f"kept); continue it with: airfoil executions resume {ref or execution_id}",
    )
    raise typer.Exit(130)


def print_summary(
    record: Any, nodes: list[Any], rt: LocalRuntime, elapsed: float, table: bool
) -> None:
    """After a run: the node table (unless the live view showed it), the phase, then the
    outputs or the error with what to do next."""
    from airfoil.cli._render import PHASE_STYLE, node_table, outputs_json

    if table:
        err_console.print(node_table(nodes))
    hits = sum(1 for n in nodes if n.cache_status == "hit")
    cached = f", {hits} of {len(nodes)} nodes from cache" if hits else ""
    err_console.print(
        Text.assemble(
            "execution ",
            (shown_name(record), "bold"),
            " ",
            (record.phase, PHASE_STYLE.get(record.phase, "")),
            f" in {elapsed:.2f}s{cached}",
        )
    )
    if record.phase == "succeeded":
        outputs = outputs_json(record, rt)
        if outputs:
            out_console.print_json(json.dumps(outputs, default=str))
    elif record.error is not None:
        print_failure(record, rt.settings.domain)


def print_failure(record: Any, home: str = "") -> None:
    """The error of a failed execution, its traceback, and the commands that help next
    (``home``: the caller's domain, see :func:`command_ref`)."""
    err = record.error
    err_console.print(
        Text.assemble((f"{err.kind} error", "bold red"), f" {err.type}: {err.message}"),
        soft_wrap=True,
    )
    if err.traceback:
        plain(err_console, err.traceback.rstrip())
    ref = command_ref(record, home or getattr(record, "domain", ""))
    if record.phase in ("failed", "aborted"):
        again = f"run again from the failure: airfoil executions recover {ref}"
    else:  # interrupted, not ended: the same execution carries on
        again = f"continue it: airfoil executions resume {ref}"
    plain(err_console, f"logs: airfoil logs {ref}    {again}")
