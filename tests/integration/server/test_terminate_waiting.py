"""A terminate request reaches an execution that only waits (at a gate: nothing runs).

The engine's loop slept through such waits without asking its executor, and the executor's
poll is where a server's driver slot reads the execution's terminate requests: an execution
waiting at a gate went on waiting after ``terminate`` until its gate timed out (30 s here;
a gate may wait hours), holding its slot meanwhile. Now it is aborted within the slot's
control period; and a stopping server's slot stops at once, not at the end of its stop bound
(it saw the shutdown only at its executor's polls too).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from _srv import Running, start_server

pytestmark = pytest.mark.integration

#: Well under the gate's own 30 s timeout (``flow.gated``), well over the control period.
ABORTED_WITHIN_S = 15.0


def _until_only_gates_wait(server: Running, eid: str) -> None:
    deadline = time.monotonic() + 60
    while _gates(server, eid) != {"threshold": "running", "ship": "running"}:
        assert time.monotonic() < deadline, "the gates never started waiting"
        time.sleep(0.1)  # then nothing runs: both gates wait, their task has succeeded


def _gates(server: Running, eid: str) -> dict[str, str]:
    """The phase of each gate of an execution, by the gate's name."""
    import httpx

    base = f"{server.url}/api/v1/projects/waiting/executions/{eid}"
    graph = httpx.get(f"{base}/graph", timeout=30).json()
    names = {n["id"]: n["gate"]["name"] for n in graph["nodes"] if n.get("gate")}
    nodes = httpx.get(base, timeout=30).json()["nodes"]
    return {names[n["id"]]: n["phase"] for n in nodes if n["id"] in names}


def test_terminate_aborts_an_execution_waiting_at_its_gate(server: Running, flow: Any) -> None:
    from airfoil.client import Client

    with Client(server.url, project="waiting") as c:
        c.register([flow.gated])
        ex = c.launch(flow.gated, {"x": 5})
        _until_only_gates_wait(server, ex.id)
        c.terminate(ex.id)
        ended = c.wait(ex.id, timeout=ABORTED_WITHIN_S)
        assert ended.phase == "aborted", ended


def test_a_stopping_server_stops_the_slot_of_an_execution_waiting_at_its_gate(
    tmp_path: Any, flow: Any
) -> None:
    """The slot's thread has ended when the driver's stop returns, well inside its bound
    (before: it slept on in the gate's wait, and the stop gave up on it after the bound)."""
    from airfoil.client import Client

    running = start_server(tmp_path / "home", None)
    try:
        with Client(running.url, project="waiting") as c:
            c.register([flow.gated])
            ex = c.launch(flow.gated, {"x": 5})
            _until_only_gates_wait(running, ex.id)
        driver = running.deps.driver
        driver.stop(timeout_s=8.0)
        assert [s.index for s in driver.slots if s.thread.is_alive()] == []
    finally:
        running.stop()
