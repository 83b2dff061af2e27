"""The ``airfoil signal`` command a waiting gate prints answers that very run, through a
real interrupted run (tests/unit/cli/test_gate_hints.py tests the wording alone): ``twin``
runs in development and, gated, in staging; its driver is interrupted (Ctrl-C) while the
gate waits; from
development, ``executions resume twin --domain staging`` names the run ``twin (staging)``
and prints the gate's command with ``--domain staging`` (main: nothing, the resumed gate
changed nothing the hint is printed on; and the run's global id), a second Ctrl-C says to
go on with ``executions resume twin --domain staging``, and the gate's command, run as
printed from development, lets staging's run finish. The bare name addresses development's
``twin`` (which already ended)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AIRFOIL = [sys.executable, "-m", "airfoil.cli"]

FLOW = """
from datetime import timedelta
import airfoil as af

@af.task
def step(n: int) -> int:
    return n + 1

@af.workflow
def plain(n: int = 1) -> int:
    return step(n=n)

@af.workflow
def gated(n: int = 5) -> int:
    ok = af.approve(step(n=n), "go-ahead", timeout=timedelta(seconds=120))
    return step(n=ok)
"""


def _env(home: Path, domain: str) -> dict[str, str]:
    return dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_DOMAIN=domain, COLUMNS="200")


def _start(home: Path, cwd: Path, *args: str, domain: str = "development") -> Any:
    """``airfoil ARGS`` in ``domain``, in a session of its own (Ctrl-C: its group)."""
    return subprocess.Popen(
        [*AIRFOIL, *args], env=_env(home, domain), cwd=cwd, stderr=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _until_waiting(proc: Any) -> str:
    """The ``waiting:`` line ``proc`` prints on stderr once its gate waits."""
    deadline = time.monotonic() + 90
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "waits for 'go-ahead'" in line or not line:
            break
    assert "waits for 'go-ahead'" in seen[-1], "".join(seen)
    return str(seen[-1])


def test_a_gate_resumed_from_another_domain_prints_the_command_that_answers_it(
    tmp_path: Path, _airfoil_home: Path, cli: Any
) -> None:
    home = _airfoil_home
    (tmp_path / "flow.py").write_text(FLOW)
    ran = subprocess.run([*AIRFOIL, "run", "--name", "twin", "flow.py", "plain"],
                         env=_env(home, "development"), cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    staging = _start(home, tmp_path, "run", "--name", "twin", "flow.py", "gated", domain="staging")
    try:
        _until_waiting(staging)
    finally:
        os.killpg(staging.pid, signal.SIGINT)  # Ctrl-C while the gate waits
        staging.communicate(timeout=60)
    dev = {"AIRFOIL_DOMAIN": "development"}
    listed = cli("executions", "list", "--phase", "interrupted", env=dev)
    assert "twin (staging)" in listed.out, listed.out + listed.err
    # from development: the resume names the run and its gate's command names its domain
    resumed = _start(home, tmp_path, "executions", "resume", "twin", "--domain", "staging")
    try:
        first = resumed.stderr.readline()
        assert first.strip() == "execution twin (staging) resumes", first  # main: its id
        line = _until_waiting(resumed)  # main: nothing (the resumed gate changed nothing)
        hint = line[line.index("airfoil signal") :].strip()
        assert hint == "airfoil signal twin go-ahead true|false --domain staging", line
        os.killpg(resumed.pid, signal.SIGINT)  # interrupted again: how to go on, exactly
        _, err = resumed.communicate(timeout=60)
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
    again = "airfoil executions resume twin --domain staging"
    assert err.rstrip().endswith(f"continue it with: {again}"), err
    resumed = _start(home, tmp_path, *shlex.split(again)[1:])
    try:
        line = _until_waiting(resumed)
        assert line.rstrip().endswith(hint), line
        # the bare name is development's twin, which ended: no gate of it waits
        bare = subprocess.run([*AIRFOIL, "signal", "twin", "go-ahead", "true"],
                              env=_env(home, "development"), cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert bare.returncode != 0, bare.stdout + bare.stderr
        # the command as printed, from development, answers staging's run
        args = shlex.split(hint.replace("true|false", "true"))[1:]
        sent = subprocess.run([*AIRFOIL, *args], env=_env(home, "development"), cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        _, err = resumed.communicate(timeout=90)
        assert resumed.returncode == 0, err
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
    shown = cli("executions", "show", "twin", "--domain", "staging", "--json",
                env={"AIRFOIL_DOMAIN": "development"})  # fmt: skip
    assert '"phase": "succeeded"' in shown.out, shown.out
    dev = cli("executions", "show", "twin", "--json", env={"AIRFOIL_DOMAIN": "development"})
    assert '"workflow": "flow.plain"' in dev.out, dev.out
