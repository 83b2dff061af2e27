"""Issue 11's goals for the ``airfoil`` policy on held-out slices and variants of the trace.

For each window of the Philly week, each load and each estimate-error seed, replays
``fifo``, ``fifo-skip``, ``backfill``, ``fair``, ``las`` and ``airfoil`` and prints
``airfoil``'s figures as fractions of the goal (1.00 or less meets it):

- ``jct/las``: average JCT over LAS's (goal: at most 1);
- ``jct/other``: average JCT over the best of ``fifo-skip``, ``backfill`` and ``fair``;
- ``gang``: average wait of jobs of more than 8 GPUs over ``min(10% of FIFO's, 25% of
  backfill's)``;
- ``ftf``: worst finish-time fairness over twice LAS's;
- ``p99``: p99 JCT over backfill's.

Windows: ``d1-3`` (the first three days: where the settings were tuned), ``d4-7`` (the last
four, held out), ``week``, ``rotated`` (days 4-7 then days 1-3: the same jobs in another
order) and ``thinned`` (a seeded random 80% of the jobs: another mix at the same loads).
The fresh set (``FRESH``, run only when named), defined before any policy change was run on
it: ``d2-5`` (days 2-5: another split, ending mid-week), ``boot`` (the week's arrival times,
each given a job drawn with replacement from the week's jobs, seed 45) and ``scaled`` (each
tenant's run times scaled by its own seeded factor between 1/2 and 2). The second fresh set
(``FRESH2``, the twentieth session's, run only when named), defined the same way:
``d3-6`` (days 3-6), ``boot20`` (``boot`` with seed 20) and ``jitter`` (the week with each
submit time moved by a seeded offset uniform in [-1 h, 1 h], seed 20: the same jobs, other
coincidences of arrivals). The third fresh set (``FRESH3``, the twenty-fifth session's, run
only when named), defined the same way, changes the gangs' lengths only (every job of more
than 8 GPUs; the others as in the week): ``gangs-half`` (each such job's run time, and so its
estimate, x 0.5), ``gangs-double`` (x 2) and ``gangs-mixed`` (each by its own seeded factor
``2 ** u``, ``u`` uniform in [-1, 1], seed 25). The loads are fractions of each window's own
GPU-time (the simulator rescales submit times by the changed trace's work), so doubling the
gangs stretches the arrivals rather than overloading the cluster.

Run::

    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py                 # everything
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py d4-7 0,1        # window, seeds
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py week 0 0.0      # exact only
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py week 0 --set starve_after=8
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py d2-5,boot,scaled  # the fresh set
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py d3-6,boot20,jitter  # the second
    PYTHONPATH=src python benchmarks/bench_scheduler_goals.py gangs-half,gangs-double,gangs-mixed

The optional third argument is the estimate error (default: ``0`` with seed 0, and ``1.0``
with each seed). ``--set NAME=VALUE`` (repeatable) replays ``airfoil`` with that setting of
``AirfoilPolicy`` instead of its default (``none`` for ``None``, ``a;b`` for a tuple), to try
a setting without editing the policy. ``--loads`` picks loads (default all five).

The baselines' metrics do not depend on ``airfoil``'s settings, so they are cached per
window, load, error and seed in the temporary directory (a file per window, so runs of
different windows side by side keep each other's), keyed by a hash of the trace and of the
scheduler's sources other than the modules only ``airfoil`` runs (``AIRFOIL_ONLY``): a re-run
after changing only those replays only ``airfoil`` (``--no-cache`` replays everything).

The last lines sum up: per goal, the worst and the mean ratio over the cells run, and the
sums of the five worst and of the five mean ratios, the figures docs/scheduling.md compares
candidate settings by.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from airfoil.scheduler import AirfoilPolicy
from airfoil.scheduler.sim import Metrics, SimConfig, Trace, TraceJob, load_trace, simulate

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400.0
LOADS = (0.5, 0.7, 0.9, 1.0, 1.2)
BASELINES = ("fifo", "fifo-skip", "backfill", "fair", "las")
WINDOWS = ("d1-3", "d4-7", "week", "rotated", "thinned")
FRESH = ("d2-5", "boot", "scaled")
"""The fresh test set of the eighteenth session: defined (and committed) before any policy
change was run on it, so it is unseen by every setting chosen up to and in that session."""
FRESH2 = ("d3-6", "boot20", "jitter")
"""The second fresh set, of the twentieth session: defined (and committed) before any policy
change was run on it, after the first fresh set had been looked at by the nineteenth."""
FRESH3 = ("gangs-half", "gangs-double", "gangs-mixed")
"""The third fresh set, of the twenty-fifth session: the week with its gangs' run times
changed, defined (and committed) before any run on it, to check ``due_gang_hours`` (in hours
of the cluster, chosen on the week's gang lengths) on gangs of other lengths."""
GANG_GPUS = 8
"""``FRESH3`` changes the run times of jobs of more than this many GPUs only (the jobs the
gang goal counts; a node has 8 GPUs, so these are the gangs)."""
AIRFOIL_ONLY = frozenset(
    {
        "_airfoil.py",
        "_defrag.py",
        "_due_guard.py",
        "_settle.py",
        "_shield.py",
        "_victims.py",
        "_victim_index.py",
        "_stretch.py",
    }
)
"""Scheduler modules whose code no baseline policy runs (``_round.py`` imports the victim
index only to recognise it): a change to them leaves the cached baselines valid."""


def window_of(trace: Trace, name: str) -> Trace:
    """The window (or variant) ``name`` of the week's trace, its submits rebased to 0."""
    jobs = list(trace.jobs)
    if name == "week":
        return trace
    if name == "d1-3":
        picked = [j for j in jobs if j.submit < 3 * DAY]
    elif name == "d4-7":
        picked = [j for j in jobs if j.submit >= 3 * DAY]
    elif name == "rotated":
        late = [j for j in jobs if j.submit >= 3 * DAY]
        early = [j for j in jobs if j.submit < 3 * DAY]
        shift = late[-1].submit - 3 * DAY + 600.0
        picked = [msgspec.structs.replace(j, submit=j.submit - 3 * DAY) for j in late] + [
            msgspec.structs.replace(j, submit=j.submit + shift) for j in early
        ]
    elif name == "thinned":
        rng = random.Random(11)
        picked = [j for j in jobs if rng.random() < 0.8]
    elif name == "d2-5":
        picked = [j for j in jobs if DAY <= j.submit < 5 * DAY]
    elif name == "boot":
        picked = _bootstrap(jobs, random.Random(45))
    elif name == "scaled":
        picked = _scaled(jobs, random.Random(18))
    elif name == "d3-6":
        picked = [j for j in jobs if 2 * DAY <= j.submit < 6 * DAY]
    elif name == "boot20":
        picked = _bootstrap(jobs, random.Random(20))
    elif name == "jitter":
        picked = _jittered(jobs, random.Random(20))
    elif name == "gangs-half":
        picked = _gangs_scaled(jobs, lambda: 0.5)
    elif name == "gangs-double":
        picked = _gangs_scaled(jobs, lambda: 2.0)
    elif name == "gangs-mixed":
        rng = random.Random(25)
        picked = _gangs_scaled(jobs, lambda: 2 ** rng.uniform(-1.0, 1.0))
    else:
        known = ", ".join(WINDOWS + FRESH + FRESH2 + FRESH3)
        raise SystemExit(f"unknown window {name!r}; choose from {known}")
    t0 = picked[0].submit
    rebased = tuple(msgspec.structs.replace(j, submit=j.submit - t0) for j in picked)
    return Trace(f"{trace.name}[{name}]", rebased)


def _bootstrap(jobs: list[TraceJob], rng: random.Random) -> list[TraceJob]:
    """The week's arrival times, each given a job (duration, GPUs, tenant) drawn with
    replacement from the week's jobs: the same arrival process, another mix and order."""
    drawn = [rng.choice(jobs) for _ in jobs]
    pairs = zip(jobs, drawn, strict=True)
    return [msgspec.structs.replace(d, id=j.id, submit=j.submit) for j, d in pairs]


def _scaled(jobs: list[TraceJob], rng: random.Random) -> list[TraceJob]:
    """Each tenant's run times scaled by its own factor ``2 ** u``, ``u`` uniform in [-1, 1]
    (the load's rescaling of submit times keeps the offered load): another balance between
    tenants and between short and long work."""
    factor = {t: 2 ** rng.uniform(-1.0, 1.0) for t in sorted({j.tenant for j in jobs})}
    return [msgspec.structs.replace(j, duration=j.duration * factor[j.tenant]) for j in jobs]


def _jittered(jobs: list[TraceJob], rng: random.Random) -> list[TraceJob]:
    """Every job of the week, its submit time moved by an offset uniform in [-1 h, 1 h] (in
    submit order again): the same jobs and daily rhythm, other coincidences of arrivals."""
    moved = [
        msgspec.structs.replace(j, submit=j.submit + rng.uniform(-3600.0, 3600.0)) for j in jobs
    ]
    return sorted(moved, key=lambda j: j.submit)


def _gangs_scaled(jobs: list[TraceJob], factor: Callable[[], float]) -> list[TraceJob]:
    """Every job of more than :data:`GANG_GPUS` GPUs with its run time (and so its estimate)
    times ``factor()``, called once per such job in submit order; other jobs unchanged."""
    return [
        msgspec.structs.replace(j, duration=j.duration * factor()) if j.gpus > GANG_GPUS else j
        for j in jobs
    ]


class Baselines:
    """The baselines' metrics per (window, load, error, seed), cached on disk."""

    def __init__(self, trace_path: Path, enabled: bool) -> None:
        digest = hashlib.sha256(trace_path.read_bytes())
        sources = sorted((REPO / "src" / "airfoil" / "scheduler").rglob("*.py"))
        for source in sources:
            if source.name not in AIRFOIL_ONLY:
                digest.update(source.read_bytes())
        # one file per window, so runs of different windows side by side keep each other's
        self._prefix = f"airfoil_goals_{digest.hexdigest()[:16]}"
        self._enabled = enabled
        self._data: dict[str, dict[str, dict[str, object]]] = {}

    def _path(self, window: str) -> Path:
        return Path(tempfile.gettempdir()) / f"{self._prefix}_{window}.json"

    def get(self, trace: Trace, window: str, config: SimConfig) -> dict[str, Metrics]:
        data = self._data.get(window)
        if data is None:
            path = self._path(window)
            loaded = self._enabled and path.is_file()
            data = self._data[window] = json.loads(path.read_text()) if loaded else {}
        key = f"{window}|{config.load}|{config.estimate_error}|{config.seed}"
        cached = data.get(key)
        if cached is not None:
            return {name: msgspec.convert(m, Metrics) for name, m in cached.items()}
        metrics = {name: simulate(trace, name, config).metrics for name in BASELINES}
        if self._enabled:
            data[key] = {name: msgspec.to_builtins(m) for name, m in metrics.items()}
            tmp = self._path(window).with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self._path(window))
        return metrics


