"""Fixtures of the server tests: a real uvicorn server on 127.0.0.1 (a free port) over SQLite
and over the real PostgreSQL (a fresh schema per session), and a project of user code.

The session's servers run in this process (threads), with the process executor's workers in
their own processes; the SIGKILL test starts servers as subprocesses instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _db_faults import FAULT_FLOW
from _srv import FLOW, Running, start_server, user_module


@pytest.fixture(scope="session")
def pg_schema_factory(pg_new_schema: Callable[[], str]) -> Callable[[], str]:
    """Fresh PostgreSQL schemas (dropped at the end of the session); returns their URLs."""
    return pg_new_schema


@pytest.fixture(scope="session")
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project folder with ``flow.py``."""
    root = tmp_path_factory.mktemp("userproj")
    (root / "flow.py").write_text(FLOW)
    return root


@pytest.fixture(scope="session")
def flow(flow_dir: Path) -> Any:
    """The user's module, imported on the client side (as the CLI does)."""
    from airfoil.cli._load import load_entity

    load_entity(str(flow_dir / "flow.py"), "wf")
    import sys

    return sys.modules["flow"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """A server with its engine loop, on SQLite (slots in the server's process) or
    PostgreSQL (slots in an engine process, as ``airfoil server start`` runs them there)."""
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(home / "packages")  # inherited by the workers
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_schema_factory")()
    try:
        running = start_server(home, url, engine_process=url is not None)
        try:
            yield running
        finally:
            running.stop()  # fails loudly, killing its engine, if it does not stop
    finally:
        if old is None:
            os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
        else:
            os.environ["AIRFOIL_PACKAGE_CACHE"] = old


@pytest.fixture
def client(server: Running) -> Iterator[Any]:
    from airfoil.client import Client

    with Client(server.url, project=f"p{uuid.uuid4().hex[:6]}") as c:
        yield c


@pytest.fixture
def server_home(tmp_path: Path) -> Iterator[Path]:
    """A server's home (``tmp_path/home``), with the package cache its workers inherit in
    ``tmp_path/packages`` for the test."""
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(tmp_path / "packages")  # inherited by workers
    yield tmp_path / "home"
    if old is None:
        os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
    else:
        os.environ["AIRFOIL_PACKAGE_CACHE"] = old


@pytest.fixture(scope="session")
def fault_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The database-fault tests' user module (``_db_faults.FAULT_FLOW``: its own name, so it
    never clashes with the other tests' flow)."""
    return user_module(tmp_path_factory.mktemp("faultproj"), "faultflow", FAULT_FLOW, "chain")


@pytest.fixture(scope="session")
def _scratch_drops(pg_admin: sa.Engine) -> Iterator[Callable[[str], None]]:
    """``drop(name)``: drops a scratch database in a thread of the session's, while the next
    tests run (a ``DROP DATABASE`` waits for a checkpoint: 1-11 s of a test's teardown under
    the suite's load); the session's end waits for the drops and raises what failed."""
    auto = pg_admin.execution_options(isolation_level="AUTOCOMMIT")

    def drop(name: str) -> None:
        with auto.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with ThreadPoolExecutor(1, thread_name_prefix="scratch-db-drop") as pool:
        futures: list[Future[None]] = []
        yield lambda name: futures.append(pool.submit(drop, name))
        for future in futures:
            future.result()


@pytest.fixture
def scratch_db(
    pg_admin: sa.Engine, _scratch_drops: Callable[[str], None]
) -> Iterator[tuple[str, str]]:
    """A database of this test alone (it gets closed to connections); ``(url, name)``."""
    name = f"airfoil_fault_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    auto = pg_admin.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url, name
    _scratch_drops(name)
