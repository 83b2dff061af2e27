"""Every policy at every load in one run: :func:`sweep`, ratios to the baselines, plots.

A sweep replays one trace through each policy at each offered load (the same options
otherwise) and reports, per load and policy, the summary figures plus their ratios to the
baseline policies (``fifo``, ``fifo-skip``, ``backfill`` and ``las`` by default): a ratio
below 1 means the policy does better than that baseline on that figure (every figure here
is "lower is better"). ``vs_best_other`` is the ratio of the policy's average JCT to the best
average JCT of every *other* policy in the sweep, the figure to headline.

``keeps_up`` says whether the policy served the offered load: its utilisation between the
first and the last submit (``span_utilization``) reached at least :data:`KEEPS_UP` of
``min(load, 1)``. Below that its queue grows for the whole trace
(strict FIFO saturates near 0.72 utilisation on the Philly week), so its figures depend on
the trace's length rather than on the policy alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from airfoil.scheduler._errors import SimulationError
from airfoil.scheduler._registry import get_policy
from airfoil.scheduler.sim._compare import compare, summary
from airfoil.scheduler.sim._engine import Progress, SimConfig, SimResult, check_config
from airfoil.scheduler.sim._trace import Trace

__all__ = [
    "BASELINES",
    "KEEPS_UP",
    "RATIO_KEYS",
    "Sweep",
    "plot_sweep",
    "sweep",
    "sweep_report",
]

BASELINES = ("fifo", "fifo-skip", "backfill", "las")
"""The policies every other one is compared with, when they are in the sweep."""

RATIO_KEYS = ("avg_jct_s", "p99_jct_s", "large_gang_avg_wait_s", "worst_ftf", "avg_wait_s")
"""The figures given as ratios to the baselines (and plotted against load)."""

KEEPS_UP = 0.95
"""Utilisation, as a fraction of ``min(load, 1)``, at which a policy serves the load."""

Sweep = dict[float, dict[str, SimResult]]
"""Results by load, then by policy name."""


def sweep(
    trace: Trace,
    policies: Sequence[str],
    loads: Sequence[float],
    config: SimConfig | None = None,
    progress: Callable[[str, float], Progress | None] | None = None,
) -> Sweep:
    """Replay ``trace`` through every policy at every load.

    Args:
        trace: the jobs.
        policies: policy names.
        loads: offered loads (each > 0); duplicates are replayed once.
        config: the other replay options (its ``load`` is replaced by each of ``loads``).
        progress: given a policy name and a load, the progress callback for that replay.

    Raises:
        SimulationError: no load given, or a bad option.
        UnknownPolicyError: a name is not a policy (checked before anything runs).
    """
    if not loads:
        raise SimulationError("give at least one load")
    base = config or SimConfig()
    for load in loads:  # every load is checked before anything runs
        check_config(msgspec.structs.replace(base, load=load))
    for name in policies:
        get_policy(name)
    out: Sweep = {}
    for load in dict.fromkeys(loads):
        at = msgspec.structs.replace(base, load=load)

        def track(name: str, load: float = load) -> Progress | None:
            return progress(name, load) if progress is not None else None

        out[load] = compare(trace, policies, at, track)
    return out


def _ratio(value: object, base: object) -> float | None:
    if not isinstance(value, float | int) or not isinstance(base, float | int):
        return None
    if base == 0:
        return 1.0 if value == 0 else None
    return float(value) / float(base)


def sweep_report(results: Sweep, baselines: Sequence[str] = BASELINES) -> dict[str, object]:
    """The sweep as plain data: per load, per policy, figures, ratios and ``keeps_up``.

    Shape::

        {"trace": ..., "nodes": ..., "estimate_error": ..., "seed": ...,
         "loads": {"0.5": {"fifo": {<summary>, "keeps_up": true,
                                    "ratio_to": {"las": {"avg_jct_s": 1.8, ...}, ...},
                                    "vs_best_other": {"avg_jct_s": 1.8, "best_other": "las"}},
                           ...}, ...}}
    """
    if not results:
        raise SimulationError("the sweep is empty")
    first = next(iter(next(iter(results.values())).values()))
    loads: dict[str, object] = {}
    for load, by_policy in results.items():
        reports = {name: summary(result) for name, result in by_policy.items()}
        row: dict[str, object] = {}
        for name, report in reports.items():
            utilisation = by_policy[name].metrics.span_utilization
            entry = dict(report)
            entry["keeps_up"] = utilisation >= KEEPS_UP * min(load, 1.0)
            entry["ratio_to"] = {
                base: {key: _ratio(report[key], reports[base][key]) for key in RATIO_KEYS}
                for base in baselines
                if base in reports and base != name
            }
            others = {
                other: by_policy[other].metrics.avg_jct_s for other in by_policy if other != name
            }
            if others:
                best = min(others, key=others.__getitem__)
                entry["vs_best_other"] = {
                    "avg_jct_s": _ratio(report["avg_jct_s"], others[best]),
                    "best_other": best,
                }
            row[name] = entry
        loads[f"{load:g}"] = row
    return {
        "trace": first.trace,
        "jobs": first.metrics.jobs,
        "nodes": first.config.nodes,
        "estimate_error": first.config.estimate_error,
        "seed": first.config.seed,
        "loads": loads,
    }


_LABELS = {
    "avg_jct_s": "average JCT (hours)",
    "p99_jct_s": "p99 JCT (hours)",
    "large_gang_avg_wait_s": "average wait of jobs > 8 GPUs (hours)",
    "worst_ftf": "worst finish-time fairness (tenant mean of JCT / fair JCT)",
    "avg_wait_s": "average wait (hours)",
}


def plot_sweep(results: Sweep, directory: str | Path, title: str = "") -> list[Path]:
    """Write one PNG per figure in :data:`RATIO_KEYS`: each policy's value against load.

    The value axis is logarithmic (strict FIFO is orders of magnitude off the others at high
    load). Files are ``<directory>/<figure>.png``; the directory is created.

    Raises:
        SimulationError: the directory or a file cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulationError(f"cannot create plot directory {out}: {exc}") from None
    loads = sorted(results)
    names = list(dict.fromkeys(name for by_policy in results.values() for name in by_policy))
    written: list[Path] = []
    for key in RATIO_KEYS:
        scale = 1.0 if key == "worst_ftf" else 3600.0
        fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
        try:
            for name in names:
                xs, ys = [], []
                for load in loads:
                    result = results[load].get(name)
                    value = None if result is None else getattr(result.metrics, key)
                    if value is not None and value > 0:
                        xs.append(load)
                        ys.append(value / scale)
                bold = name == "airfoil"
                ax.plot(xs, ys, marker="o", linewidth=2.5 if bold else 1.2, label=name)
            ax.set_yscale("log")
            ax.set_xlabel("offered load")
            ax.set_ylabel(_LABELS[key])
            ax.set_xticks(loads)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="best", fontsize="small")
            if title:
                ax.set_title(title, fontsize="medium")
            fig.tight_layout()
            path = out / f"{key.removesuffix('_s')}.png"
            try:
                fig.savefig(path, format="png")
            except OSError as exc:
                raise SimulationError(f"cannot write plot {path}: {exc}") from None
            written.append(path)
        finally:
            plt.close(fig)
    return written
