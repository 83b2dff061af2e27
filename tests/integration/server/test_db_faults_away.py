"""What answers while the database is away (a scratch database closed to connections):
the registry store raises a transient error naming it, then reconnects without a restart;
a server stopped during the outage ends soon and leaves no process behind."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _db_faults import Outage, readyz, task_lines, wait_for

pytestmark = [pytest.mark.integration]


def test_registry_store_says_when_the_database_is_away(
    scratch_db: tuple[str, str], pg_admin: sa.Engine
) -> None:
    from airfoil.core.errors import TransientStoreError
    from airfoil.store.sql import SqlRegistryStore

    url, name = scratch_db
    store = SqlRegistryStore(url)
    outage = Outage(pg_admin, name)
    try:
        store.ensure_project("kept", now=1.0)
        outage.begin()
        try:
            with pytest.raises(TransientStoreError, match="registry"):
                store.list_projects()
        finally:
            outage.end()
        assert store.list_projects() == [("kept", "", 1.0)]  # a fresh connection, no restart
    finally:
        store.close()


def test_a_server_stopped_during_an_outage_ends_soon_and_leaves_no_process(
    scratch_db: tuple[str, str], pg_admin: sa.Engine, fault_flow: Any, tmp_path: Path
) -> None:
    """SIGTERM to ``airfoil server start`` while its database refuses every connection: what
    its stop asks of the database (leases handed back, buffered history) gives up rather
    than retry for the store's budget (120 s a call), and its engine process and workers are
    gone with it. ``--stop-grace 2``: the engine process, whose slots wait out the database,
    is killed 7 s in, not 15 (the path is the default's; the bound below is the API
    process's own)."""
    import psutil
    from _srv import ServerProcess

    from airfoil.client import Client

    url, name = scratch_db
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_PACKAGE_CACHE=str(tmp_path / "packages"),
    )
    server = ServerProcess(tmp_path, "--database-url", url, "--stop-grace", "2", env=env)
    try:
        log = tmp_path / "runs.log"
        with Client(server.url, project="outage") as client:
            client.register([fault_flow.chain])
            client.launch(fault_flow.chain, {"tag": "t", "path": str(log), "seconds": 60.0})
            wait_for(lambda: len(task_lines(log)) >= 1, 60, "the execution to start")
        tree = psutil.Process(server.proc.pid).children(recursive=True)
        assert tree
        Outage(pg_admin, name).begin()
        wait_for(lambda: readyz(server.url) == 503, 30, "/readyz to say unready")
        started = time.monotonic()
        server.stop(timeout=90)  # fails, naming what was still alive, past 90 s
        print(f"stopped in {time.monotonic() - started:.1f} s")
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        assert not alive, f"still running after the server stopped: {alive}"
    finally:
        server.stop()
