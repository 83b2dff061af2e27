"""Kill the engine with SIGKILL mid-run; `airfoil executions resume` finishes the execution
without re-running any node that had succeeded and with no half-written output."""

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

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["CALLS_LOG"]

    def mark(what):
        with open(LOG, "a") as fh:
            fh.write(what + "\\n")
            fh.flush()
            os.fsync(fh.fileno())

    @af.task
    def step(i: int, prev: str) -> str:
        mark(f"start {i}")
        if i == 2 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)  # killed here on the first run
        mark(f"end {i}")
        return prev + f"-{i}"

    @af.workflow
    def chain(n: int = 4) -> str:
        out = step(i=0, prev="s")
        out = step(i=1, prev=out)
        out = step(i=2, prev=out)
        return step(i=3, prev=out)
    """
)


@pytest.mark.parametrize("executor", ["inline", "process"])
@pytest.mark.timeout(120)
def test_sigkill_then_resume(tmp_path: Path, executor: str) -> None:
    if executor == "process":
        pytest.importorskip("airfoil.executors.process")
    script = tmp_path / "chainwf.py"
    script.write_text(SCRIPT)
    log = tmp_path / "calls.log"
    env = dict(os.environ, CALLS_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))
    cmd = [
        sys.executable,
        "-m",
        "airfoil.cli",
        "run",
        "--name",
        "crash1",
        "--executor",
        executor,
        str(script),
        "chain",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if log.exists() and "start 2" in log.read_text():
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"step 2 never started: {proc.stderr.read() if proc.stderr else ''}")
    os.killpg(proc.pid, signal.SIGKILL)  # the engine and any worker, at once
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert log.read_text().splitlines() == ["start 0", "end 0", "start 1", "end 1", "start 2"]

    (tmp_path / "calls.log.resumed").write_text("")
    resumed = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "executions", "resume", "crash1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert data["phase"] == "succeeded"
    assert data["outputs"] == {"o0": "s-0-1-2-3"}
    calls = log.read_text().splitlines()
    # Steps 0 and 1 ran once; step 2 ran again (its attempt was lost), then step 3.
    assert calls[5:] == ["start 2", "end 2", "start 3", "end 3"]
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["n0"]["attempts"] == 1 and nodes["n1"]["attempts"] == 1
    assert nodes["n2"]["attempts"] == 2
    blobs = tmp_path / "home" / "blobs"
    leftovers = [p for p in blobs.rglob("*") if ".tmp-" in p.name] if blobs.exists() else []
    assert leftovers == []
