"""The server's driver slots report to the hooks it was given (attempts and the commands
their loops carry out), and its events endpoint shows each entry's cause id."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _srv import Running, start_server

from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.hooks import Hooks

pytestmark = pytest.mark.integration


class Recorder(Hooks):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: list[tuple[str, str, int, str]] = []
        self.commands: list[tuple[str, str, str, int]] = []

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        return {"traceparent": f"00-{request.execution_id}-{request.node_id}"}

    def attempt_started(self, request: AttemptRequest) -> None:
        with self.lock:
            self.attempts.append((request.execution_id, request.node_id, request.attempt, ""))

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        with self.lock:
            outcome = result.error.type if result.error else "ok"
            self.attempts.append((request.execution_id, request.node_id, request.attempt, outcome))

    def command_carried_out(self, execution_id: str, command: object, cause: int) -> None:
        node = str(getattr(command, "node_id", ""))
        with self.lock:
            self.commands.append((execution_id, type(command).__name__, node, cause))


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Recorder]]:
    hooks = Recorder()
    running = start_server(tmp_path_factory.mktemp("hooked"), None, hooks=hooks)
    try:
        yield running, hooks
    finally:
        running.stop()


def test_driver_slots_run_attempt_and_command_hooks(
    hooked: tuple[Running, Recorder], flow: Any
) -> None:
    from airfoil.client import Client

    running, hooks = hooked
    with Client(running.url, project=f"p{uuid.uuid4().hex[:6]}") as client:
        client.register([flow.wf])
        ex = client.launch(flow.wf, {"x": 2})
        detail = client.wait(ex.id, timeout=60)
        assert detail.phase == "succeeded", detail.error
        url = f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}/events"
        events = httpx.get(url, timeout=30).json()["items"]

    with hooks.lock:
        attempts = sorted(a[1:] for a in hooks.attempts if a[0] == ex.id)
        commands = [c[1:] for c in hooks.commands if c[0] == ex.id]
    # Each of the three tasks started and ended once, in the slot's worker processes.
    assert attempts == [
        ("n0", 1, ""),
        ("n0", 1, "ok"),
        ("n1", 1, ""),
        ("n1", 1, "ok"),
        ("n2", 1, ""),
        ("n2", 1, "ok"),
    ]
    # Every command the loop carried out was reported once, with the entry it follows from.
    by_seq = {e["seq"]: e for e in events}
    starts = [c for c in commands if c[0] == "StartAttempt"]
    assert sorted(c[1] for c in starts) == ["n0", "n1", "n2"]
    for _, node, cause in starts:
        entry = by_seq[cause]
        assert (entry["node_id"], entry["to_phase"]) == (node, "running")
    assert commands[-1][0] == "Finished"
    assert by_seq[commands[-1][2]]["to_phase"] == "succeeded"

    # The events endpoint shows the cause ids: a node's success names its attempt's result.
    for e in events:
        assert 0 <= e.get("cause_id", 0) < e["seq"]
    done = [e for e in events if (e["kind"], e["node_id"]) == ("node", "n2")][-1]
    result = by_seq[done["cause_id"]]
    assert (result["kind"], result["node_id"], result["to_phase"]) == ("attempt", "n2", "succeeded")
