"""``airfoil server start`` moves what it holds for its whole life out of the garbage
collector's reach once it has started (``ServerConfig.freeze_heap``): a full collection,
which holds the GIL while every request waits, then walks only the objects made since
(docs/dev/performance-log.md: 50-270 ms pauses of the API under the engine's load before). It
pauses the collector while it starts (what it makes then lives as long as the server), and
the collector runs again once the API is up, in its engine process too."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airfoil.server import ServerConfig, create_app

pytestmark = [pytest.mark.integration]


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Start with nothing frozen and leave nothing frozen (the rest of the suite builds and
    drops many apps: frozen objects are never collected)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_a_server_that_freezes_its_heap_leaves_the_collector_only_what_requests_make(
    tmp_path: Path, unfrozen: None
) -> None:
    app = create_app(ServerConfig(home=str(tmp_path / "home"), run_engine=False, freeze_heap=True))

    async def serve() -> tuple[int, int, httpx.Response]:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            walked = len(gc.get_objects())  # what a full collection would walk now
            return frozen, walked, await _get(app, "/api/v1/projects/p/executions")

    frozen, walked, r = asyncio.run(serve())
    # Everything imported and opened to serve (FastAPI, pydantic, SQLAlchemy, the store):
    assert frozen > 20_000
    assert walked < frozen / 4, (walked, frozen)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []


def test_an_app_left_at_the_default_freezes_nothing(tmp_path: Path, unfrozen: None) -> None:
    app = create_app(ServerConfig(home=str(tmp_path / "home"), run_engine=False))

    async def serve() -> httpx.Response:
        async with app.router.lifespan_context(app):
            return await _get(app, "/api/v1/projects/p/executions")

    assert asyncio.run(serve()).status_code == 200
    assert gc.get_freeze_count() == 0


async def _get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return await client.get(path)


def test_airfoil_server_start_asks_for_the_freeze(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    import airfoil.server
    from airfoil.cli.main import app as cli

    seen: list[ServerConfig] = []

    def capture(config: ServerConfig) -> Any:
        seen.append(config)
        return object()

    monkeypatch.setattr(airfoil.server, "create_app", capture)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    monkeypatch.setenv("AIRFOIL_HOME", str(tmp_path / "home"))
    switch = sys.getswitchinterval()
    try:
        result = CliRunner().invoke(cli, ["server", "start", "--port", "1"])
    finally:
        sys.setswitchinterval(switch)
    assert result.exit_code == 0, result.output
    [config] = seen
    assert config.freeze_heap is True
    assert config.warm_workers is True  # ready means its workers are started (docs/server.md)


def test_the_engine_process_freezes_its_heap_once_warm_and_again_after_its_first_drive(
    tmp_path: Path, unfrozen: None
) -> None:
    import threading
    import time

    from airfoil.executors.inline import InlineExecutor
    from airfoil.local import Runtime
    from airfoil.runtime.worker import WorkerRuntime
    from airfoil.server._driver import Driver
    from airfoil.server._engine_process import _report
    from airfoil.server._registry import Registry
    from airfoil.settings import AirfoilSettings
    from airfoil.store.blob import open_blob_store
    from airfoil.store.memory import MemoryMetaStore
    from airfoil.store.stores import Stores

    go = threading.Event()

    class SlowToWarm(InlineExecutor):
        def warm(self) -> None:
            go.wait(10)

    blob_url = str(tmp_path / "blobs")
    registry = Registry(None, str(tmp_path / "home"))
    stores = Stores(
        MemoryMetaStore(), open_blob_store(blob_url), blob_url=blob_url, registry=registry
    )
    driver = Driver(
        Runtime(AirfoilSettings(home=str(tmp_path / "home")), stores),
        slots=1,
        make_executor=lambda: SlowToWarm(open_blob_store(blob_url), WorkerRuntime()),
        warm=True,
    )
    driver.start()
    sent: list[tuple[Any, ...]] = []
    reporter = threading.Thread(target=_report, args=(driver, sent.append, True), daemon=True)
    reporter.start()

    def frozen_past(count: int) -> int:
        end = time.monotonic() + 5
        while gc.get_freeze_count() <= count and time.monotonic() < end:
            time.sleep(0.05)
        return gc.get_freeze_count()

    try:
        time.sleep(0.5)  # cold: the slot still starts its workers, so nothing frozen yet
        assert sent and sent[0][0] == "status" and sent[-1][-1] is True  # starting
        assert gc.get_freeze_count() == 0
        go.set()  # warm: what building the slot's engine and executor made is frozen
        warm = frozen_past(0)
        assert warm > 20_000  # the imports and the runtime
        made = [[i] for i in range(5_000)]  # what a drive leaves for good
        driver.drives_ended += 1  # what a slot counts when a drive returns
        # (less a few: objects frozen before that die meanwhile leave the count, e.g. an
        # earlier test's leftovers in this process; without a second freeze it only shrinks)
        assert frozen_past(warm) >= warm + len(made) - 500
        assert sent[-1][1] is True and sent[-1][-1] is False  # alive, no longer starting
    finally:
        driver.stop()
        reporter.join(5)
    assert not reporter.is_alive()


def test_airfoil_server_start_pauses_the_collector_until_the_api_is_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    """Before, the start's collections walked what it made over and over (full collections
    of ~50k, ~105k and ~150k objects, thousands of young ones: ~0.25 s of CPU a start)."""
    import uvicorn
    from typer.testing import CliRunner

    import airfoil.server
    from airfoil.cli.main import app as cli

    seen: dict[str, Any] = {}
    build = airfoil.server.create_app

    def create_app(config: ServerConfig) -> Any:
        seen["building"] = gc.isenabled()
        return build(config)

    def run(app: Any, **_: Any) -> None:  # uvicorn's start and stop of the app, no socket
        async def serve() -> None:
            async with app.router.lifespan_context(app):
                seen["serving"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
                seen["answer"] = (await _get(app, "/api/v1/projects/p/executions")).status_code

        asyncio.run(serve())

    monkeypatch.setattr(airfoil.server, "create_app", create_app)
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("AIRFOIL_HOME", str(tmp_path / "home"))
    switch = sys.getswitchinterval()
    try:
        result = CliRunner().invoke(cli, ["server", "start", "--port", "1", "--no-engine"])
        assert result.exit_code == 0, result.output
        assert seen["building"] is False  # paused from the command's start
        assert seen["serving"] is True and seen["answer"] == 200
        assert seen["frozen"] > 20_000
        assert gc.isenabled()
        failed = CliRunner().invoke(cli, ["server", "start", "--slots", "0"])
        assert failed.exit_code != 0 and "--slots" in failed.output
        assert gc.isenabled()  # a start that fails leaves it running too
    finally:
        sys.setswitchinterval(switch)
        gc.enable()


ENGINE_FORKED_PAUSED = """
import gc, json, multiprocessing, sys
import airfoil.server._engine_process as engine
from airfoil.server._config import ServerConfig, run_engine_process

def probe(runtime, config, conn):  # instead of driving: what the engine process runs with
    print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
    runtime.close()

engine.serve_engine = probe
gc.disable()  # as forked by `airfoil server start` while it starts
ours, theirs = multiprocessing.Pipe()
run_engine_process(ServerConfig(home=sys.argv[1], freeze_heap=True), theirs, 0.005)
"""


def test_an_engine_process_forked_while_the_start_paused_the_collector_enables_it(
    tmp_path: Path,
) -> None:
    """The engine process is forked at the server's start, while the collector is paused:
    it freezes its heap once its runtime is open and enables the collector, which would
    otherwise stay off for its whole life (no garbage cycle ever freed)."""
    out = subprocess.run(
        [sys.executable, "-c", ENGINE_FORKED_PAUSED, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["enabled"] is True
    assert probe["frozen"] > 20_000  # its runtime's imports, frozen as they were
