"""A local ``airfoil run`` on PostgreSQL through the same outages as the server's (10 s,
and 60 s: slow): it waits, then finishes, each step run once."""

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


@pytest.mark.parametrize("outage_s", [10, pytest.param(60, marks=pytest.mark.slow)])
def test_local_run_on_postgres_waits_out_an_outage(
    scratch_db: tuple[str, str], pg_admin: sa.Engine, tmp_path: Path, outage_s: int
) -> None:
    url, name = scratch_db
    (tmp_path / "faultflow.py").write_text(FAULT_FLOW)
    log = tmp_path / "runs.log"
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_DATABASE_URL=url,
    )
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
