"""Several servers on one PostgreSQL database: SIGKILL the one driving an execution mid-run
and another takes it over, re-running nothing that had succeeded. The servers are real
``airfoil server start`` processes, and neither ever imports the user's code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHAIN = textwrap.dedent(
    """
    import os
    import time

    import airfoil as af

    with open(os.path.join(os.path.dirname(__file__), "imports.txt"), "a") as _fh:
        _fh.write(f"{os.getpid()}\\n")


    @af.task
    def first(path: str) -> int:
        with open(path, "a") as fh:
            fh.write("first\\n")
        return 1


    @af.task
    def slow(x: int, path: str) -> int:
        with open(path, "a") as fh:
            fh.write("slow\\n")
        time.sleep(2.5)
        return x + 1


    @af.workflow
    def chain(path: str) -> int:
        return slow(x=first(path=path), path=path)
    """
)


def _start(tmp: Path, db: str, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp / f"home-{name}"),
        AIRFOIL_BLOB_URL=str(tmp / "blobs"),
        AIRFOIL_PACKAGE_CACHE=str(tmp / f"packages-{name}"),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airfoil.cli",
            "server",
            "start",
            "--port",
            str(port),
            "--database-url",
            db,
            "--lease-ttl",
            "2",
            "--slots",
            "2",
        ],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"{name}.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as http:  # one client for the polls, not one a poll
        while time.monotonic() < deadline:
            try:
                if http.get(url + "/readyz").status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise AssertionError((tmp / f"{name}.log").read_text())
            time.sleep(0.1)
    raise AssertionError("server did not become ready")


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM each server still running; killed if it has not exited in 15 s."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def _node(client: Any, ex_id: str, node: str) -> Any:
    return next((n for n in client.get(ex_id).nodes if n.id == node), None)


def _wait_for_slow_to_run(marker: Path) -> None:
    """Until ``slow`` (n1) runs its body: it has written its line to the marker. Not until
    its node is ``running``: that is from its dispatch, before its worker has read the request
    and imported the module, and a kill in between (seconds on a loaded machine) takes the
    worker with it before the line: the marker then had one ``slow``, not two."""
    deadline = time.monotonic() + 30
    while not marker.exists() or marker.read_text().splitlines()[-1:] != ["slow"]:
        assert time.monotonic() < deadline, "slow never started"
        time.sleep(0.05)


def test_sigkilled_server_is_taken_over(tmp_path: Path, pg_schema_factory: Any) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    db = pg_schema_factory()
    user = tmp_path / "user"
    user.mkdir()
    (user / "chainflow.py").write_text(CHAIN)
    chain = load_entity(str(user / "chainflow.py"), "chain")
    marker = tmp_path / "marker.txt"

    a, url_a = _start(tmp_path, db, "a")
    b = None
    try:
        with Client(url_a, project="fail") as ca:
            ca.register([chain])
            ex = ca.launch(chain, {"path": str(marker)})
            _wait_for_slow_to_run(marker)
        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
        b, url_b = _start(tmp_path, db, "b")
        b_ready = time.monotonic()  # a server's start is not the takeover's to count
        with Client(url_b, project="fail") as cb:
            detail = cb.wait(ex.id, timeout=60)
            took = time.monotonic() - b_ready
            assert detail.phase == "succeeded", detail.error
            assert cb.outputs(ex.id, chain) == 2
            nodes = {n.id: n for n in detail.nodes}
        assert marker.read_text().splitlines() == ["first", "slow", "slow"]
        assert nodes["n0"].attempts == 1  # succeeded before the kill: not re-run
        assert nodes["n1"].attempts == 2
        assert nodes["n1"].attempt_list[0].phase == "lost"
        assert took < 20
        pids = {int(p) for p in (user / "imports.txt").read_text().split()}
        assert a.pid not in pids and b.pid not in pids  # servers never import user code
    finally:
        _stop(a, b)


def test_sigterm_hands_executions_back(tmp_path: Path, pg_schema_factory: Any) -> None:
    """A graceful stop releases the lease at once: the next server resumes without waiting
    for it to expire."""
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    db = pg_schema_factory()
    user = tmp_path / "user"
    user.mkdir()
    (user / "chainflow.py").write_text(CHAIN)
    chain = load_entity(str(user / "chainflow.py"), "chain")
    marker = tmp_path / "marker.txt"
    a, url_a = _start(tmp_path, db, "a")
    b = None
    try:
        with Client(url_a, project="calm") as ca:
            ca.register([chain])
            ex = ca.launch(chain, {"path": str(marker)})
            deadline = time.monotonic() + 30
            while (n := _node(ca, ex.id, "n1")) is None or n.phase != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        a.send_signal(signal.SIGTERM)
        a.wait(20)  # uvicorn re-raises the signal after its graceful shutdown
        import sqlalchemy as sa

        eng = sa.create_engine(db, poolclass=sa.pool.NullPool)
        with eng.connect() as conn:
            owner = conn.execute(
                sa.text("SELECT lease_owner FROM executions WHERE id = :i"), {"i": ex.id}
            ).scalar()
        eng.dispose()
        assert owner is None  # handed back
        b, url_b = _start(tmp_path, db, "b")
        with Client(url_b, project="calm") as cb:
            assert cb.wait(ex.id, timeout=60).phase == "succeeded"
    finally:
        _stop(a, b)
