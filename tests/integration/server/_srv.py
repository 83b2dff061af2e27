"""Helpers of the server tests: the user's flow, free ports (for servers in subprocesses), a
server in a thread, ``airfoil server start`` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _in_thread import serve_in_thread

from airfoil.core import ports

FLOW = textwrap.dedent(
    """
    import dataclasses
    import enum
    import os
    import sys
    import time

    import numpy as np
    import pandas as pd

    import airfoil as af


    class Mode(enum.Enum):
        FAST = "fast"
        SLOW = "slow"


    @dataclasses.dataclass
    class Config:
        scale: float
        tags: list[str]
        mode: Mode


    @af.task
    def double(x: int) -> int:
        print("doubling", x)
        return 2 * x


    @af.task(cache=True, cache_version="1")
    def add(a: int, b: int) -> int:
        return a + b


    @af.task(cache=True, cache_scope="team")
    def team_add(a: int, b: int) -> int:
        return a + b


    @af.workflow
    def team_wf(x: int = 3) -> int:
        return team_add(a=x, b=x)


    @af.task
    def configure(cfg: Config, n: int = 2) -> dict[str, float]:
        return {t: cfg.scale * n for t in cfg.tags}


    @af.task
    def describe(x: int, threshold: float) -> str:
        return f"{x}>{threshold}" if x > threshold else f"{x}<={threshold}"


    @af.task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
        return seconds


    @af.task
    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")


    @af.task(secret_requests=["token"])
    def uses_secret(salt: str) -> str:
        import hashlib

        print("got a token of", len(af.current_context().secrets["token"]), "chars")
        return hashlib.sha256((salt + af.current_context().secrets["token"]).encode()).hexdigest()


    @af.task(secret_requests=["token"])
    def leaky(x: int) -> int:
        ctx = af.current_context()
        print("context:", ctx)
        print("secrets:", ctx.secrets, f"{ctx.secrets}", list(ctx.secrets))
        print("explicit:", ctx.secrets["token"])
        print("on stderr:", ctx.secrets["token"], file=sys.stderr)
        sys.stderr.flush()
        os.write(2, ("on fd 2: " + ctx.secrets["token"] + "\\n").encode())
        ctx.logger.info("logged %s", ctx.secrets.get("token"))
        raise RuntimeError(f"failed in {ctx} with token={ctx.secrets['token']!r} and {x}")


    @af.workflow
    def leaky_wf(x: int = 1) -> int:
        return leaky(x=x)


    @af.workflow
    def gated(x: int = 5) -> str:
        threshold = af.wait_for_input("threshold", timeout=30.0, expected_type=float)
        approved = af.approve(double(x=x), "ship", timeout=30.0)
        return describe(x=approved, threshold=threshold)


    @af.workflow
    def wf(x: int = 3) -> int:
        return add(a=double(x=x), b=double(x=x))


    @af.workflow
    def sleepy(seconds: float = 5.0) -> float:
        return nap(seconds=seconds)


    @af.workflow
    def broken(x: int = 1) -> int:
        return boom(x=x)


    @af.task
    def needs_flag(path: str, x: int) -> int:
        import os

        if not os.path.exists(path):
            raise ValueError(f"no flag at {path} yet")
        return x + 1


    @af.workflow
    def flaky(path: str, x: int = 4) -> int:
        return needs_flag(path=path, x=double(x=x))


    @af.task
    def file_text(f: af.File) -> str:
        with open(f.path) as fh:
            return fh.read()


    @af.task
    def frame_total(df: "pd.DataFrame") -> float:
        return float(df.to_numpy().sum())


    @af.task
    def array_total(a: "np.ndarray") -> float:
        return float(a.sum())


    @af.task
    def dir_count(d: af.Directory) -> int:
        return len(os.listdir(d.path))
    """
)


SECRETS_KEY = "x5-0s8Zt6b8QGqAGRpJjqM3ZlLbQ1xv3Q8m1yW8T5bA="


def user_module(root: Path, name: str, source: str, entity: str) -> Any:
    """Write ``source`` as ``root/name.py`` and import it as the CLI does (by ``entity``);
    the module."""
    import sys

    from airfoil.cli._load import load_entity

    (root / f"{name}.py").write_text(source)
    load_entity(str(root / f"{name}.py"), entity)
    return sys.modules[name]


def free_port() -> int:
    """A port for a server process to listen on: outside the ephemeral range, which every
    connection of a busy test machine draws from (see airfoil.core.ports)."""
    return ports.free_port("127.0.0.1")


class ServerProcess:
    """``airfoil server start --port P ARGS`` in a subprocess (in ``tmp``, its stderr in
    ``tmp/server.log``), ready (``/readyz``) once built."""

    def __init__(
        self, tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> None:
        port = free_port()
        self.log = tmp / "server.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(port), *args],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),  # noqa: SIM115 - closed with the process
        )
        self.url = f"http://127.0.0.1:{port}"
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as http:  # one client for the polls, not one a poll
            while time.monotonic() < deadline:
                try:
                    if http.get(self.url + "/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None:
                    raise AssertionError(self.log.read_text())
                time.sleep(0.1)
        raise AssertionError("the server did not become ready: " + self.log.read_text())

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, as an operator stops it. One still running after ``timeout`` (the
        server's own bounds: 10 s for open requests, 15 s for its engine) fails the test
        once it and every process under it are killed."""
        import psutil

        if self.proc.poll() is not None:
            return
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            tree = []
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            alive = [p for p in tree if p.is_running()]
            for p in alive:
                with contextlib.suppress(psutil.Error):
                    p.kill()
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"the server did not stop in {timeout:.0f} s of SIGTERM; killed it and "
                f"{[p.pid for p in alive]} under it: {self.log.read_text()[-3000:]}"
            ) from None


