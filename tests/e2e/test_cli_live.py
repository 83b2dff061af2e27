"""The live view as a user sees it, in a pseudo-terminal: never stale while a gate waits,
the command that answers the gate on screen, durations that tick, big graphs as a summary
that fits the terminal, and Ctrl-C ending with how to resume."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

AIRFOIL = [sys.executable, "-m", "airfoil.cli"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")

GATED = textwrap.dedent(
    """
    from datetime import timedelta
    import airfoil as af

    @af.task
    def prepare(x: int) -> int:
        return x + 1

    @af.task
    def use(x: int, t: float) -> float:
        return x * t

    @af.workflow
    def gated(x: int = 1) -> float:
        a = prepare(x=x)
        t = af.wait_for_input("threshold", timeout=timedelta(seconds=60), expected_type=float)
        return use(x=a, t=t)
    """
)

WIDE = textwrap.dedent(
    """
    import time
    import airfoil as af

    @af.task
    def step(x: int) -> int:
        time.sleep(0.01)
        return x + 1

    @af.workflow
    def wide(x: int = 0) -> int:
        for _ in range(60):
            x = step(x=x)
        return x
    """
)


class Terminal:
    """A process whose stdout and stderr are a pseudo-terminal of ``rows`` x ``cols``."""

    def __init__(self, cmd: list[str], env: dict[str, str], rows: int, cols: int) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.raw = bytearray()
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL
        )
        os.close(slave)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw += data

    def text(self) -> str:
        with self.lock:
            return _ANSI.sub("", self.raw.decode(errors="replace"))

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.text()
            if re.search(pattern, text):
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never shown; screen so far:\n{self.text()[-3000:]}")

    def close(self) -> int:
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=5)
        os.close(self.master)
        return code


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    e = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"), TERM="xterm-256color")
    e.pop("COLUMNS", None)
    e.pop("LINES", None)
    yield e


def test_gate_wait_shows_finished_node_and_signal_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "gated.py").write_text(GATED)
    term = Terminal(
        [*AIRFOIL, "run", "--name", "g1", str(tmp_path / "gated.py"), "gated"], env, 30, 140
    )
    try:
        term.wait_for(r"airfoil signal g1 threshold VALUE")
        time.sleep(1.0)  # several refreshes while nothing changes in the engine
        text = term.text()
        frame = text[text.rindex("gated.gated") :]  # the latest frame
        assert re.search(r"n0\s+│\s*prepare\s*│\s*succeeded", frame), frame
        # A waiting gate's duration ticks although the engine is idle.
        ticks = re.findall(r"n1\s+│[^│]*│\s*running\s*│[^│]*│\s*([0-9.]+)s", text)
        assert len(set(ticks)) >= 2, ticks
        sent = subprocess.run(
            [*AIRFOIL, "signal", "g1", "threshold", "2.5"], env=env, capture_output=True
        )
        assert sent.returncode == 0, sent.stderr
    finally:
        code = term.close()
    assert code == 0, term.text()[-2000:]
    assert "execution g1 succeeded" in term.text()


def test_big_graph_is_a_summary_that_fits_the_terminal(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "wide.py").write_text(WIDE)
    term = Terminal([*AIRFOIL, "run", str(tmp_path / "wide.py"), "wide"], env, 20, 100)
    code = term.close()
    text = term.text()
    assert code == 0, text[-2000:]
    assert "60/60 nodes finished" in text and "succeeded 60" in text
    assert "%" in text  # the progress bar's figure
    assert "│ n59" not in text  # no 60-row table pushed past a 20-row terminal


def test_ctrl_c_prints_the_resume_hint(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "gated.py").write_text(GATED)
    term = Terminal(
        [*AIRFOIL, "run", "--name", "c1", str(tmp_path / "gated.py"), "gated"], env, 30, 140
    )
    term.wait_for(r"airfoil signal c1 threshold")
    term.proc.send_signal(signal.SIGINT)
    code = term.close()
    assert code == 130
    assert "airfoil executions resume c1" in term.text()
    # No process drives it now: listed as interrupted, not running forever.
    listed = subprocess.run(
        [*AIRFOIL, "executions", "list"], env=env, capture_output=True, text=True
    )
    row = next(line for line in listed.stdout.splitlines() if "c1" in line)
    assert "interrupted" in row and "running" not in row
    shown = subprocess.run(
        [*AIRFOIL, "executions", "show", "c1"], env=env, capture_output=True, text=True
    )
    assert "interrupted" in shown.stdout and "airfoil executions resume c1" in shown.stdout
