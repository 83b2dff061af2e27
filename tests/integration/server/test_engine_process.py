"""``airfoil server start`` on PostgreSQL drives in an engine process of its own, beside the
API's: the API reports its status and metrics, a killed engine process is started again, and
an engine process never outlives its server (SIGKILL of the server included)."""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from _srv import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def inc(x: int) -> int:
        return x + 1


    @af.task
    def nap(x: int) -> int:
        time.sleep(3)
        return x


    @af.workflow
    def fan(x: int = 0) -> list[int]:
        return [inc(x=i) for i in range(6)]


    @af.workflow
    def slow(x: int = 0) -> int:
        return inc(x=nap(x=x))


    @af.task
    def hang(x: int) -> int:
        time.sleep(600)
        return x


    @af.workflow
    def hung(x: int = 0) -> int:
        return hang(x=x)
    """
)


class _Server(ServerProcess):
    def __init__(self, tmp: Path, db: str, *extra: str) -> None:
        env = dict(
            os.environ,
            AIRFOIL_HOME=str(tmp / "home"),
            AIRFOIL_PACKAGE_CACHE=str(tmp / "packages"),
        )
        self.db = db
        args = ("--database-url", db, "--lease-ttl", "2", "--slots", "2", *extra)
        super().__init__(tmp, *args, env=env)

    def engines(self) -> list[psutil.Process]:
        """The server's children that hold database connections: its engine process."""
        found = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if any(c.raddr and c.raddr.port == 5432 for c in child.net_connections("tcp")):
                    found.append(child)
            except psutil.Error:
                pass
        return found

    def lease_owner(self, execution_id: str) -> str | None:
        engine = sa.create_engine(self.db, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                owner = conn.execute(
                    sa.text("SELECT lease_owner FROM executions WHERE id = :i"),
                    {"i": execution_id},
                ).scalar()
        finally:
            engine.dispose()
        return None if owner is None else str(owner)

    def metric(self, prefix: str) -> float:
        text = httpx.get(self.url + "/metrics").text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


@pytest.fixture
def flow(tmp_path: Path) -> dict[str, Any]:
    from airfoil.cli._load import load_entity

    user = tmp_path / "user"
    user.mkdir()
    (user / "engineflow.py").write_text(FLOW)
    return {n: load_entity(str(user / "engineflow.py"), n) for n in ("fan", "slow", "hung")}


@pytest.fixture
def served(tmp_path: Path, pg_schema_factory: Any) -> Iterator[_Server]:
    server = _Server(tmp_path, pg_schema_factory())
    try:
        yield server
    finally:
        server.stop()


def _running(client: Any, ex_id: str, node: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        nodes = {n.id: n for n in client.get(ex_id).nodes}
        if node in nodes and nodes[node].phase == "running":
            return
        assert time.monotonic() < deadline, f"{node} never started"
        time.sleep(0.05)


def test_the_engine_drives_in_its_own_process_and_the_api_reports_it(
    served: _Server, flow: dict[str, Any]
) -> None:
    from airfoil.client import Client

    engines = served.engines()
    assert len(engines) == 1, "one engine process, a child of the server"
    engine = engines[0]
    with Client(served.url, project="eng") as client:
        client.register(list(flow.values()))
        ex = client.launch(flow["slow"], {"x": 4})
        _running(client, ex.id, "n0")
        owner = served.lease_owner(ex.id)
        assert owner is not None and owner.split(":")[1] == str(engine.pid)  # not the API's
        # The API answers first: the engine and its workers run at a lower CPU priority.
        from airfoil.server._config import ENGINE_NICE

        api_nice = psutil.Process(served.proc.pid).nice()
        assert engine.nice() == min(19, api_nice + ENGINE_NICE)
        workers = engine.children(recursive=True)
        assert workers and all(w.nice() == engine.nice() for w in workers)
        # The engine's status, ex counted: as last reported (every 0.1 s when it changes, by
        # the niced engine process: on a loaded machine a read can come before the report).
        deadline = time.monotonic() + 10
        while (ready := httpx.get(served.url + "/readyz").json())["driving"] != 1:
            if time.monotonic() > deadline or client.get(ex.id).phase != "running":
                break
            time.sleep(0.05)
        assert ready == {"status": "ready", "driving": 1}
        assert client.wait(ex.id, timeout=60).phase == "succeeded"
        fan = client.launch(flow["fan"], {})
        detail = client.wait(fan.id, timeout=60)
        assert detail.phase == "succeeded", detail.error
        assert client.outputs(fan.id, flow["fan"]) == [1, 2, 3, 4, 5, 6]
    # The attempts finished in the engine process are counted by the API's /metrics.
    deadline = time.monotonic() + 10
    while served.metric('airfoil_attempts_total{phase="succeeded"}') < 8:
        assert time.monotonic() < deadline, httpx.get(served.url + "/metrics").text
        time.sleep(0.2)
    assert served.metric("airfoil_task_duration_seconds_count") >= 8


def _workers(engine: psutil.Process) -> tuple[list[psutil.Process], set[int]]:
    """The engine process's forkserver(s) and the worker processes they forked."""
    forkservers = [p for p in engine.children() if "forkserver" in " ".join(p.cmdline())]
    return forkservers, {w.pid for f in forkservers for w in f.children()}


def test_a_ready_server_has_started_its_workers_and_its_first_tasks_use_them(
    tmp_path: Path, pg_schema_factory: Any, flow: dict[str, Any]
) -> None:
    from airfoil.client import Client

    # Ready means ready to run: the forkserver and the workers are up before /readyz says
    # so (the 2 slots share one pool of --max-parallel 3 workers, `airfoil server start`'s
    # default), not started by the first execution's tasks. Asked to, the workers (user
    # code) run at a lower priority than the engine.
    served = _Server(tmp_path, pg_schema_factory(), "--max-parallel", "3", "--worker-nice", "4")
    try:
        engine = served.engines()[0]
        forkservers, warm = _workers(engine)
        assert len(forkservers) == 1 and len(warm) == 3, (forkservers, warm)
        assert all(f.nice() == engine.nice() for f in forkservers)
        lower = min(19, engine.nice() + 4)
        assert [psutil.Process(w).nice() for w in warm] == [lower] * 3
        with Client(served.url, project="eng") as client:
            client.register(list(flow.values()))
            ex = client.launch(flow["fan"], {})
            detail = client.wait(ex.id, timeout=60)
            assert detail.phase == "succeeded", detail.error
        ran = {int(a.worker.split(":")[1]) for n in detail.nodes for a in n.attempt_list}
        assert len(detail.nodes) == 6 and ran and ran <= warm  # no worker started for them
        assert _workers(engine)[1] == warm
    finally:
        served.stop()


def test_a_killed_engine_process_is_started_again_and_its_execution_finishes(
    served: _Server, flow: dict[str, Any]
) -> None:
    from airfoil.client import Client

    first = served.engines()[0]
    with Client(served.url, project="eng") as client:
        client.register(list(flow.values()))
        ex = client.launch(flow["slow"], {"x": 7})
        _running(client, ex.id, "n0")
        first.kill()  # SIGKILL: no lease released, its worker's attempt is lost
        first.wait(10)
        deadline = time.monotonic() + 30
        while not (again := served.engines()) or again[0].pid == first.pid:
            assert time.monotonic() < deadline, served.log.read_text()
            time.sleep(0.1)
        served.wait_ready(30)
        detail = client.wait(ex.id, timeout=60)  # taken back once its lease expired
        assert detail.phase == "succeeded", detail.error
        assert client.outputs(ex.id, flow["slow"]) == 8
        nodes = {n.id: n for n in detail.nodes}
        assert nodes["n0"].attempt_list[0].phase == "lost"
        assert nodes["n0"].attempts == 2
    assert served.metric('airfoil_driver_restarts_total{reason="died"}') == 1
    assert served.proc.poll() is None  # the API process never stopped


def test_an_engine_process_never_outlives_its_server(served: _Server, flow: dict[str, Any]) -> None:
    from airfoil.client import Client

    engine = served.engines()[0]
    with Client(served.url, project="eng") as client:
        client.register(list(flow.values()))
        ex = client.launch(flow["slow"], {"x": 1})
        _running(client, ex.id, "n0")
    workers = engine.children(recursive=True)
    assert workers
    os.kill(served.proc.pid, signal.SIGKILL)
    served.proc.wait(10)
    # The pipe from the server ended: the engine stops like on a graceful stop, handing its
    # execution back at once and stopping its workers.
    _gone, alive = psutil.wait_procs([engine, *workers], timeout=20)
    assert not alive, f"still running: {alive}"
    assert served.lease_owner(ex.id) is None


def test_a_ready_servers_first_requests_find_their_database_connections_open(
    served: _Server,
) -> None:
    # A fresh server's request threads have connected before /readyz says it is ready: the
    # console's first polls, several at once, open no PostgreSQL connection of their own.
    from concurrent.futures import ThreadPoolExecutor

    from airfoil.server._config import API_THREADS_WARM

    api = psutil.Process(served.proc.pid)

    def connections() -> set[int]:
        return {
            c.laddr.port for c in api.net_connections("tcp") if c.raddr and c.raddr.port == 5432
        }

    before = connections()
    base = f"{served.url}/api/v1/projects/eng/executions"
    urls = [base, f"{base}/nosuchexecution", f"{base}/nosuchexecution/events", base] * 3
    with ThreadPoolExecutor(API_THREADS_WARM) as pool:
        codes = list(pool.map(lambda url: httpx.get(url, timeout=30).status_code, urls))
    assert sorted(set(codes)) == [200, 404]
    assert connections() == before


def test_a_server_told_to_stop_ends_soon_and_leaves_no_process_behind(
    tmp_path: Path, pg_schema_factory: Any, flow: dict[str, Any]
) -> None:
    """SIGTERM while a client watches a running execution (``/watch`` streams until it ends,
    here 600 s) and the engine process answers nothing (SIGSTOP): the server cancels the
    stream after its grace (``--stop-grace 2``, not the default 10 s: the same path, 16 s
    sooner), kills the engine after its own, and is gone with every process it started.
    Before the grace, uvicorn waited for the stream to end and never stopped the engine (a
    non-daemon child which Python's exit then waited for too)."""
    import subprocess

    from airfoil.client import Client

    served = _Server(tmp_path, pg_schema_factory(), "--stop-grace", "2")
    engine = served.engines()[0]
    tree: list[psutil.Process] = []
    try:
        with Client(served.url, project="eng") as client:
            client.register(list(flow.values()))
            ex = client.launch(flow["hung"], {"x": 1})
            _running(client, ex.id, "n0")
        tree = [engine, *engine.children(recursive=True)]
        watching = threading.Event()

        def watch() -> None:
            url = f"{served.url}/api/v1/projects/eng/executions/{ex.id}/watch"
            try:
                with httpx.stream("GET", url, timeout=None) as r:
                    if r.status_code != 200:
                        return
                    for _ in r.iter_bytes():
                        watching.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=watch, daemon=True).start()
        assert watching.wait(30), "the watch stream did not start"
        engine.suspend()
        served.proc.send_signal(signal.SIGTERM)
        try:
            # 2 s of grace for the requests, 2 + 5 s for the engine, the rest is the load.
            served.proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop in 60 s: " + served.log.read_text()[-3000:])
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        assert not alive, f"still running after the server stopped: {alive}"
        # the stop took the grace asked for: the stream cancelled, the engine killed after 7 s
        log = served.log.read_text()
        assert "timeout graceful shutdown exceeded" in log, log[-3000:]
        assert "the engine process did not stop in 7 s: killed" in log, log[-3000:]
    finally:
        for p in tree:
            with contextlib.suppress(psutil.Error):
                p.kill()
        served.stop()