def _goals(
    trace: Trace, window: str, config: SimConfig, policy: AirfoilPolicy, baselines: Baselines
) -> dict[str, float]:
    return goal_ratios(
        simulate(trace, policy, config).metrics, baselines.get(trace, window, config)
    )


def goal_ratios(a: Metrics, m: dict[str, Metrics]) -> dict[str, float]:
    """Issue 11's goals for metrics ``a`` as fractions of the goal, from the baselines' ``m``."""
    gang_limit = min(
        0.1 * (m["fifo"].large_gang_avg_wait_s or 0.0),
        0.25 * (m["backfill"].large_gang_avg_wait_s or 0.0),
    )
    return {
        "jct/las": a.avg_jct_s / m["las"].avg_jct_s,
        "jct/other": a.avg_jct_s / min(m[n].avg_jct_s for n in ("fifo-skip", "backfill", "fair")),
        "gang": (a.large_gang_avg_wait_s or 0.0) / gang_limit if gang_limit > 0 else 0.0,
        "ftf": a.worst_ftf / (2 * m["las"].worst_ftf),
        "p99": a.p99_jct_s / m["backfill"].p99_jct_s,
    }


def _setting(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or name not in AirfoilPolicy.__dataclass_fields__:
        raise SystemExit(f"--set {text!r}: expected NAME=VALUE with NAME an AirfoilPolicy field")
    value: object
    if raw.lower() == "none":
        value = None
    elif ";" in raw or name == "thresholds":
        value = tuple(float(v) for v in raw.split(";") if v)
    elif raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    elif name.startswith("max_"):
        value = int(raw)
    else:
        value = float(raw)
    return name, value


def add_setting_option(parser: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable): a setting of ``AirfoilPolicy`` (see ``policy_of``)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="NAME=VALUE",
        help="an AirfoilPolicy setting instead of its default (none: None; a;b: a tuple)",
    )


