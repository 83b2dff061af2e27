"""``airfoil sim``: replay a job trace through scheduling policies and compare them.

Wire it into the main app with :func:`register`. Heavy imports (numpy via the simulator,
matplotlib for the plot, Rich's progress bar) happen inside the command, not at import.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airfoil.cli._common import fail
from airfoil.core.errors import AirfoilError

if TYPE_CHECKING:
    from rich.console import Console

    from airfoil.scheduler.sim import SimResult

__all__ = ["register", "sim"]

DEFAULT_PLOT = "jct_cdf.png"


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command to ``app``."""
    app.command("sim", no_args_is_help=True)(sim)


def sim(
    trace: Annotated[
        Path,
        typer.Option("--trace", help="Job trace CSV: timestamp,duration,num_gpus,cluster."),
    ],
    policy: Annotated[
        str, typer.Option("--policy", help="Policy to replay (ignored with --compare).")
    ] = "airfoil",
    nodes: Annotated[
        str, typer.Option("--nodes", help="Cluster: COUNTxGPUSgpu, e.g. 8x8gpu; join with +.")
    ] = "8x8gpu",
    load: Annotated[
        float,
        typer.Option(
            "--load", help="Rescale submit times so the trace offers this load (1.0 = full)."
        ),
    ] = 1.0,
    estimate_error: Annotated[
        float,
        typer.Option(
            "--estimate-error",
            help="Run-time estimate error: 0 exact, 1 off by up to 2x either way.",
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the estimate errors.")] = 0,
    restart_penalty: Annotated[
        float,
        typer.Option("--restart-penalty", help="Seconds a preempted job loses on restart."),
    ] = 60.0,
    quotas: Annotated[
        str,
        typer.Option("--quotas", help="'none', or 'equal': equal nominal GPU share per tenant."),
    ] = "none",
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="Comma-separated policies to compare, e.g. fifo,airfoil."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help=f"Write a PNG of the JCT CDF here (default with --compare: {DEFAULT_PLOT}).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object keyed by policy instead.")
    ] = False,
) -> None:
    """Replay a job trace through scheduling policies and report JCT, waits and fairness."""
    from rich.console import Console

    err = Console(stderr=True)
    try:
        results = _run(
            trace,
            policy,
            nodes,
            load,
            estimate_error,
            seed,
            restart_penalty,
            quotas,
            compare,
            None if json_output else err,
        )
        if plot is None and compare and not json_output:
            plot = Path(DEFAULT_PLOT)
        if plot is not None:
            from airfoil.scheduler.sim import plot_jct_cdf

            title = f"{trace.name}, {nodes}, load {load:g}, estimate error {estimate_error:g}"
            plot_jct_cdf(results, plot, title)
    except AirfoilError as exc:
        fail(str(exc))
    if json_output:
        _print_json(results)
        return
    out = Console()
    if not out.is_terminal:  # piped: do not squeeze the table into 80 columns
        out = Console(width=200)
    _print_table(results, out)
    if plot is not None:
        err.print(f"wrote {plot}", highlight=False)


def _run(
    trace: Path,
    policy: str,
    nodes: str,
    load: float,
    estimate_error: float,
    seed: int,
    restart_penalty: float,
    quotas: str,
    compare: str | None,
    console: Console | None,
) -> dict[str, SimResult]:
    from airfoil.scheduler import get_policy
    from airfoil.scheduler.sim import SimConfig, load_trace
    from airfoil.scheduler.sim import compare as compare_policies

    names = [p.strip() for p in compare.split(",") if p.strip()] if compare else [policy]
    for name in names:
        get_policy(name)  # an unknown name fails before the trace is read
    config = SimConfig(
        nodes=nodes,
        load=load,
        estimate_error=estimate_error,
        seed=seed,
        restart_penalty=restart_penalty,
        quotas=quotas,
    )
    jobs = load_trace(trace)
    with _progress(console) as bar:
        if bar is None:
            return compare_policies(jobs, names, config)

        def track(name: str) -> Any:
            task = bar.add_task(f"replaying {name}", total=len(jobs.jobs))
            return lambda done, _total: bar.update(task, completed=done)

        return compare_policies(jobs, names, config, track)


def _progress(console: Console | None) -> AbstractContextManager[Any]:
    if console is None:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_json(results: dict[str, SimResult]) -> None:
    import msgspec

    from airfoil.scheduler.sim import summary

    payload = {name: summary(result) for name, result in results.items()}
    sys.stdout.write(msgspec.json.encode(payload).decode() + "\n")


def _print_table(results: dict[str, SimResult], console: Console) -> None:
    from rich import box
    from rich.table import Table

    from airfoil.scheduler.sim import table_rows

    first = next(iter(results.values()))
    config = first.config
    title = (
        f"{first.trace}: {first.metrics.jobs} jobs on {config.nodes}, load {config.load:g}, "
        f"estimate error {config.estimate_error:g}"
    )
    headers, rows = table_rows(results)
    if console.width >= 150:  # one row per policy
        table = Table(title=title)
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
    else:  # narrow terminal: one column per policy
        table = Table(
            title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)
        )
        table.add_column("", no_wrap=True)
        for row in rows:
            table.add_column(row[0], justify="right", no_wrap=True)
        for i, header in enumerate(headers[1:], start=1):
            table.add_row(header, *(row[i] for row in rows))
    console.print(table)
