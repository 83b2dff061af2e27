"""``durability=power`` on a server: its database commits and its blob writes (uploads,
packages, the workers' outputs) survive a power loss, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from _srv import start_server

from airfoil.core.errors import ConfigError
from airfoil.executors.base import DelegatingExecutor
from airfoil.server import ServerConfig

pytestmark = pytest.mark.integration


def _commit_setting(meta: object, dialect: str) -> str:
    cur = meta._cursor()  # type: ignore[attr-defined]  # the store's own connection
    cur.execute("PRAGMA synchronous" if dialect == "sqlite" else "SHOW synchronous_commit")
    return str(cur.fetchone()[0])


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name fds")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("durability", ["process", "power"])
def test_the_server_honours_durability(
    backend: str,
    durability: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = None
    if backend == "postgres":
        new_schema: Callable[[], str] = request.getfixturevalue("pg_new_schema")
        # A PostgreSQL whose default is to acknowledge commits before they are on disk.
        url = new_schema().replace("options=", "options=-csynchronous_commit%3Doff%20")
    running = start_server(tmp_path / "home", url, durability=durability)
    try:
        deps = running.deps
        assert deps.blobs.durability == durability
        executor = deps.driver.make_executor()
        try:
            workers = executor
            while isinstance(workers, DelegatingExecutor):  # the runtime's hooks wrap it
                workers = workers.inner
            assert workers.durability == durability  # the workers fsync their outputs
        finally:
            executor.close()
        if backend == "sqlite":
            assert _commit_setting(deps.meta, "sqlite") == ("2" if durability == "power" else "1")
        else:  # power overrides the server's default; process leaves it alone
            assert _commit_setting(deps.meta, "pg") == ("on" if durability == "power" else "off")
        with deps.registry.engine.connect() as conn:  # the server's own tables: keys, entities
            setting = conn.exec_driver_sql(
                "PRAGMA synchronous" if backend == "sqlite" else "SHOW synchronous_commit"
            ).scalar()
        if durability == "power":
            assert str(setting) == ("2" if backend == "sqlite" else "on")
        synced: list[str] = request.getfixturevalue("fsyncs")  # from now on
        data = b"an upload the server must not lose " * 100
        sha = hashlib.sha256(data).hexdigest()
        r = httpx.put(f"{running.url}/api/v1/projects/dur/uploads/{sha}", content=data)
        assert r.status_code < 300, r.text
        path = deps.blobs.local_path(deps.blobs.uri(f"uploads/dur/{sha[:2]}/{sha}"))
        assert path is not None and Path(path).read_bytes() == data
        if durability == "power":  # the blob's bytes, then its directory, before the answer
            written = [p for p in synced if p.startswith(str(tmp_path))]
            assert os.path.dirname(path) in written
            assert any(os.path.dirname(p) == os.path.join(deps.blobs.root, "tmp") for p in written)
        else:
            assert not [p for p in synced if p.startswith(str(tmp_path))]
    finally:
        running.stop()


def test_the_server_cleans_stale_blob_temporaries_at_start(tmp_path: Path) -> None:
    stale = tmp_path / "home" / "blobs" / "tmp" / "left-by-a-crash"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    running = start_server(tmp_path / "home", None, run_engine=False)
    try:
        assert not stale.exists()
    finally:
        running.stop()


def test_an_unknown_durability_is_a_config_error_naming_the_levels(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad durability= .* 'disk': give .*'process'.*'power'"):
        ServerConfig(home=str(tmp_path), durability="disk")


@pytest.mark.parametrize("durability", ["process", "power"])
def test_the_engine_process_honours_durability(
    durability: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PostgreSQL server's driver slots run in an engine process with stores of its own:
    under ``power`` its commits (store and registry) wait for the disk and its blob store and
    workers fsync, though the database's default is not to; ``process`` leaves the default.
    Then it drives an execution to its end."""
    import json
    import time

    from _srv import probe_engine_process

    import airfoil.server._app as app_module

    new_schema: Callable[[], str] = request.getfixturevalue("pg_new_schema")
    url = new_schema().replace("options=", "options=-csynchronous_commit%3Doff%20")
    monkeypatch.setattr(app_module, "run_engine_process", probe_engine_process)
    running = start_server(tmp_path / "home", url, durability=durability, engine_process=True)
    try:
        probe_file = tmp_path / "home" / "engine-probe.json"
        deadline = time.monotonic() + 60
        while not probe_file.exists():
            assert time.monotonic() < deadline, "the engine process never opened its runtime"
            time.sleep(0.05)
        probe = json.loads(probe_file.read_text())
        assert probe["pid"] != os.getpid()  # the engine's own process and stores
        on = "on" if durability == "power" else "off"
        assert (probe["meta"], probe["registry"]) == (on, on)
        assert (probe["blobs"], probe["workers"]) == (durability, durability)
        assert httpx.get(f"{running.url}/readyz").status_code == 200
    finally:
        running.stop()
