"""A server (and a local run) that rides out database trouble, on the real PostgreSQL.

- The server's connections are killed (``pg_terminate_backend``) 20 times at random moments
  while 20 executions run: all 20 succeed, none is aborted, no node runs twice.
- The database refuses every connection for 10 s (``ALTER DATABASE ... ALLOW_CONNECTIONS
  false`` on a scratch database, and its backends killed): running executions pause, then
  finish; ``/readyz`` goes unready, then ready again. Once within the store's retry budget
  (nothing runs twice), once past it (the slots pause their executions and resume them), and
  once for 60 s (slow).
- The same outages (10 s, and 60 s: slow) under a local ``airfoil run`` on PostgreSQL: it
  waits, then finishes, each step run once.

Each task appends ``<tag> <step>`` to a log when it starts, so a node that ran twice shows
up as a repeated line.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _srv import Running, start_server

pytestmark = [pytest.mark.integration]

FAULT_FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def step(tag: str, name: str, path: str, x: int, seconds: float) -> int:
        with open(path, "a") as fh:
            fh.write(f"{tag} {name}\\n")
        time.sleep(seconds)
        return x + 1


    @af.workflow
    def chain(tag: str, path: str, seconds: float = 0.2) -> int:
        a = step(tag=tag, name="a", path=path, x=0, seconds=seconds)
        b = step(tag=tag, name="b", path=path, x=a, seconds=seconds)
        return step(tag=tag, name="c", path=path, x=b, seconds=seconds)
    """
)


