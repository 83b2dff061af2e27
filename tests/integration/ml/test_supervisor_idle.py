"""An idle server's deployment supervisor backs off: with nothing deployed it reads the
deployments at most every ``idle_interval_s`` (it read them four times a second, ~1% of a
core for a server that serves nothing), and is back at ``interval_s`` as soon as a
deployment to run appears, written by another process (no API call to wake it)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.deployments import Deployment
from airfoil.store.memory_artifacts import MemoryArtifactStore

pytestmark = pytest.mark.integration


class CountingStore(MemoryArtifactStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[float] = []
        self.lock = threading.Lock()

    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        with self.lock:
            self.reads.append(time.monotonic())
        return super().list_deployments(project)

    def reads_since(self, t: float) -> int:
        with self.lock:
            return sum(1 for r in self.reads if r >= t)


def _deployment(status: str) -> Deployment:
    now = time.time()
    return Deployment(
        project="default",
        name="m",
        ref="m:1",
        replicas=1,
        created_at=now,
        updated_at=now,
        status=status,
    )


def test_an_idle_supervisor_backs_off_and_wakes_for_a_deployment_to_run(tmp_path: Path) -> None:
    store = CountingStore()
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "deps"))
    sup = Supervisor(store, env, interval_s=0.05, idle_interval_s=0.8, zygotes=False)
    sup.start()
    try:
        time.sleep(0.5)  # the back-off grows: 0.1, 0.2, 0.4, then 0.8
        t0 = time.monotonic()
        time.sleep(2.0)
        idle = store.reads_since(t0)
        assert 1 <= idle <= 4  # every 0.8 s (40 at the 0.05 s interval)
        store.put_deployment(_deployment("stopped"))  # nothing to run: still idle
        t1 = time.monotonic()
        time.sleep(1.7)
        assert 1 <= store.reads_since(t1) <= 4
        # A deployment to run, held by another server (so no process is started here).
        store.put_deployment(_deployment("running"))
        assert store.claim_deployment("default", "m", "other", time.time(), 60.0) is not None
        time.sleep(1.0)  # the current wait (at most 0.8 s) ends, then every 0.05 s
        t2 = time.monotonic()
        time.sleep(1.0)
        assert store.reads_since(t2) >= 10
    finally:
        sup.close()
