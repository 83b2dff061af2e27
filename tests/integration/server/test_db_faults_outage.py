"""A server whose database refuses every connection for a while (``ALTER DATABASE ...
ALLOW_CONNECTIONS false`` on a scratch database, and its backends killed), on the real
PostgreSQL: running executions pause, then finish; ``/readyz`` goes unready, then ready
again. Once within the store's retry budget (nothing runs twice), once past it (the slots
pause their executions and resume them), and once for 60 s (slow)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _db_faults import server_outage, task_lines
from _srv import Running

pytestmark = [pytest.mark.integration]


RideOut = Callable[..., AbstractContextManager[Running]]


@pytest.fixture
def ride_out(
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    fault_flow: Any,
    server_home: Path,
    tmp_path: Path,
) -> RideOut:
    """``ride_out(outage_s=..., budget_s=...)``: ``server_outage`` on this test's scratch
    database, its tasks logging to ``tmp_path/runs.log``."""
    log = tmp_path / "runs.log"
    return functools.partial(server_outage, scratch_db, pg_admin, fault_flow, server_home, log)


def test_outage_within_the_retry_budget_pauses_and_reruns_nothing(
    ride_out: RideOut, tmp_path: Path
) -> None:
    with ride_out(outage_s=10, budget_s=120) as running:
        assert max(task_lines(tmp_path / "runs.log").values()) == 1  # nothing ran twice
        assert running.deps.driver.paused == set()


def test_outage_past_the_retry_budget_pauses_the_drive_and_resumes_it(ride_out: RideOut) -> None:
    with ride_out(outage_s=10, budget_s=2) as running:
        metrics = httpx.get(f"{running.url}/metrics", timeout=10).text
        pauses = [
            line for line in metrics.splitlines() if line.startswith("airfoil_driver_pauses_total")
        ]
        assert pauses and float(pauses[0].split()[-1]) >= 1  # the slots did pause


@pytest.mark.slow
def test_a_minute_long_outage_is_ridden_out(ride_out: RideOut, tmp_path: Path) -> None:
    with ride_out(outage_s=60, budget_s=120):
        assert max(task_lines(tmp_path / "runs.log").values()) == 1