@dataclass
class Running:
    """A server running in a thread of this process."""

    url: str
    home: Path
    database_url: str | None
    app: Any
    server: Any
    thread: threading.Thread

    @property
    def deps(self) -> Any:
        return self.app.state.deps

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the server (its lifespan shutdown stops its engine and loops). One still
        running after ``timeout`` fails the test, naming where it waits, once its engine
        process and the processes under it are killed: left alive, that non-daemon child
        would hold pytest's exit (multiprocessing joins its children at exit, unbounded)."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if not self.thread.is_alive():
            return
        frame = sys._current_frames().get(self.thread.ident or -1)
        where = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
        killed = _kill_engine(getattr(self.app.state, "deps", None))
        self.server.force_exit = True  # uvicorn skips what it still waits for
        self.thread.join(10)
        raise AssertionError(
            f"the test server at {self.url} did not stop in {timeout:.0f} s; killed its "
            f"engine processes {killed}; its thread waited in:\n{where}"
        )


def _kill_engine(deps: Any) -> list[str]:
    """Kill a test server's engine process and what runs under it (its workers), without a
    restart; what was killed."""
    import psutil

    engine = getattr(deps, "driver", None)
    pid = getattr(engine, "pid", None)
    if pid is None:
        return []
    engine.stopping.set()  # its reader must not start another one
    killed = []
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            killed.append(f"{p.pid} ({' '.join(p.cmdline())[:80]})")
            p.kill()
    psutil.wait_procs(procs, timeout=10)
    return killed


