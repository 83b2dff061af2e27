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

from airfoil.cli._common import fail, json_line, showing_console
from airfoil.core.errors import AirfoilError

if TYPE_CHECKING:
    from rich.console import Console

    from airfoil.scheduler.sim import SimConfig, SimResult, Sweep, Trace

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
    loads: Annotated[
        str | None,
        typer.Option(
            "--loads",
            help="Comma-separated loads, e.g. 0.5,0.7,0.9,1.0,1.2: every policy at every "
            "load in one run, with ratios to fifo, fifo-skip, backfill and las (overrides "
            "--load).",
        ),
    ] = None,
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
    plot_dir: Annotated[
        Path | None,
        typer.Option(
            "--plot-dir",
            help="With --loads: write one PNG per figure (policy vs load) in this folder.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object keyed by policy instead.")
    ] = False,
) -> None:
    """Replay a job trace through scheduling policies and report JCT, waits and fairness."""
    from airfoil.cli import _collector

    _collector.resume()  # paused by main() while the command loaded (not in handle_errors)
    err = showing_console(stderr=True)
    if loads is not None:
        _sweep_command(
            trace,
            [policy] if compare is None else _names(compare),
            loads,
            _config(nodes, load, estimate_error, seed, restart_penalty, quotas),
            plot_dir,
            json_output,
            err,
        )
        return
    if plot_dir is not None:
        err.print("[red]error:[/red] --plot-dir needs --loads", highlight=False, markup=True)
        raise typer.Exit(2)
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
    out = _stdout_console()
    _print_table(results, out)
    if plot is not None:
        err.print(f"wrote {plot}", highlight=False, markup=False, soft_wrap=True)


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
    from airfoil.scheduler.sim import compare as compare_policies
    from airfoil.scheduler.sim import load_trace

    names = _names(compare) if compare else [policy]
    for name in names:
        get_policy(name)  # an unknown name fails before the trace is read
    config = _config(nodes, load, estimate_error, seed, restart_penalty, quotas)
    jobs = load_trace(trace)
    with _progress(console) as bar:
        if bar is None:
            return compare_policies(jobs, names, config)

        def track(name: str) -> Any:
            task = bar.add_task(f"replaying {name}", total=len(jobs.jobs))
            return lambda done, _total: bar.update(task, completed=done)

        return compare_policies(jobs, names, config, track)


def _names(compare: str) -> list[str]:
    return [p.strip() for p in compare.split(",") if p.strip()]


def _parse_loads(text: str) -> list[float]:
    from airfoil.scheduler import SimulationError

    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SimulationError(
            f"--loads must be comma-separated numbers, e.g. 0.5,0.7,1.0; got {text!r}"
        ) from None
    if not values:
        raise SimulationError("--loads needs at least one load")
    return values


def _config(
    nodes: str,
    load: float,
    estimate_error: float,
    seed: int,
    restart_penalty: float,
    quotas: str,
) -> SimConfig:
    from airfoil.scheduler.sim import SimConfig

    return SimConfig(
        nodes=nodes,
        load=load,
        estimate_error=estimate_error,
        seed=seed,
        restart_penalty=restart_penalty,
        quotas=quotas,
    )


def _sweep_command(
    trace: Path,
    names: list[str],
    loads_text: str,
    config: SimConfig,
    plot_dir: Path | None,
    json_output: bool,
    err: Console,
) -> None:
    from airfoil.scheduler import get_policy
    from airfoil.scheduler.sim import load_trace, plot_sweep, sweep_report

    try:
        loads_ = _parse_loads(loads_text)
        for name in names:
            get_policy(name)
        jobs = load_trace(trace)
        results = _run_sweep(jobs, names, loads_, config, None if json_output else err)
        if plot_dir is not None:
            title = f"{trace.name}, {config.nodes}, estimate error {config.estimate_error:g}"
            written = plot_sweep(results, plot_dir, title)
            if not json_output:
                for path in written:
                    err.print(f"wrote {path}", highlight=False, markup=False, soft_wrap=True)
    except AirfoilError as exc:
        from rich.text import Text

        err.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_output:
        import msgspec

        sys.stdout.write(json_line(msgspec.json.encode(sweep_report(results)).decode()) + "\n")
        return
    out = _stdout_console()
    for by_policy in results.values():
        _print_table(by_policy, out)
    _print_ratios(sweep_report(results), out)


def _stdout_console() -> Console:
    """The console for results (a trace's cluster names are shown escaped); piped, it is
    wide so tables are not squeezed to 80 columns."""
    return showing_console(stderr=False)


def _run_sweep(
    jobs: Trace, names: list[str], loads_: list[float], config: SimConfig, console: Console | None
) -> Sweep:
    from airfoil.scheduler.sim import sweep

    with _progress(console) as bar:
        if bar is None:
            return sweep(jobs, names, loads_, config)

        def track(name: str, load: float) -> Any:
            task = bar.add_task(f"replaying {name} at load {load:g}", total=len(jobs.jobs))
            return lambda done, _total: bar.update(task, completed=done)

        return sweep(jobs, names, loads_, config, track)


def _print_ratios(report: dict[str, Any], console: Console) -> None:
    from airfoil.cli._table import Table

    table = Table(title="average JCT: ratio to each baseline and to the best other policy")
    table.add_column("load", justify="right")
    table.add_column("policy")
    bases = ("fifo", "fifo-skip", "backfill", "las")
    for base in bases:
        table.add_column(f"/ {base}", justify="right")
    table.add_column("/ best other", justify="right")
    table.add_column("keeps up")
    for load, by_policy in report["loads"].items():
        for name, entry in by_policy.items():
            ratios = entry["ratio_to"]
            cells = [_fmt(ratios[base]["avg_jct_s"]) if base in ratios else "-" for base in bases]
            best = entry.get("vs_best_other")
            best_text = "-" if best is None else f"{_fmt(best['avg_jct_s'])} ({best['best_other']})"
            table.add_row(load, name, *cells, best_text, "yes" if entry["keeps_up"] else "no")
    console.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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
    sys.stdout.write(json_line(msgspec.json.encode(payload).decode()) + "\n")


def _print_table(results: dict[str, SimResult], console: Console) -> None:
    from rich import box

    from airfoil.cli._table import Table
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
