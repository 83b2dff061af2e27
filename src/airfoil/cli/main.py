"""The ``airfoil`` command line (Typer + Rich). Nothing imports this layer."""

from __future__ import annotations

import sys
from typing import Any

import typer
import typer.main

from airfoil.cli import (
    _cache,
    _cluster,
    _compare,
    _deploy,
    _executions,
    _failures,
    _history,
    _metrics,
    _models,
    _quotas,
    _report,
    _run,
    _runs,
    _schedules,
    _server,
    _sim,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="airfoil",
    help="Typed, durable, cached ML and data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_run.register(app)
app.add_typer(_executions.app, name="executions", help="List, inspect and resume executions.")
app.add_typer(_cache.app, name="cache", help="Inspect and clear the task cache.")
_executions.register_logs(app)
_executions.register_signal(app)
_server.register(app)  # the server, auth, secrets, register and remote commands
_schedules.register(app)
_sim.register(app)
_quotas.register(app)
_cluster.register(app)
_metrics.register(app)  # issue 15: observability
_failures.register(app)
app.add_typer(_history.app, name="tasks", help="Task history: durations and metrics over runs.")
_report.register(app)
_compare.register(app)
_runs.register(app)
_models.register(app)
_deploy.register(app)


def _print_version(value: bool) -> None:
    if value:
        from airfoil import __version__

        typer.echo(f"airfoil {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print Airfoil's version and exit.",
    ),
) -> None:
    """Typed, durable, cached ML and data pipelines."""


@app.command()
def version() -> None:
    """Print Airfoil's version."""
    from airfoil import __version__

    typer.echo(__version__)


def _show_flags_as_flags(command: Any) -> None:
    """Boolean flags take no value: keep help from listing them as ``--json <bool>``
    (Typer prints a type for every option), on every command of the tree."""
    for param in getattr(command, "params", ()):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    make_help = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = make_help(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _show_flags_as_flags(sub)


def main() -> None:
    """Entry point of the ``airfoil`` script.

    Usage mistakes (an unknown option, a missing argument) print in the same form as every
    other error, ``error: <message>`` after the usage line, and exit with code 2.
    """
    from airfoil.cli._common import fail

    command = typer.main.get_command(app)
    _show_flags_as_flags(command)
    try:
        code = command.main(prog_name="airfoil", standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (vendored click's) usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, not an error
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            typer.echo(ctx.get_usage(), err=True)
            typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        try:
            fail(message, code=int(getattr(exc, "exit_code", 2)))
        except typer.Exit as done:
            sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
