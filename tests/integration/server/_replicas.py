"""Helpers of the admission replica tests: ``airfoil server start`` processes on one
database, and reading overlaps from attempt spans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _deployments import until as until  # the replica tests' wait, shared
from _srv import free_port

LEASE = 3.0


class Replica:
    """An ``airfoil server start`` process (one slot, a ``LEASE`` lease) on ``url``."""

    def __init__(self, home: Path, url: str, log: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AIRFOIL_HOME=str(home))
        env["AIRFOIL_PACKAGE_CACHE"] = str(home / "packages")
        env.pop("AIRFOIL_ADMISSION", None)  # auto: PostgreSQL means one authority
        self.log = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(self.port),
                "--database-url", url, "--slots", "1", "--lease-ttl", str(LEASE), *options,
            ],
            env=env, stdout=self.log, stderr=self.log, cwd=home,
        )  # fmt: skip

    def pids(self) -> set[str]:
        """The pids of the replica's processes that hold leases: the server's and, on
        PostgreSQL, its engine process's (the driver slots run there)."""
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.Error:
            children = []
        return {str(self.proc.pid), *(str(c.pid) for c in children)}

    def ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as http:  # one client for the polls, not one a poll
            while True:
                try:
                    if http.get(self.url + "/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert self.proc.poll() is None and time.monotonic() < deadline, "replica down"
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most