def policy_of(settings: list[str]) -> AirfoilPolicy:
    """``AirfoilPolicy`` with ``--set``'s ``NAME=VALUE`` settings, its defaults elsewhere."""
    return AirfoilPolicy(**dict(_setting(text) for text in settings))


def trace_path() -> Path | None:
    """The Philly week's trace (``AIRFOIL_TRACE``, else ``shared/data`` beside the
    repository); None, having said where it looked, when it is not there."""
    path = Path(
        os.environ.get("AIRFOIL_TRACE", "") or REPO.parent / "shared" / "data" / "philly_week45.csv"
    )
    if not path.is_file():
        print(f"trace not found at {path}; set AIRFOIL_TRACE")
        return None
    return path


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="airfoil against issue 11's goals")
    parser.add_argument("windows", nargs="?", default=",".join(WINDOWS))
    parser.add_argument("seeds", nargs="?", default="0,1,2")
    parser.add_argument("error", nargs="?", type=float)
    add_setting_option(parser)
    parser.add_argument("--loads", default=",".join(str(load) for load in LOADS))
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv[1:])
    path = trace_path()
    if path is None:
        return
    trace = load_trace(path)
    policy = policy_of(args.settings)
    baselines = Baselines(path, enabled=not args.no_cache)
    windows = args.windows.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    errors = [args.error] if args.error is not None else [0.0, 1.0]
    loads = [float(load) for load in args.loads.split(",")]
    print("airfoil against issue 11's goals (each figure: 1.00 or less meets the goal)")
    print(f"policy: {policy}")
    failed = cells = 0
    excess: dict[str, float] = {}
    missed: dict[str, int] = {}
    seen: dict[str, list[float]] = {}
    for window in windows:
        part = window_of(trace, window)
        for error in errors:
            for seed in seeds if error else seeds[:1]:
                t0 = time.perf_counter()
                for load in loads:
                    config = SimConfig(load=load, estimate_error=error, seed=seed)
                    goals = _goals(part, window, config, policy, baselines)
                    ok = all(v <= 1.0 for v in goals.values())
                    failed += not ok
                    cells += 1
                    for k, v in goals.items():
                        seen.setdefault(k, []).append(v)
                        if v > 1.0:
                            excess[k] = excess.get(k, 0.0) + v - 1.0
                            missed[k] = missed.get(k, 0) + 1
                    figures = "  ".join(f"{k} {v:5.3f}" for k, v in goals.items())
                    print(
                        f"{'ok ' if ok else 'MISS'} {window:8s} {len(part.jobs):5d} jobs  "
                        f"error {error:g} seed {seed}  load {load:<4g} {figures}",
                        flush=True,
                    )
                print(f"     ({time.perf_counter() - t0:.0f} s)", flush=True)
    by_goal = ", ".join(f"{k} {missed[k]} (excess {excess[k]:.3f})" for k in sorted(missed))
    print(f"{failed} of {cells} cell(s) miss at least one goal; by goal: {by_goal or '-'}")
    if seen:
        worst = {k: max(v) for k, v in seen.items()}
        mean = {k: sum(v) / len(v) for k, v in seen.items()}
        print("worst / mean: " + ", ".join(f"{k} {worst[k]:.3f} / {mean[k]:.3f}" for k in seen))
        print(f"sum of worst / of means: {sum(worst.values()):.3f} / {sum(mean.values()):.3f}")


if __name__ == "__main__":
    main(sys.argv)
