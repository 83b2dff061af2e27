"""The deployment supervisor with real ``airfoil serve`` processes (no HTTP server around
it): a replica that stops answering (SIGSTOP) is killed after ``hung_after_s`` and restarted
on its port; stopping the deployment leaves no process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _tiny import model

from airfoil.ml import ModelRegistry
from airfoil.server._deployments import deploy
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore
from airfoil.wire._deployments import DeploymentIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def _until(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_silent_replica_is_killed_and_restarted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'airfoil.db'}"
    store = SqlArtifactStore(url)
    registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "default")
    trained = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    env = ServiceEnv(str(home), None, str(home / "blobs"), str(home / "deployments"))
    supervisor = Supervisor(store, env, interval_s=0.2, hung_after_s=2.0)
    pids: list[int] = []
    try:
        deploy(store, "default", DeploymentIn(ref=trained.ref), time.time())
        supervisor.start()

        def ready(restarts: int) -> Any:
            d = store.get_deployment("default", "tiny")
            r = d.members[0] if d is not None and d.members else None
            return r if r is not None and r.status == "ready" and r.restarts == restarts else None

        first = _until("a ready replica", lambda: ready(0))
        pids.append(first.pid)
        row = {"features": [{"a": 1.0, "b": 1.0, "c": 0.0}]}
        base = f"http://127.0.0.1:{first.port}"
        assert httpx.post(base + "/predict", json=row, timeout=10).status_code == 200
        os.kill(first.pid, signal.SIGSTOP)  # alive, but answers nothing
        again = _until("the silent replica replaced", lambda: ready(1))
        pids.append(again.pid)
        assert again.pid != first.pid and not _alive(first.pid)
        assert again.last_exit == -signal.SIGKILL and again.port == first.port
        assert httpx.post(base + "/predict", json=row, timeout=10).status_code == 200
        supervisor.stop_deployment("default", "tiny")
        assert not _alive(again.pid) and store.list_deployments() == []
    finally:
        supervisor.close()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        store.close()


def test_two_servers_run_a_deployment_once_and_hand_it_over(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'airfoil.db'}"
    store_a, store_b = SqlArtifactStore(url), SqlArtifactStore(url)
    registry = ModelRegistry(store_a, open_blob_store(str(home / "blobs")), "default")
    trained = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    env = ServiceEnv(str(home), None, str(home / "blobs"), str(home / "deployments"))
    a = Supervisor(store_a, env, interval_s=0.2, lease_ttl_s=2.0)
    b = Supervisor(store_b, env, interval_s=0.2, lease_ttl_s=2.0)
    pids: set[int] = set()
    try:
        deploy(store_a, "default", DeploymentIn(ref=trained.ref, replicas=2), time.time())
        a.start()
        b.start()

        def ready() -> Any:
            d = store_a.get_deployment("default", "tiny")
            ok = d is not None and len(d.members) == 2
            return d if ok and all(r.status == "ready" for r in d.members) else None

        first = _until("two ready replicas", ready)
        pids.update(r.pid for r in first.members if r.pid)
        time.sleep(1.0)  # several passes of both supervisors
        again = ready()
        assert again is not None and {r.pid for r in again.members} == pids
        assert again.owner == a.owner != b.owner and len(pids) == 2

        a.close()  # the first server goes away: the second takes over the same processes
        taken = _until(
            "the other server holding it",
            lambda: (d := store_b.get_deployment("default", "tiny")) and d.owner == b.owner and d,
        )
        assert {r.pid for r in taken.members} == pids and all(_alive(p) for p in pids)
        assert all(r.restarts == 0 for r in taken.members)
        b.stop_deployment("default", "tiny")
        assert not any(_alive(p) for p in pids)
    finally:
        a.close()
        b.close()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        store_a.close()
        store_b.close()
