"""``/readyz`` answers without a key, so it names no execution: while a database outage holds
executions paused it says how many (on main it listed their ids, every project's, to anyone
who could reach the port). The paused set is filled here as an outage past the store's retry
budget leaves it (``test_db_faults_outage`` makes a real one; its window between the
database answering again and the executions resuming is too short to read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import start_server

pytestmark = pytest.mark.integration


def test_readyz_counts_paused_executions_without_naming_them(tmp_path: Path, flow: Any) -> None:
    from airfoil.client import Client

    running = start_server(tmp_path, None)
    try:
        key = running.deps.registry.create_key("alpha", "runner")[1]
        with Client(running.url, key, project="alpha") as c:
            c.register([flow.wf])
            ex = c.launch(flow.wf, {"x": 1})
            c.wait(ex.id, timeout=60)
        driver = running.deps.driver
        driver.paused.add(ex.id)
        try:
            r = httpx.get(running.url + "/readyz", timeout=30)
        finally:
            driver.paused.discard(ex.id)
        assert httpx.get(running.url + "/readyz", timeout=30).status_code == 200
    finally:
        running.stop()
    assert r.status_code == 503
    assert ex.id not in r.text, r.text
    assert r.json()["error"]["message"] == "1 execution(s) paused until the database answers"
