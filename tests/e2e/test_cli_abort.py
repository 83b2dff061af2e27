"""``airfoil executions abort ID`` from another terminal stops a local run that a live
process drives, as ``--remote`` stops a server's: on main it was refused ("being driven by
another engine"), leaving Ctrl-C in the driving terminal as the only way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import os
    import time
    import airfoil as af

    @af.task
    def first(x: int) -> int:
        return x + 1

    @af.task
    def slow(x: int) -> int:
        open(os.environ["MARK"], "a").write("slow started\\n")
        time.sleep(float(os.environ["SLOW_S"]))
        open(os.environ["MARK"], "a").write("slow ended\\n")
        return x

    @af.task
    def after(x: int) -> int:
        open(os.environ["MARK"], "a").write("after ran\\n")
        return x

    @af.workflow
    def wf(x: int = 1) -> int:
        return after(x=slow(x=first(x=x)))
    """
)


@pytest.mark.parametrize(("executor", "slow_s"), [("process", 120), ("inline", 6)])
def test_abort_stops_a_run_another_process_drives(
    cli: Any, tmp_path: Path, executor: str, slow_s: int
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    mark = tmp_path / "mark.txt"
    env = {"MARK": str(mark), "SLOW_S": str(slow_s)}
    command = ["run", "--json", "--name", "long-1", "--executor", executor, "flow.py", "wf"]
    run = subprocess.Popen(  # the driving terminal (AIRFOIL_HOME: the test's, as cli's)
        [sys.executable, "-m", "airfoil.cli", *command],
        cwd=tmp_path,
        env=dict(os.environ, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (mark.exists() and "slow started" in mark.read_text()):
            assert time.monotonic() < deadline and run.poll() is None, run.stderr
            time.sleep(0.1)
        started = time.monotonic()
        aborted = cli("executions", "abort", "long-1", env=env)  # another terminal
        out, err = run.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if run.poll() is None:
            run.kill()
    assert aborted.code == 0, aborted.err
    assert "execution long-1 aborted" in aborted.err
    assert run.returncode == 1, err  # the run's own exit: ended, not succeeded
    data = json.loads(out)
    assert data["phase"] == "aborted"
    phases = {n["task"].rsplit(".", 1)[-1]: n["phase"] for n in data["nodes"]}
    assert phases == {"first": "succeeded", "slow": "aborted", "after": "aborted"}
    assert "after ran" not in mark.read_text()
    if executor == "process":  # the worker running slow is stopped, not waited for
        assert "slow ended" not in mark.read_text()
        assert took < 60
