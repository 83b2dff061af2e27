"""A PostgreSQL cluster of a test's own, to crash: ``initdb`` into a temporary directory, a
free 127.0.0.1 port, its WAL writer held still (``SIGSTOP``) so that lazy commits stay in
PostgreSQL's memory, then a crash (the WAL writer killed, ``pg_ctl stop -m immediate``: the
WAL PostgreSQL had not written is gone) and a start again (crash recovery). Skips when no
``initdb`` is installed; run as root, the cluster runs as the ``postgres`` user (PostgreSQL
refuses root) in a directory of its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airfoil.core import ports


class OwnPostgres:
    """A running cluster: ``url`` reaches its database ``postgres`` as user ``postgres``."""

    def __init__(self, bin_dir: Path, root: Path, settings: dict[str, str], user: str | None):
        self._bin = bin_dir
        self._data = root / "data"
        self._log = root / "log"
        self._as = ["runuser", "-u", user, "--"] if user else []
        self.port = ports.free_port("127.0.0.1")  # outside the ephemeral range
        self._options = " ".join(
            f"-c {k}={v}"
            for k, v in {
                "port": str(self.port),
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": "''",
                "autovacuum": "off",  # no WAL but the test's
                **settings,
            }.items()
        )
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._held: int | None = None  # the WAL writer's pid, while it is stopped
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self._bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self._data),
            "-o",
            self._options,
            "-l",
            str(self._log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def hold_wal_writer(self) -> None:
        """Stop the WAL writer (``SIGSTOP``): from now on only a synchronous commit writes
        the WAL, so whatever commits lazily stays in PostgreSQL's memory (its WAL buffers),
        where a crash loses it: what a ``wal_writer_delay`` longer than the test makes
        likely, made certain (a completed WAL page wakes the writer early)."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                sql = "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'"
                self._held = int(conn.execute(sa.text(sql)).scalar_one())
        finally:
            engine.dispose()
        os.kill(self._held, signal.SIGSTOP)

    def crash(self) -> None:
        """PostgreSQL dies with what it had not written: the held WAL writer is killed (it
        never runs again: ``SIGKILL``) and the cluster stopped at once, no checkpoint
        (``pg_ctl stop -m immediate``). ``start`` recovers it from the WAL on disk."""
        if self._held is not None:
            os.kill(self._held, signal.SIGKILL)
            self._held = None
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.crash()


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextlib.contextmanager
def own_postgres(tmp_path: Path, **settings: str) -> Iterator[OwnPostgres]:
    """A started cluster with the given server settings, stopped (immediately) at the end."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no initdb (PostgreSQL's server binaries) to make a cluster of the test's own")
    user = None
    root = tmp_path / "own-postgres"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run a cluster as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and no runuser to run a cluster as 'postgres'")
        user = "postgres"
        root = Path(tempfile.mkdtemp(prefix="airfoil-own-pg-"))  # tmp_path is root's, 0700
        os.chown(root, owner.pw_uid, owner.pw_gid)
    else:
        root.mkdir()
    cluster = None
    try:
        cluster = OwnPostgres(bin_dir, root, settings, user)
        cluster.start()
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop()
        if user is not None:
            shutil.rmtree(root, ignore_errors=True)
