"""What each test tier costs a run: at the end of every session one line per tier (``unit``,
``integration``, ``e2e``, ``ray``) with its number of tests and the sum of their setup, call
and teardown durations.

The session's shared Ray (the local Ray of ``ray_session``, the head of ``ray_head``) starts
and stops inside some test's setup or teardown: its stop, for one, runs in the teardown of
the session's last test, whatever that test is. The fixtures time their start and stop with
:func:`shared_ray`, and those seconds are the ``ray`` tier's, taken off any other tier whose
test they happened to fall in. The ``ray`` line is what the Ray tier adds to ``make test``.

Under pytest-xdist (``-n 2``) the tests run in worker processes and the summary is printed once,
by the controller, for all workers together: each worker notes a phase's tiers and shared-Ray
seconds on its report (:func:`note`), which xdist sends to the controller, where
:class:`Recorder` sums it. The tiers' seconds are then summed over the workers, more than the
session's wall time: a last line says how many workers ran and the session's wall time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

__all__ = [
    "TIERS",
    "PhaseTime",
    "TierTime",
    "Recorder",
    "note",
    "shared_ray",
    "summary_lines",
    "tier_times",
]

TIERS = ("unit", "integration", "e2e", "ray")


@dataclass(frozen=True)
class PhaseTime:
    """One phase (setup, call or teardown) of one test: its tiers, how long it took, and how
    much of that was the session's shared Ray starting or stopping. ``when`` is the phase's
    name: a test is counted by its setup phase, since one node id may be several items (a
    schemathesis test is one id for every operation it checks)."""

    nodeid: str
    tiers: frozenset[str]
    seconds: float
    shared_ray: float = 0.0
    when: str = "call"


@dataclass
class TierTime:
    tests: int = 0  # setup phases: one per item run
    seconds: float = 0.0
    shared_ray: float = 0.0  # the session's Ray start/stop, included in ``seconds``


def tier_times(phases: Iterable[PhaseTime]) -> dict[str, TierTime]:
    """Sum the phases by tier. A phase's shared-Ray seconds count for ``ray`` alone, whatever
    the test's tiers; the rest of the phase counts for each tier the test is in (a test on
    Ray is in ``ray`` and in ``integration`` or ``e2e``)."""
    out = {tier: TierTime() for tier in TIERS}
    for p in phases:
        rest = p.seconds - p.shared_ray
        for tier in p.tiers & set(TIERS):
            out[tier].tests += p.when == "setup"
            out[tier].seconds += rest if tier != "ray" else 0.0
        out["ray"].seconds += p.shared_ray + (rest if "ray" in p.tiers else 0.0)
        out["ray"].shared_ray += p.shared_ray
    return out


def summary_lines(times: dict[str, TierTime]) -> list[str]:
    lines = []
    for tier in TIERS:
        t = times[tier]
        line = f"{tier:<12} {t.tests:5d} tests {t.seconds:9.1f} s (setup+call+teardown)"
        if tier == "ray":
            line += f", of which the session's Ray start/stop {t.shared_ray:.1f} s"
        lines.append(line)
    return lines


_SHARED_RAY = pytest.StashKey[list[float]]()  # shared-Ray seconds of the phase now running

# Attributes of a TestReport; xdist sends a report's plain attributes on to the controller.
_TIERS_ATTR = "airfoil_tiers"
_RAY_ATTR = "airfoil_shared_ray"


@contextmanager
def shared_ray(config: pytest.Config) -> Iterator[None]:
    """Time a start or stop of the session's shared Ray (counted for the ``ray`` tier)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        config.stash.setdefault(_SHARED_RAY, []).append(time.perf_counter() - start)


def note(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put a finished phase's tiers and shared-Ray seconds on its report (from
    ``pytest_runtest_makereport``, in the process that ran the test)."""
    ray = item.config.stash.get(_SHARED_RAY, [])
    item.config.stash[_SHARED_RAY] = []
    tiers = sorted({m.name for m in item.iter_markers() if m.name in TIERS})
    setattr(report, _TIERS_ATTR, tiers)
    setattr(report, _RAY_ATTR, min(sum(ray), report.duration))


class Recorder:
    """The plugin that sums the phases' reports and prints the tiers' lines (registered by
    ``tests/conftest.py``). Under xdist it sums, in the controller, the copies of the workers'
    reports; in a serial session, the process's own."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.phases: list[PhaseTime] = []
        self.started = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        tiers = getattr(report, _TIERS_ATTR, None)
        if tiers is None:  # not noted by :func:`note` (a report of no test of this suite's)
            return
        ray = float(getattr(report, _RAY_ATTR, 0.0))
        self.phases.append(
            PhaseTime(report.nodeid, frozenset(tiers), report.duration, ray, report.when)
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.phases:
            return
        terminalreporter.section("time by tier")
        for line in summary_lines(tier_times(self.phases)):
            terminalreporter.write_line(line)
        workers = getattr(self.config.option, "numprocesses", None)
        if workers:  # xdist's -n: the tiers above ran side by side
            wall = time.perf_counter() - self.started
            terminalreporter.write_line(
                f"(sums over all {workers} xdist workers; the session's wall time {wall:.1f} s)"
            )
