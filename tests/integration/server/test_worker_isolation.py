"""A tenant's task on ``airfoil server start`` (the process executor: workers on the server's
host) holds none of the server's secrets: not the key that decrypts every project's stored
secrets (``AIRFOIL_SECRETS_KEY``), not the database URL with its password
(``AIRFOIL_DATABASE_URL``), in its ``os.environ``, in the environment the kernel keeps for
it (``/proc/<pid>/environ``), anywhere in its memory, nor in its parent's (the forkserver
it was forked from, whose memory it started as a copy of). Tested as the tenant would look:
the task of project beta holds still while the test reads the worker's and its parent's
memory from outside (so the needles are never in the task's own memory). And the server's
home and SQLite database are created for its user alone.

What this does not cover (docs/server.md, "Trust model"): a worker runs as the server's
user, so it can open the database file itself and, as root (as here), read any process.
"""

from __future__ import annotations

import os
import stat
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _srv import SECRETS_KEY, ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "pw-" + "9f3c1e77b2d04a6c8e5f"  # trust auth accepts any; it must reach no worker

FLOW = textwrap.dedent(
    """
    import os
    import time

    import airfoil as af


    @af.task
    def hold(flag: str) -> list[str]:
        with open(flag + ".pid", "w") as fh:
            fh.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return sorted(os.environ)


    @af.workflow
    def probe(flag: str) -> list[str]:
        return hold(flag=flag)
    """
)


class _Server(ServerProcess):
    def __init__(self, tmp: Path, database_url: str | None) -> None:
        self.home = tmp / "home"
        env = dict(
            os.environ,
            AIRFOIL_HOME=str(self.home),
            AIRFOIL_PACKAGE_CACHE=str(tmp / "packages"),
            AIRFOIL_SECRETS_KEY=SECRETS_KEY,
            AIRFOIL_SECRET_OPERATORS_OWN="operator-token-" + "5d1f0e",
        )
        env.pop("AIRFOIL_DATABASE_URL", None)
        if database_url is not None:
            env["AIRFOIL_DATABASE_URL"] = database_url  # as an operator should: not on argv
        super().__init__(tmp, env=env, timeout=90)


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[_Server, str]]:
    url = None
    if request.param == "postgres":
        plain = request.getfixturevalue("pg_schema_factory")()
        url = sa.engine.make_url(plain).set(password=PASSWORD).render_as_string(False)
    server = _Server(tmp_path, url)
    try:
        yield server, request.param
    finally:
        server.stop()


def _memory_holds(pid: int, needles: list[bytes]) -> list[bytes]:
    """Which of ``needles`` the readable memory of process ``pid`` holds (read from here)."""
    found: set[bytes] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] == "[vvar]"):
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(n for n in needles if n in chunk)
    return sorted(found)


def test_a_tenants_task_holds_none_of_the_servers_secrets(
    served: tuple[_Server, str], tmp_path: Path
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    server, store = served
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "isoflow.py").write_text(FLOW)
    probe = load_entity(str(tmp_path / "user" / "isoflow.py"), "probe")
    flag = str(tmp_path / "flag")
    needles = [SECRETS_KEY.encode(), b"operator-token-5d1f0e"]
    if store == "postgres":
        needles.append(PASSWORD.encode())
    with Client(server.url, project="beta") as c:
        c.register([probe])
        ex = c.launch(probe, {"flag": flag})
        deadline = time.monotonic() + 60
        while not Path(flag + ".pid").exists():
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        time.sleep(0.2)  # the pid is written: the task is in its loop
        worker = int(Path(flag + ".pid").read_text())
        parent = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
        seen = {
            "worker environ": [
                n for n in needles if n in Path(f"/proc/{worker}/environ").read_bytes()
            ],
            "parent environ": [
                n for n in needles if n in Path(f"/proc/{parent}/environ").read_bytes()
            ],
            "worker memory": _memory_holds(worker, needles),
            "parent memory": _memory_holds(parent, needles),
        }
        Path(flag).write_text("go")
        detail = c.wait(ex.id, timeout=60)
        assert detail.phase == "succeeded", detail
        names = set(c.outputs(ex.id, probe))
    denied = {"AIRFOIL_SECRETS_KEY", "AIRFOIL_DATABASE_URL", "AIRFOIL_SECRET_OPERATORS_OWN"}
    seen["os.environ"] = sorted(denied & names)
    assert seen == {view: [] for view in seen}, seen
    assert "AIRFOIL_HOME" in names  # the rest of the environment is there


@pytest.mark.parametrize("served", ["sqlite"], indirect=True)
def test_the_servers_home_and_database_are_its_users_alone(
    served: tuple[_Server, str],
) -> None:
    server, _ = served
    # Created by the server: no other user of the machine lists the home or reads the
    # database (every project's runs, key hashes and encrypted secrets).
    assert stat.S_IMODE(server.home.stat().st_mode) == 0o700
    for name in ("airfoil.db", "airfoil.db-wal"):
        assert stat.S_IMODE((server.home / name).stat().st_mode) == 0o600, name
