"""SIGTERM stops ``airfoil server start --executor ray`` gracefully once it has joined Ray.

Ray's core worker installs a failure-signal handler for SIGTERM over uvicorn's when the
server's executor first joins the cluster. Before the fix every SIGTERM went through it first:
a crash-like stack dump (``*** SIGTERM received ... PC: @ ...``) on stderr, and the stop
depended on Ray's handler passing the signal on (an abort, exit 134, was recorded in
docs/ray.md; in this test's runs on the old code the dump appeared and uvicorn's shutdown
still finished). Now only uvicorn's graceful path runs, to its end ("Finished server
process", then it re-raises the signal as every uvicorn server does: exit -15), and the local
Ray the server started is stopped with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from _ray_cluster import needs_ray
from _srv import free_port

pytestmark = needs_ray


@pytest.mark.timeout(300)
def test_sigterm_stops_a_server_on_ray_gracefully_and_its_local_ray_with_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    env = dict(os.environ, AIRFOIL_HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", None)
    env.pop("AIRFOIL_RAY_ADDRESS", None)  # a local Ray, started by the server
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(port),
                "--executor", "ray", "--max-parallel", "1", "--log-level", "info",
            ],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        ray_procs: list[psutil.Process] = []
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server never became ready"
                time.sleep(0.2)
            # The cluster page lists Ray's nodes: the server's executor joins (starts) Ray.
            nodes = httpx.get(url + "/api/v1/cluster", timeout=180)
            assert nodes.status_code == 200, nodes.text
            ray_procs = [
                p
                for p in psutil.Process(proc.pid).children(recursive=True)
                if p.name() in ("gcs_server", "raylet")
            ]
            assert len(ray_procs) == 2, "the server started a local Ray"
            proc.send_signal(signal.SIGTERM)
            returncode = proc.wait(60)
            _, alive = psutil.wait_procs(ray_procs, timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for p in ray_procs:  # never leave a local Ray behind, whatever happened
                if p.is_running():
                    p.kill()
    text = log_path.read_text()
    assert "SIGTERM received" not in text, text[-3000:]
    assert "Application shutdown complete" in text and "Finished server process" in text, text
    assert returncode == -signal.SIGTERM, (returncode, text[-3000:])
    assert not alive, f"the local Ray outlived its server: {alive}"
