"""A real ``airfoil server start`` over a fresh home, for the console and server tests.

:class:`Server` is one server process; :func:`served` is the shape of every module's
``server`` fixture: a fresh home and working folder holding the user's files, the server
started there, the flow registered and some executions run, then stopped when done::

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with served(tmp_path_factory, "console-x", FLOW, register=True) as srv:
            srv.must("run", "--name", "a", "flow.py", "train")
            yield srv
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from airfoil.core import ports

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "airfoil" / "server" / "static" / "index.html"


def free_port() -> int:
    return ports.free_port("127.0.0.1")  # outside the ephemeral range (airfoil.core.ports)


class Server:
    """``airfoil server start`` on a free port, its home ``home``, run in ``work``; ready
    (``/readyz``) when built. ``env`` is added to this process's environment."""

    def __init__(self, home: Path, work: Path, env: Mapping[str, str] | None = None) -> None:
        self.home, self.work = home, work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PACKAGE_CACHE=str(work / "pkgs")
        )
        self.env.update(env or {})
        self.log = open(work / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            cwd=work,
        )
        deadline = time.monotonic() + 60
        # One client for the polls: httpx.get builds one (and its TLS context) a call, ~50 ms
        # of CPU under load, taken from the server starting beside it.
        with httpx.Client(timeout=2) as http:
            while True:
                try:
                    if http.get(self.url + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert self.proc.poll() is None and time.monotonic() < deadline, self.logs()
                time.sleep(0.1)

    def logs(self) -> str:
        return (self.work / "server.log").read_text()

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``airfoil ARGS`` in the working folder, against this server's home (with ``env``
        added to the server's environment), given ``stdin``."""
        return subprocess.run(
            [sys.executable, "-m", "airfoil.cli", *args],
            env={**self.env, **(env or {})},
            input=stdin,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def must(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """:meth:`cli`, which must succeed (else the test fails with what it said)."""
        done = self.cli(*args, env=env, stdin=stdin)
        assert done.returncode == 0, done.stderr + done.stdout
        return done

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    files: str | Mapping[str, str] = "",
    *,
    register: bool = False,
    runs: tuple[tuple[str, ...], ...] = (),
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """A :class:`Server` over a fresh home (or ``home``, prepared by the caller), its
    working folder ``name`` holding ``files`` (name -> text; a text alone is ``flow.py``);
    then ``flow.py`` registered (its workflows launchable from the console's forms) if
    ``register``, then each of ``runs`` (``airfoil`` commands, which must succeed); stopped
    on leaving. Fails the test if the console was not built."""
    if not STATIC.exists():
        pytest.fail("the console is not built: run `make install` (it runs npm in ui/)")
    work = tmp_path_factory.mktemp(name)
    for file, text in ({"flow.py": files} if isinstance(files, str) else files).items():
        if text:
            (work / file).write_text(text)
    srv = Server(home if home is not None else tmp_path_factory.mktemp("home"), work, env)
    try:
        if register:
            srv.must("register", "flow.py", "--server", srv.url)
        for args in runs:
            srv.must(*args)
        yield srv
    finally:
        srv.stop()
