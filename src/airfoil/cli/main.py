"""The ``airfoil`` command line (Typer + Rich). Nothing imports this layer."""

from __future__ import annotations

import typer

from airfoil.cli import _cache, _executions, _run, _schedules

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
_schedules.register(app)

try:  # the scheduler simulator (issue 5) registers its own command
    from airfoil.cli import _sim  # type: ignore[attr-defined, unused-ignore]

    _sim.register(app)
except ImportError:  # pragma: no cover - optional while being built
    pass


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