def start_server(
    home: Path,
    database_url: str | None,
    *,
    run_engine: bool = True,
    lease_ttl_s: float = 3.0,
    store_retry_budget_s: float = 120.0,
    hooks: Any = None,
    durability: str = "process",
    engine_process: bool = False,
    **more: Any,
) -> Running:
    from airfoil.server import ServerConfig, create_app

    # The tests' webhook receivers listen on 127.0.0.1, which a server refuses by default.
    more.setdefault("webhook_allowed_networks", ("127.0.0.1",))
    more.setdefault("slots", 3)
    more.setdefault("max_parallel", 2)
    config = ServerConfig(
        **more,
        secrets_key=SECRETS_KEY,
        home=str(home),
        database_url=database_url,
        run_engine=run_engine,
        lease_ttl_s=lease_ttl_s,
        store_retry_budget_s=store_retry_budget_s,
        hooks=hooks,
        durability=durability,
        engine_process=engine_process,
    )
    app = create_app(config)
    # As ``airfoil server start``: open requests (a /watch stream) get a grace, not forever.
    started = serve_in_thread(
        app, log_level="error", lifespan="on", timeout_graceful_shutdown=config.stop_grace_s
    )
    deadline = time.monotonic() + 30
    running = Running(started.url, home, database_url, app, started.server, started.thread)
    if engine_process:  # its slots start in the engine process a moment later
        import httpx

        try:
            with httpx.Client() as http:  # one client for the polls, not one (~50 ms) each
                while http.get(running.url + "/readyz").status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the test server's engine process did not start")
                    time.sleep(0.05)
        except BaseException:
            with contextlib.suppress(AssertionError):  # what failed first is the news
                running.stop()
            raise
    return running


@contextlib.contextmanager
def server_on(
    store: str, home: Path, pg_schema: Callable[[], str] | None = None
) -> Iterator[Running]:
    """A server on ``store`` (``sqlite`` or ``postgres``: a fresh schema from ``pg_schema``),
    its packages cached under ``home`` (``AIRFOIL_PACKAGE_CACHE``, put back after)."""
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(home / "packages")
    url = pg_schema() if store == "postgres" and pg_schema is not None else None
    running = start_server(home, url)
    try:
        yield running
    finally:
        running.stop()
        if old is None:
            os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
        else:
            os.environ["AIRFOIL_PACKAGE_CACHE"] = old


def probe_engine_process(
    config: Any, conn: Any, switch_interval_s: float, close_fd: int = -1
) -> None:
    """``run_engine_process`` (the engine process's entry) that first writes what the engine's
    own runtime holds to ``<home>/engine-probe.json``: its pid, its store connection's
    ``synchronous_commit``, the registry's, and its blob store's and workers' durability.
    Module-level so that a spawned engine process can import it."""
    import json
    import os

    from airfoil.executors.base import DelegatingExecutor
    from airfoil.server import _config

    real = _config.open_runtime

    def recording(cfg: Any, role: str = "api") -> Any:
        runtime, registry = real(cfg, role)
        cur = runtime.meta._cursor()  # type: ignore[attr-defined]  # the store's own connection
        cur.execute("SHOW synchronous_commit")
        meta_sync = str(cur.fetchone()[0])
        with registry.engine.connect() as c:
            registry_sync = str(c.exec_driver_sql("SHOW synchronous_commit").scalar())
        executor = runtime.new_executor()
        try:
            workers = executor
            while isinstance(workers, DelegatingExecutor):
                workers = workers.inner
            worker_durability = str(getattr(workers, "durability", "?"))
        finally:
            executor.close()
        probe = {
            "pid": os.getpid(),
            "meta": meta_sync,
            "registry": registry_sync,
            "blobs": str(getattr(runtime.stores.blobs, "durability", "?")),
            "workers": worker_durability,
        }
        Path(cfg.home).mkdir(parents=True, exist_ok=True)
        Path(cfg.home, "engine-probe.json").write_text(json.dumps(probe))
        return runtime, registry

    _config.open_runtime = recording  # type: ignore[assignment]
    _config.run_engine_process(config, conn, switch_interval_s, close_fd)


def memory_runtime(tmp_path: Path, meta: Any) -> tuple[Any, Any, str]:
    """A server's runtime over the memory metadata store ``meta`` (a driver's tests):
    ``(runtime, its registry (to close), its blob URL)``."""
    from airfoil.local import Runtime
    from airfoil.server._registry import Registry
    from airfoil.settings import AirfoilSettings
    from airfoil.store.blob import open_blob_store
    from airfoil.store.stores import Stores

    registry = Registry(None, str(tmp_path / "home"))
    blob_url = str(tmp_path / "blobs")
    stores = Stores(meta, open_blob_store(blob_url), blob_url=blob_url, registry=registry)
    return Runtime(AirfoilSettings(home=str(tmp_path / "home")), stores), registry, blob_url
