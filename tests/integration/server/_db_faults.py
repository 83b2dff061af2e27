"""Helpers of the database-fault tests (``test_db_faults_*.py``): the user's flow whose
tasks log each start (a node that ran twice shows up as a repeated line), waits, killing a
database's backends, and an outage of a scratch database (closed to every connection, its
backends killed) that a server's running executions must live through."""

from __future__ import annotations

import collections
import contextlib
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _srv import Running, start_server

__all__ = [
    "FAULT_FLOW",
    "Outage",
    "chain_flow",
    "kill_backends",
    "new_client",
    "readyz",
    "server_outage",
    "task_lines",
    "wait_for",
]

_CHAIN_FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af

    STEPS = __STEPS__


    @af.task
    def step(tag: str, name: str, path: str, x: int, seconds: float) -> int:
        with open(path, "a") as fh:
            fh.write(f"{tag} {name}\\n")
        time.sleep(seconds)
        return x + 1


    @af.workflow
    def chain(tag: str, path: str, seconds: float = __SECONDS__) -> int:
        x = 0
        for name in STEPS:
            x = step(tag=tag, name=name, path=path, x=x, seconds=seconds)
        return x
    """
)


def chain_flow(steps: str, seconds: float) -> str:
    """A user's module: workflow ``chain(tag, path, seconds=<seconds>)``, a chain of task
    ``step`` (its input plus one), once per letter of ``steps``; each step appends
    ``<tag> <letter>`` to ``path`` when it starts, then sleeps ``seconds``."""
    return _CHAIN_FLOW.replace("__STEPS__", repr(steps)).replace("__SECONDS__", repr(seconds))


FAULT_FLOW = chain_flow("abc", 0.2)
"""The fault tests' flow: a chain of three steps of 0.2 s (``a``, ``b``, ``c``)."""


def task_lines(log: Path) -> collections.Counter[str]:
    """How many times each ``<tag> <step>`` started (a node run twice counts 2)."""
    return (
        collections.Counter(log.read_text().splitlines()) if log.exists() else collections.Counter()
    )


def readyz(url: str) -> int:
    """The server's ``/readyz`` status (0 when it does not answer)."""
    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code
    except httpx.HTTPError:
        return 0


def wait_for(check: Any, timeout: float, what: str) -> None:
    """Polls ``check()`` every 0.1 s; fails, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def kill_backends(admin: sa.Engine, where: str, value: str) -> int:
    """Terminates the backends whose ``pg_stat_activity.<where>`` is ``value``; how many."""
    with admin.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where} = :v "
                "AND pid <> pg_backend_pid()"
            ),
            {"v": value},
        )
        return len(rows.all())


def new_client(running: Running) -> Any:
    """A client of ``running`` in a project of its own."""
    from airfoil.client import Client

    return Client(running.url, project=f"p{uuid.uuid4().hex[:6]}")


class Outage:
    """Closes the scratch database to every connection (and kills the open ones)."""

    def __init__(self, admin: sa.Engine, name: str) -> None:
        self.admin = admin.execution_options(isolation_level="AUTOCOMMIT")
        self.name = name

    def begin(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
        kill_backends(self.admin, "datname", self.name)

    def end(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@contextlib.contextmanager
def server_outage(
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
        _ride_out(running, Outage(admin, name), flow, log, outage_s)
        yield running
    finally:
        running.stop()


def _ride_out(running: Running, outage: Outage, flow: Any, log: Path, outage_s: float) -> None:
    with new_client(running) as client:
        client.register([flow.chain])
        ids = [
            client.launch(flow.chain, {"tag": f"t{i}", "path": str(log), "seconds": 1.0}).id
            for i in range(3)
        ]
        wait_for(lambda: len(task_lines(log)) >= 3, 60, "the executions to start")
        assert readyz(running.url) == 200
        outage.begin()
        try:
            wait_for(lambda: readyz(running.url) == 503, 15, "/readyz to say unready")
            time.sleep(max(0.0, outage_s - 2))
            assert readyz(running.url) == 503
        finally:
            outage.end()
        wait_for(lambda: readyz(running.url) == 200, 60, "/readyz to say ready again")
        details = [client.wait(i, timeout=120) for i in ids]
    assert [d.phase for d in details] == ["succeeded"] * 3
    assert set(task_lines(log)) == {f"t{i} {s}" for i in range(3) for s in "abc"}
    assert running.deps.driver.alive()
