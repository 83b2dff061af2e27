"""The process executor from the CLI: parallel independent nodes, timeouts, capacity checks."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FLOW = textwrap.dedent(
    """
    import time
    import airfoil as af

    @af.task(requests=af.Resources(cpu="500m"))
    def nap(i: int) -> float:
        start = time.time()
        time.sleep(1.0)
        return start

    @af.task
    def spread(starts: list[float]) -> float:
        return max(starts) - min(starts)

    @af.workflow
    def parallel() -> float:
        return spread(starts=[nap(i=0), nap(i=1)])

    @af.task(timeout="1s", system_retries=1)
    def stuck(x: int) -> int:
        while True:
            try:
                time.sleep(100)
            except BaseException:
                pass

    @af.workflow
    def hangs() -> int:
        return stuck(x=1)

    @af.task(requests=af.Resources(cpu=10_000))
    def greedy(x: int) -> int:
        return x

    @af.workflow
    def too_big() -> int:
        return greedy(x=1)
    """
)


@pytest.fixture
def flow(tmp_path: Path) -> str:
    path = tmp_path / "procflow.py"
    path.write_text(FLOW)
    return str(path)


def test_independent_nodes_run_in_parallel(cli: Any, flow: str) -> None:
    t0 = time.perf_counter()
    r = cli("run", "--executor", "process", "--json", flow, "parallel")
    assert r.code == 0, r.err
    data = r.json()
    assert data["outputs"]["o0"] < 0.5, "both naps started together"
    assert time.perf_counter() - t0 < 30


def test_timeout_stops_a_stuck_task_and_retries_on_the_system_budget(cli: Any, flow: str) -> None:
    r = cli("run", "--executor", "process", "--json", flow, "hangs", timeout=60)
    assert r.code == 1
    data = r.json()
    (node,) = data["nodes"]
    assert node["attempts"] == 2 and node["error"]["type"] == "TaskTimeoutError"
    assert data["error"]["kind"] == "system"


def test_a_task_that_could_never_start_fails_at_launch(cli: Any, flow: str) -> None:
    r = cli("run", "--executor", "process", flow, "too_big")
    assert r.code == 2
    assert "could never start" in r.err and "Traceback" not in r.err
