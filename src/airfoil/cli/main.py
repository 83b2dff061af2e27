"""The ``airfoil`` command line (Typer + Rich). Nothing imports this layer."""

from __future__ import annotations

import typer

from airfoil.cli import _cache, _executions, _quotas, _run, _schedules, _server, _sim

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


@app.command()
def version() -> None:
    """Print Airfoil's version."""
    from airfoil import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``airfoil`` script."""
    app()


if __name__ == "__main__":
    main()
