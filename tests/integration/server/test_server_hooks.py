"""The server's driver slots build their executors with the server's one runtime, so the
hooks given to ``ServerConfig`` are told about the attempts the slots run, and the context
they add travels with each attempt, as for local runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _srv import Running, start_server

from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.hooks import Hooks

pytestmark = pytest.mark.integration


class Recorder(Hooks):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, str]] = []

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        return {"traceparent": f"00-{request.execution_id}-{request.node_id}"}

    def attempt_started(self, request: AttemptRequest) -> None:
        with self.lock:
            self.events.append(("start", request.execution_id, request.node_id))

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        outcome = result.error.type if result.error else "ok"
        with self.lock:
            self.events.append((f"end:{outcome}", request.execution_id, request.node_id))


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[tuple[Running, Recorder]]:
    recorder = Recorder()
    running = start_server(tmp_path / "home", None, hooks=recorder)
    yield running, recorder
    running.stop()


def test_the_slots_attempts_reach_the_servers_hooks(
    hooked: tuple[Running, Recorder], flow: Any
) -> None:
    from airfoil.client import Client

    running, recorder = hooked
    with Client(running.url) as client:
        client.register([flow.wf])
        launched = client.launch("flow.wf", {"x": 4})
        done = client.wait(launched.id, timeout=120)
        assert done.phase == "succeeded"
        assert client.outputs(launched.id, flow.wf) == 16
    with recorder.lock:
        mine = [(kind, node) for kind, eid, node in recorder.events if eid == launched.id]
    nodes = {node for _, node in mine}
    assert len(nodes) == 3  # double, double, add: every attempt told, start then end
    for node in nodes:
        assert [k for k, n in mine if n == node] == ["start", "end:ok"]
