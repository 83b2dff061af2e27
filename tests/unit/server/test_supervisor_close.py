"""A server stopping during a database outage stops in bounded time (adv21): the supervisor's
close handed each deployment's lease back through the store, which retries for its budget
(120 s) per deployment, so three deployments held a stop for six minutes; and a Ray
connection being made held it up to 60 s. Now the close takes ``timeout_s`` at most; a lease
not handed back runs out in ``lease_ttl_s`` (the next server takes it over then)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from airfoil.server._ray_deployments import RayDeployments
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.deployments import DeploymentLease
from airfoil.store.memory_artifacts import MemoryArtifactStore

pytestmark = pytest.mark.unit


class _Outage(MemoryArtifactStore):
    """A store whose writes retry through an outage that lasts until ``end`` is set (its
    retry budget: 120 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.end = threading.Event()
        self.tried: list[tuple[str, str]] = []

    def claim_deployment(
        self, project: str, name: str, owner: str, now: float, ttl_s: float
    ) -> DeploymentLease | None:
        self.tried.append((project, name))
        self.end.wait(120)
        return None


def test_a_close_during_an_outage_is_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _Outage()
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    supervisor = Supervisor(store, env, lease_ttl_s=10.0)
    supervisor._ray_held = {("p", "a"), ("p", "b"), ("q", "c")}  # leases this server holds
    caplog.set_level(logging.WARNING, logger="airfoil")
    try:
        started = time.monotonic()
        supervisor.close(timeout_s=1.0)
        took = time.monotonic() - started
        assert took < 3.0, took  # before: 120 s per deployment
        assert store.tried == [("p", "a")]  # the first hand-back was under way
        assert "were not handed back in time" in caplog.text
        assert "run out in 10 s" in caplog.text
    finally:
        store.end.set()


class _Connecting:
    """A Ray Serve backend whose connection takes as long as ``ready`` is unset."""

    connected = False

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.closed = False

    def connect(self) -> None:
        self.ready.wait(60)

    def close(self) -> None:
        self.closed = True


def test_a_ray_connection_being_made_does_not_hold_the_close() -> None:
    backend = _Connecting()
    ray = RayDeployments(lambda: backend, {})  # type: ignore[arg-type, return-value]
    try:
        assert ray._ready_backend() is None  # connecting on its thread
        started = time.monotonic()
        ray.close(timeout_s=0.5)
        assert time.monotonic() - started < 2.0  # before: up to 60 s
        assert not backend.closed  # left to its thread
    finally:
        backend.ready.set()
