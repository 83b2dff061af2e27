"""A local ``airfoil run`` shows what its tasks print, prefixed by node, while they run (not
only in ``airfoil logs``); a gate that waits says so, with the ``airfoil signal`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

AIRFOIL = [sys.executable, "-m", "airfoil.cli"]

FLOW = """
import sys, time
from datetime import timedelta
import airfoil as af

@af.task
def step(n: int) -> int:
    for i in range(3):
        print(f"step {n} tick {i}", flush=True)
        time.sleep(0.3)
    print("to stderr", file=sys.stderr)
    return n + 1

@af.task
def boom(n: int) -> int:
    print("about to fail")
    raise ValueError("nope")

@af.workflow
def wf(n: int = 1) -> int:
    return step(n=step(n=n))

@af.workflow
def bad() -> int:
    return boom(n=1)

@af.task
def slow(n: int) -> int:
    for i in range(4):
        print(f"slow {n} tick {i}", flush=True)
        time.sleep(0.4)
    return n

@af.workflow
def gated() -> int:
    ok = af.approve(slow(n=5), "go-ahead", timeout=timedelta(seconds=60))
    return step(n=ok)
"""


@pytest.fixture
def flow(tmp_path: Path) -> str:
    path = tmp_path / "chatty.py"
    path.write_text(FLOW)
    return str(path)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_task_output_is_shown_prefixed_by_node(cli: Any, flow: str, executor: str) -> None:
    res = cli("run", "-e", executor, flow, "wf")
    assert res.code == 0, res.err
    lines = [ln for ln in res.err.splitlines() if ln.startswith("[")]
    assert lines == [
        "[n0 step] step 1 tick 0",
        "[n0 step] step 1 tick 1",
        "[n0 step] step 1 tick 2",
        "[n0 step] to stderr",
        "[n1 step] step 2 tick 0",
        "[n1 step] step 2 tick 1",
        "[n1 step] step 2 tick 2",
        "[n1 step] to stderr",
    ]
    assert res.out.strip().endswith("}")  # stdout keeps only the outputs


def test_a_failing_task_shows_its_output_and_the_error_once(cli: Any, flow: str) -> None:
    res = cli("run", flow, "bad")
    assert res.code == 1
    assert "[n0 boom] about to fail" in res.err
    assert res.err.count('raise ValueError("nope")') == 1, res.err


def test_output_is_shown_while_the_task_runs_and_a_gate_names_its_command(
    flow: str, tmp_path: Path, _airfoil_home: Path
) -> None:
    env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home), COLUMNS="200")
    with subprocess.Popen(
        [*AIRFOIL, "run", flow, "gated"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as proc:
        assert proc.stderr is not None
        try:
            err = _answer_the_gate(proc, env, tmp_path)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "[n2 step] step 5 tick 0" in err


def _answer_the_gate(proc: Any, env: dict[str, str], cwd: Path) -> str:
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append((time.monotonic(), line.rstrip("\n")))
        if line.startswith("waiting:") or not line:
            break
    text = [s for _, s in seen]
    ticks = [t for t, s in seen if s.startswith("[n0 slow] slow 5 tick")]
    assert len(ticks) == 4, text
    assert ticks[-1] - ticks[0] > 0.5, text  # shown while it ran, not all at its end
    match = re.search(r"airfoil signal (\S+) go-ahead true\|false", text[-1])
    assert match, text
    sent = subprocess.run(
        [*AIRFOIL, "signal", match.group(1), "go-ahead", "true"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    _, err = proc.communicate(timeout=60)
    return str(err)


SCRIPT = """
from datetime import timedelta
import airfoil as af

@af.task
def one() -> int:
    return 1

@af.workflow
def gated() -> int:
    return af.approve(one(), "go-ahead", timeout=timedelta(seconds=60))

if __name__ == "__main__":
    print("result", gated())
"""


def test_a_script_blocked_on_a_gate_says_so(tmp_path: Path, _airfoil_home: Path) -> None:
    script = tmp_path / "gate_script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home))
    with subprocess.Popen(
        [sys.executable, str(script)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as proc:
        try:
            line = proc.stderr.readline() if proc.stderr else ""
            match = re.search(r"airfoil signal (\S+) go-ahead true\|false", line)
            assert match, line
            sent = subprocess.run(
                [*AIRFOIL, "signal", match.group(1), "go-ahead", "true"],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stderr
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "result 1"
