"""A server that rides out killed database connections, on the real PostgreSQL: the
server's connections are killed (``pg_terminate_backend``) 20 times at random moments while
20 executions run: all 20 succeed, none is aborted, no node runs twice (each task logs its
start: ``_db_faults``)."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _db_faults import kill_backends, new_client, task_lines
from _srv import start_server

pytestmark = [pytest.mark.integration]


def test_killed_connections_abort_nothing_and_rerun_nothing(
    pg_new_schema: Any, pg_admin: sa.Engine, fault_flow: Any, server_home: Path, tmp_path: Path
) -> None:
    app_name = f"airfoil-fault-{uuid.uuid4().hex[:8]}"
    running = start_server(server_home, f"{pg_new_schema()}&application_name={app_name}")
    log = tmp_path / "runs.log"
    try:
        with new_client(running) as client:
            client.register([fault_flow.chain])
            ids = [
                client.launch(fault_flow.chain, {"tag": f"t{i}", "path": str(log)}).id
                for i in range(20)
            ]
            rng = random.Random(7)
            killed = 0
            for _ in range(20):  # at random points of the run
                time.sleep(rng.uniform(0.05, 0.5))
                killed += kill_backends(pg_admin, "application_name", f"{app_name}-api")
            assert killed >= 20  # every round found the server's connections
            details = [client.wait(i, timeout=180) for i in ids]
        assert [d.phase for d in details] == ["succeeded"] * 20
        runs = task_lines(log)
        assert set(runs) == {f"t{i} {s}" for i in range(20) for s in "abc"}
        assert [k for k, n in runs.items() if n > 1] == []  # no node ran twice
        assert running.deps.meta.retries >= 1  # the kills were noticed and ridden out
    finally:
        running.stop()
