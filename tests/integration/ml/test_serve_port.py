"""``airfoil serve`` with a port no socket can bind is refused before anything loads. Before
2026-12-06 ``--port 70000`` printed ``serving tiny:1 ... on http://127.0.0.1:70000`` and the
process stayed up serving nothing, never exiting (a hang); ``--port -1`` failed in uvicorn
with ``[Errno -8] Servname not supported``."""

from __future__ import annotations

import subprocess

import pytest
from _replica_home import serve_tiny_argv, serve_tiny_environ
from _tiny import model

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_a_port_out_of_range_is_refused_naming_it(port: str) -> None:
    assert model.train(hyperparameters={"C": 1.0}, rows=80).ref == "tiny:1"
    done = subprocess.run(
        serve_tiny_argv(f"--port={port}"),
        capture_output=True,
        text=True,
        timeout=60,  # on main, 70000 never returned
        env=serve_tiny_environ(),
    )
    assert done.returncode == 2, done.stderr
    assert f"invalid port {port}: give a TCP port from 1 to 65535" in done.stderr
    assert "serving" not in done.stdout
