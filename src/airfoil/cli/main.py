"""The ``airfoil`` command line (Typer + Rich). Nothing imports this layer."""

from __future__ import annotations

import sys
from typing import Any

import typer
import typer.core
import typer.main

from airfoil.cli._lazy import LazyCommands, Loader, show_flags_as_flags

__all__ = ["COMMANDS", "app", "main"]


# One function per command module: it imports the module (a plain local import, so the
# dependency stays visible to mypy and the import contracts) and adds its commands.


def _run(app: typer.Typer) -> None:
    from airfoil.cli import _run

    _run.register(app)


def _executions(app: typer.Typer) -> None:
    from airfoil.cli import _executions

    app.add_typer(_executions.app, name="executions", help="List, inspect and resume executions.")
    _executions.register_logs(app)
    _executions.register_signal(app)


def _cache(app: typer.Typer) -> None:
    from airfoil.cli import _cache

    app.add_typer(_cache.app, name="cache", help="Inspect and clear the task cache.")


def _server(app: typer.Typer) -> None:
    from airfoil.cli import _server

    _server.register(app)  # the server, auth, secrets, register and remote commands


def _schedules(app: typer.Typer) -> None:
    from airfoil.cli import _schedules

    _schedules.register(app)


def _sim(app: typer.Typer) -> None:
    from airfoil.cli import _sim

    _sim.register(app)


def _quotas(app: typer.Typer) -> None:
    from airfoil.cli import _quotas

    _quotas.register(app)


def _cluster(app: typer.Typer) -> None:
    from airfoil.cli import _cluster

    _cluster.register(app)


def _metrics(app: typer.Typer) -> None:
    from airfoil.cli import _metrics

    _metrics.register(app)  # issue 15: observability


def _failures(app: typer.Typer) -> None:
    from airfoil.cli import _failures

    _failures.register(app)


def _history(app: typer.Typer) -> None:
    from airfoil.cli import _history

    app.add_typer(_history.app, name="tasks", help="Task history: durations and metrics over runs.")


def _report(app: typer.Typer) -> None:
    from airfoil.cli import _report

    _report.register(app)


def _compare(app: typer.Typer) -> None:
    from airfoil.cli import _compare

    _compare.register(app)


def _runs(app: typer.Typer) -> None:
    from airfoil.cli import _runs

    _runs.register(app)


def _models(app: typer.Typer) -> None:
    from airfoil.cli import _models

    _models.register(app)


def _deploy(app: typer.Typer) -> None:
    from airfoil.cli import _deploy

    _deploy.register(app)


def _version(app: typer.Typer) -> None:
    app.command("version")(version)


#: Every command of ``airfoil``, in the order help lists them, and the function that loads
#: its module. A new command is one line here (and, for a new module, one function above);
#: ``tests/unit/cli/test_lazy_commands.py`` fails when this table and the loaders disagree.
COMMANDS: dict[str, Loader] = {
    "run": _run,
    "logs": _executions,
    "signal": _executions,
    "register": _server,
    "scheduler": _schedules,
    "sim": _sim,
    "nodes": _cluster,
    "queue": _cluster,
    "metrics": _metrics,
    "failures": _failures,
    "report": _report,
    "compare": _compare,
    "runs": _runs,
    "serve": _models,
    "deploy": _deploy,
    "version": _version,
    "executions": _executions,
    "cache": _cache,
    "server": _server,
    "auth": _server,
    "secrets": _server,
    "remote": _server,
    "schedules": _schedules,
    "quotas": _quotas,
    "tasks": _history,
    "models": _models,
}


class _Group(typer.core.TyperGroup):
    """The root group: commands come from :data:`COMMANDS`, each module imported when one
    of its commands is run (or when help or completion lists them all)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(COMMANDS, self.commands)


app = typer.Typer(
    name="airfoil",
    help="Typed, durable, cached ML and data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_Group,
)


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


def version() -> None:
    """Print Airfoil's version."""
    from airfoil import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``airfoil`` script.

    Usage mistakes (an unknown option, a missing argument) print in the same form as every
    other error, ``error: <message>`` after the usage line, and exit with code 2.
    """
    from airfoil.cli import _collector

    _collector.pause()  # resumed where the command's own work begins (see _collector)
    from airfoil.cli._common import fail

    command = typer.main.get_command(app)
    show_flags_as_flags(command, subcommands=False)  # each command's own when it loads
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
    finally:
        _collector.resume()
    sys.exit(code if isinstance(code, int) else 0)
