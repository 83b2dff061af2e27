"""The scheduler loop runs inside `airfoil server start`: activated schedules fire there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _srv import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLAN = textwrap.dedent(
    """
    from datetime import timedelta
    import airfoil as af

    @af.task
    def tick(n: int) -> int:
        return n + 1

    @af.workflow
    def wf(n: int = 1) -> int:
        return tick(n=n)

    every_second = af.LaunchPlan.get_or_create(
        wf, "every-second", fixed_inputs={"n": 41}, schedule=af.FixedRate(timedelta(seconds=1))
    )
    """
)


@pytest.mark.timeout(90)
def test_server_fires_activated_schedules(tmp_path: Path) -> None:
    plan = tmp_path / "plans.py"
    plan.write_text(PLAN)
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    activated = subprocess.run(
        [*cli, "schedules", "activate", str(plan), "every_second"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert activated.returncode == 0, activated.stderr
    server = subprocess.Popen(
        [*cli, "server", "start", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 45
        done: list[dict[str, object]] = []
        while time.time() < deadline and not done:
            time.sleep(0.5)
            listed = subprocess.run(
                [*cli, "executions", "list", "--json"], env=env, capture_output=True, text=True
            )
            if listed.returncode == 0:
                done = [e for e in json.loads(listed.stdout) if e["phase"] == "succeeded"]
        assert done, "no scheduled execution succeeded within 45 s"
        assert done[0]["outputs"] == {"o0": 42}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