@pytest.fixture(scope="module")
def fault_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The user's module (its own name, so it never clashes with the other tests' flow)."""
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("faultproj")
    (root / "faultflow.py").write_text(FAULT_FLOW)
    load_entity(str(root / "faultflow.py"), "chain")
    return sys.modules["faultflow"]


def _runs(log: Path) -> collections.Counter[str]:
    return (
        collections.Counter(log.read_text().splitlines()) if log.exists() else collections.Counter()
    )


def _ready(url: str) -> int:
    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code
    except httpx.HTTPError:
        return 0


def _wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _kill(admin: sa.Engine, where: str, value: str) -> int:
    with admin.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where} = :v "
                "AND pid <> pg_backend_pid()"
            ),
            {"v": value},
        )
        return len(rows.all())


@pytest.fixture
def server_home(tmp_path: Path) -> Iterator[Path]:
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(tmp_path / "packages")  # inherited by workers
    yield tmp_path / "home"
    if old is None:
        os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
    else:
        os.environ["AIRFOIL_PACKAGE_CACHE"] = old


def _client(running: Running) -> Any:
    from airfoil.client import Client

    return Client(running.url, project=f"p{uuid.uuid4().hex[:6]}")


def test_killed_connections_abort_nothing_and_rerun_nothing(
    pg_new_schema: Any, pg_admin: sa.Engine, fault_flow: Any, server_home: Path, tmp_path: Path
) -> None:
    app_name = f"airfoil-fault-{uuid.uuid4().hex[:8]}"
    running = start_server(server_home, f"{pg_new_schema()}&application_name={app_name}")
    log = tmp_path / "runs.log"
    try:
        with _client(running) as client:
            client.register([fault_flow.chain])
            ids = [
                client.launch(fault_flow.chain, {"tag": f"t{i}", "path": str(log)}).id
                for i in range(20)
            ]
            rng = random.Random(7)
            killed = 0
            for _ in range(20):  # at random points of the run
                time.sleep(rng.uniform(0.05, 0.5))
                killed += _kill(pg_admin, "application_name", f"{app_name}-api")
            assert killed >= 20  # every round found the server's connections
            details = [client.wait(i, timeout=180) for i in ids]
        assert [d.phase for d in details] == ["succeeded"] * 20
        runs = _runs(log)
        assert set(runs) == {f"t{i} {s}" for i in range(20) for s in "abc"}
        assert [k for k, n in runs.items() if n > 1] == []  # no node ran twice
        assert running.deps.meta.retries >= 1  # the kills were noticed and ridden out
    finally:
        running.stop()


@pytest.fixture
def scratch_db(pg_admin: sa.Engine) -> Iterator[tuple[str, str]]:
    """A database of this test alone (it gets closed to connections); ``(url, name)``."""
    name = f"airfoil_fault_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    auto = pg_admin.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url, name
    with auto.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class _Outage:
    """Closes the scratch database to every connection (and kills the open ones)."""

    def __init__(self, admin: sa.Engine, name: str) -> None:
        self.admin = admin.execution_options(isolation_level="AUTOCOMMIT")
        self.name = name

    def begin(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
        _kill(self.admin, "datname", self.name)

    def end(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@contextlib.contextmanager
def _server_outage(
    scratch: tuple[str, str],
    admin: sa.Engine,
    flow: Any,
    home: Path,
    log: Path,
    *,
    outage_s: float,
    budget_s: float,
) -> Iterator[Running]:
    """A server whose three running executions live through an outage; yields it after."""
    url, name = scratch
    running = start_server(home, url, store_retry_budget_s=budget_s)
    try:
        _ride_out(running, _Outage(admin, name), flow, log, outage_s)
        yield running
    finally:
        running.stop()


def _ride_out(running: Running, outage: _Outage, flow: Any, log: Path, outage_s: float) -> None:
    with _client(running) as client:
        client.register([flow.chain])
        ids = [
            client.launch(flow.chain, {"tag": f"t{i}", "path": str(log), "seconds": 1.0}).id
            for i in range(3)
        ]
        _wait_for(lambda: len(_runs(log)) >= 3, 60, "the executions to start")
        assert _ready(running.url) == 200
        outage.begin()
        try:
            _wait_for(lambda: _ready(running.url) == 503, 15, "/readyz to say unready")
            time.sleep(max(0.0, outage_s - 2))
            assert _ready(running.url) == 503
        finally:
            outage.end()
        _wait_for(lambda: _ready(running.url) == 200, 60, "/readyz to say ready again")
        details = [client.wait(i, timeout=120) for i in ids]
    assert [d.phase for d in details] == ["succeeded"] * 3
    assert set(_runs(log)) == {f"t{i} {s}" for i in range(3) for s in "abc"}
    assert running.deps.driver.alive()


def test_outage_within_the_retry_budget_pauses_and_reruns_nothing(
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    fault_flow: Any,
    server_home: Path,
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    with _server_outage(
        scratch_db, pg_admin, fault_flow, server_home, log, outage_s=10, budget_s=120
    ) as running:
        assert max(_runs(log).values()) == 1  # nothing ran twice
        assert running.deps.driver.paused == set()


def test_outage_past_the_retry_budget_pauses_the_drive_and_resumes_it(
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    fault_flow: Any,
    server_home: Path,
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    with _server_outage(
        scratch_db, pg_admin, fault_flow, server_home, log, outage_s=10, budget_s=2
    ) as running:
        metrics = httpx.get(f"{running.url}/metrics", timeout=10).text
        pauses = [
            line for line in metrics.splitlines() if line.startswith("airfoil_driver_pauses_total")
        ]
        assert pauses and float(pauses[0].split()[-1]) >= 1  # the slots did pause


@pytest.mark.slow
def test_a_minute_long_outage_is_ridden_out(
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    fault_flow: Any,
    server_home: Path,
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    with _server_outage(
        scratch_db, pg_admin, fault_flow, server_home, log, outage_s=60, budget_s=120
    ):
        assert max(_runs(log).values()) == 1


@pytest.mark.parametrize("outage_s", [10, pytest.param(60, marks=pytest.mark.slow)])
def test_local_run_on_postgres_waits_out_an_outage(
    scratch_db: tuple[str, str], pg_admin: sa.Engine, tmp_path: Path, outage_s: int
) -> None:
    url, name = scratch_db
    (tmp_path / "faultflow.py").write_text(FAULT_FLOW)
    log = tmp_path / "runs.log"
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_DATABASE_URL=url,
    )
    args = ["--tag", "local", "--path", str(log), "--seconds", "1.0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "airfoil.cli", "run", "faultflow.py", "chain", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    outage = _Outage(pg_admin, name)
    try:
        _wait_for(lambda: len(_runs(log)) >= 1, 60, "the run to start")
        outage.begin()
        try:
            time.sleep(outage_s)
            assert proc.poll() is None  # still waiting for the database, not dead
        finally:
            outage.end()
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.decode()
    assert _runs(log) == collections.Counter({"local a": 1, "local b": 1, "local c": 1})


def test_registry_store_says_when_the_database_is_away(
    scratch_db: tuple[str, str], pg_admin: sa.Engine
) -> None:
    from airfoil.core.errors import TransientStoreError
    from airfoil.store.sql import SqlRegistryStore

    url, name = scratch_db
    store = SqlRegistryStore(url)
    outage = _Outage(pg_admin, name)
    try:
        store.ensure_project("kept", now=1.0)
        outage.begin()
        try:
            with pytest.raises(TransientStoreError, match="registry"):
                store.list_projects()
        finally:
            outage.end()
        assert store.list_projects() == [("kept", "", 1.0)]  # a fresh connection, no restart
    finally:
        store.close()


def test_a_server_stopped_during_an_outage_ends_soon_and_leaves_no_process(
    scratch_db: tuple[str, str], pg_admin: sa.Engine, fault_flow: Any, tmp_path: Path
) -> None:
    """SIGTERM to ``airfoil server start`` while its database refuses every connection: what
    its stop asks of the database (leases handed back, buffered history) gives up rather
    than retry for the store's budget (120 s a call), and its engine process and workers are
    gone with it. ``--stop-grace 2``: the engine process, whose slots wait out the database,
    is killed 7 s in, not 15 (the path is the default's; the bound below is the API
    process's own)."""
    import psutil
    from _srv import ServerProcess

    from airfoil.client import Client

    url, name = scratch_db
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_PACKAGE_CACHE=str(tmp_path / "packages"),
    )
    server = ServerProcess(tmp_path, "--database-url", url, "--stop-grace", "2", env=env)
    try:
        log = tmp_path / "runs.log"
        with Client(server.url, project="outage") as client:
            client.register([fault_flow.chain])
            client.launch(fault_flow.chain, {"tag": "t", "path": str(log), "seconds": 60.0})
            _wait_for(lambda: len(_runs(log)) >= 1, 60, "the execution to start")
        tree = psutil.Process(server.proc.pid).children(recursive=True)
        assert tree
        _Outage(pg_admin, name).begin()
        _wait_for(lambda: _ready(server.url) == 503, 30, "/readyz to say unready")
        started = time.monotonic()
        server.stop(timeout=90)  # fails, naming what was still alive, past 90 s
        print(f"stopped in {time.monotonic() - started:.1f} s")
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        assert not alive, f"still running after the server stopped: {alive}"
    finally:
        server.stop()
