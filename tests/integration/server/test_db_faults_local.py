"""A local ``airfoil run`` on PostgreSQL through a 10 s outage of its database: it waits,
then finishes, each step run once. Once within its lease (30 s, the default), once past it
(``AIRFOIL_LEASE_TTL_S=3``: the lease lapses during the outage and the run's heartbeat takes
it back when the database answers again). The second was a 60 s outage past the default
lease: a minute of the suite's time for the same path."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from _db_faults import FAULT_FLOW, Outage, task_lines, wait_for

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize(
    ("outage_s", "lease_ttl_s"), [(10, None), (10, 3)], ids=["within-lease", "past-lease"]
)
def test_local_run_on_postgres_waits_out_an_outage(
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    tmp_path: Path,
    outage_s: int,
    lease_ttl_s: int | None,
) -> None:
    url, name = scratch_db
    (tmp_path / "faultflow.py").write_text(FAULT_FLOW)
    log = tmp_path / "runs.log"
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_DATABASE_URL=url,
    )
    if lease_ttl_s is not None:
        env["AIRFOIL_LEASE_TTL_S"] = str(lease_ttl_s)
    args = ["--tag", "local", "--path", str(log), "--seconds", "1.0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "run", "faultflow.py", "chain", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    outage = Outage(pg_admin, name)
    try:
        wait_for(lambda: len(task_lines(log)) >= 1, 60, "the run to start")
        held_s = _lease_left(url)
        if lease_ttl_s is None:
            assert outage_s < held_s - 5, held_s  # the lease outlives the outage
        else:  # the run holds the short lease: it lapses during the outage
            assert held_s <= lease_ttl_s < outage_s, held_s
        outage.begin()
        try:
            time.sleep(outage_s)
            assert proc.poll() is None  # still waiting for the database, not dead
        finally:
            outage.end()
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.decode()
    assert task_lines(log) == collections.Counter({"local a": 1, "local b": 1, "local c": 1})


def _lease_left(url: str) -> float:
    """How long the (one) execution's lease on ``url`` holds from now, in seconds."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            expires = conn.execute(sa.text("SELECT lease_expires_at FROM executions")).scalar_one()
    finally:
        engine.dispose()
    return float(expires) - time.time()
