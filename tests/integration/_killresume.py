"""The kill-and-resume test helper: run a workflow with the CLI as a user would, SIGKILL the
engine (and its workers) at a chosen point, then ``airfoil executions resume`` it.

The workflow script gets ``CALLS_LOG`` in its environment: a file its tasks append to, so a
test can say exactly what ran before the kill and after the resume. ``CALLS_LOG + ".resumed"``
exists once the resume starts (a task can behave differently after the kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KillResume", "kill_and_resume"]


@dataclass
class KillResume:
    """What happened: the calls logged before the kill and after, and the resume's result."""

    before: list[str]
    after: list[str]
    resumed: subprocess.CompletedProcess[str]
    home: Path

    @property
    def data(self) -> dict[str, Any]:
        """The resumed execution, as ``executions resume --json`` prints it."""
        assert self.resumed.returncode == 0, self.resumed.stderr
        out: dict[str, Any] = json.loads(self.resumed.stdout)
        return out

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["id"]: n for n in self.data["nodes"]}


def kill_and_resume(
    tmp_path: Path,
    script: str,
    workflow: str,
    *,
    kill_when: Callable[[list[str]], bool],
    args: tuple[str, ...] = (),
    name: str = "k1",
    executor: str | None = None,
    timeout_s: float = 60.0,
    after_kill: Callable[[Path], None] | None = None,
) -> KillResume:
    """Run ``workflow`` of ``script`` (its source), SIGKILL its process group once
    ``kill_when(calls so far)`` holds, then resume it; see :class:`KillResume`.
    ``after_kill(home)`` runs between the kill and the resume (e.g. to age the database)."""
    path = tmp_path / "killwf.py"
    path.write_text(script)
    log = tmp_path / "calls.log"
    home = tmp_path / "home"
    env = dict(os.environ, CALLS_LOG=str(log), AIRFOIL_HOME=str(home))
    cli = [sys.executable, "-m", "airfoil.cli"]
    options = ["--name", name] + (["--executor", executor] if executor is not None else [])
    command = [*cli, "run", *options, str(path), workflow, *args]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + timeout_s
    try:
        while not kill_when(log.read_text().splitlines() if log.exists() else []):
            if proc.poll() is not None or time.time() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"the kill point was never reached: {err}")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the engine and any worker, at once
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = log.read_text().splitlines()
    if after_kill is not None:
        after_kill(home)
    (tmp_path / "calls.log.resumed").write_text("")
    resumed = subprocess.run(
        [*cli, "executions", "resume", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    after = log.read_text().splitlines()[len(before) :]
    return KillResume(before=before, after=after, resumed=resumed, home=home)
