"""Replay the real Philly week: the ``airfoil`` policy against strict FIFO (issue 5 budgets).

On 8 nodes x 8 GPUs at load 1.0, ``airfoil``'s average JCT must be at least 5x better than
FIFO's, and jobs of more than 8 GPUs must wait no longer on average than under FIFO, with
exact run-time estimates and with estimates off by up to 2x either way.

The trace is found through ``$AIRFOIL_TRACE`` or at ``../shared/data/philly_week45.csv``
from the repository root; the test is skipped when neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airfoil.scheduler.sim import SimConfig, load_trace, simulate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _trace_path() -> Path | None:
    env = os.environ.get("AIRFOIL_TRACE")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data" / "philly_week45.csv")
    return next((path for path in candidates if path.is_file()), None)


@pytest.fixture(scope="module")
def trace_file() -> Path:
    path = _trace_path()
    if path is None:
        pytest.skip(
            "Philly trace not found: set AIRFOIL_TRACE or provide "
            "../shared/data/philly_week45.csv next to the repository"
        )
    return path


@pytest.mark.parametrize("estimate_error", [0.0, 1.0])
def test_airfoil_beats_fifo_5x_on_jct_without_making_large_gangs_wait_longer(
    trace_file: Path, estimate_error: float
) -> None:
    trace = load_trace(trace_file)
    assert len(trace.jobs) == 5867
    config = SimConfig(nodes="8x8gpu", load=1.0, estimate_error=estimate_error, seed=0)
    fifo = simulate(trace, "fifo", config).metrics
    airfoil = simulate(trace, "airfoil", config).metrics
    assert fifo.large_gang_jobs == airfoil.large_gang_jobs == 21
    assert airfoil.avg_jct_s * 5 <= fifo.avg_jct_s, (airfoil.avg_jct_s, fifo.avg_jct_s)
    assert fifo.large_gang_avg_wait_s is not None and airfoil.large_gang_avg_wait_s is not None
    assert airfoil.large_gang_avg_wait_s <= fifo.large_gang_avg_wait_s
    assert airfoil.preemptions_per_job == 0.0  # no quotas, so nothing to reclaim
