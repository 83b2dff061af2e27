"""Ctrl-C in an inline ``airfoil run`` keeps the interrupted attempt's log so far: it is
stored with the task's secrets redacted, as a finished attempt's log is. Before, the kept
log held every value the task had printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from _stored import assert_not_stored

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import pathlib
    import time
    import airfoil as af

    @af.task(secret_requests=["token"])
    def waits(started: str) -> int:
        print("using", af.current_context().secrets["token"], flush=True)
        pathlib.Path(started).touch()
        return time.sleep(300) or 0

    @af.workflow
    def hold(started: str) -> int:
        return waits(started=started)
    """
)


def test_a_log_kept_at_ctrl_c_holds_no_secret(tmp_path: Path) -> None:
    secret = "tok-" + uuid.uuid4().hex
    (tmp_path / "flow.py").write_text(FLOW)
    home, marker = tmp_path / "home", tmp_path / "started"
    env = {**os.environ, "AIRFOIL_HOME": str(home), "AIRFOIL_SECRET_TOKEN": secret}
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "run", "flow.py", "hold", "--started", str(marker)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the task never started"
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    kept = [p for p in home.rglob("*") if p.is_file() and b"Ctrl-C stopped" in p.read_bytes()]
    assert kept, "the interrupted attempt's log was kept"
    assert b"using ***" in kept[0].read_bytes()
    assert_not_stored(home, secret)
    assert secret.encode() not in out  # nor the terminal
