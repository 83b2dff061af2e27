"""(adv23) Two servers on one PostgreSQL database, leases of 2 s, a task of 8 s: the driving
server keeps its lease alive for the whole task (the other never takes the execution over:
the task runs once), and a terminate asked of the other server mid-task ends the run within
seconds, not at the task's end. Real ``airfoil server start`` processes."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from test_failover import _start, _stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LONG = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def long(path: str, seconds: float) -> int:
        with open(path, "a") as fh:
            fh.write("long\\n")
        time.sleep(seconds)
        return 1


    @af.workflow
    def flow(path: str, seconds: float) -> int:
        return long(path=path, seconds=seconds)
    """
)


def _started(marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists() or "long" not in marker.read_text():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)


def test_a_task_longer_than_the_lease_runs_once_and_a_terminate_reaches_it(
    tmp_path: Path, pg_schema_factory: Any
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    db = pg_schema_factory()
    user = tmp_path / "user"
    user.mkdir()
    (user / "longflow.py").write_text(LONG)
    flow = load_entity(str(user / "longflow.py"), "flow")
    a, url_a = _start(tmp_path, db, "a")
    b = None
    try:
        b, url_b = _start(tmp_path, db, "b")
        with Client(url_a, project="long") as ca, Client(url_b, project="long") as cb:
            ca.register([flow])
            once = tmp_path / "once.txt"
            ex = ca.launch(flow, {"path": str(once), "seconds": 8.0})
            detail = cb.wait(ex.id, timeout=90)
            assert detail.phase == "succeeded", detail.error
            assert once.read_text().splitlines() == ["long"]  # never taken over, never re-run
            assert [n.attempts for n in detail.nodes] == [1]

            stopped = tmp_path / "stopped.txt"
            ex = ca.launch(flow, {"path": str(stopped), "seconds": 60.0})
            _started(stopped)
            asked = time.monotonic()
            cb.terminate(ex.id)
            detail = ca.wait(ex.id, timeout=40)
            took = time.monotonic() - asked
            assert detail.phase == "aborted", detail.phase
            assert took < 20, took
            assert stopped.read_text().splitlines() == ["long"]
    finally:
        _stop(a, b)
