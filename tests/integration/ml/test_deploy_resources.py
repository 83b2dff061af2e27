"""Per-deployment replica resources (``airfoil deploy --cpus C --gpus G --memory M``).

Processes: each replica is admitted through a resource queue (the server's, here one over a
2-CPU machine with one pretend GPU), starts with ``CUDA_VISIBLE_DEVICES`` set to the GPU it
was granted, waits ``queued`` while another deployment holds it, keeps its grant across a
crash, and starts once the holder stops; a replica that could never fit is refused when it is
deployed, naming the options to lower.

The same on Ray Serve is tested with the other Ray Serve tests (``test_ray_serve.py``: one
Serve for them all).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import alive, ready_in_store, until
from _tiny import model

from airfoil.core.errors import ConfigError, UnschedulableTaskError
from airfoil.core.resources import ResourceSpec
from airfoil.engine._resources import ResourceQueue
from airfoil.ml import ModelRegistry
from airfoil.server._deploy_admission import ReplicaAdmission
from airfoil.server._deployments import deploy, deployment_out
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.blob import open_blob_store
from airfoil.store.deployments import Deployment
from airfoil.store.sql import SqlArtifactStore
from airfoil.wire._deployments import DeploymentIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROW = {"features": [{"a": 1.0, "b": 1.0, "c": 0.0}]}


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [p.split(b"=", 1) for p in f.read().split(b"\0") if b"=" in p]
    return {k.decode(): v.decode() for k, v in pairs}


def _gpus_seen(home: Path, project: str, nth: int) -> str:
    """The GPUs the ``nth`` process of replica 0 of ``project``'s deployment announced in its
    log (a replica forked by the zygote inherits the zygote's ``/proc/PID/environ``, so its
    own environment is read from what it says, for cold and forked replicas alike)."""
    log = home / "deployments" / f"{project}.tiny.0.log"
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("serving ")]
    assert len(lines) >= nth, lines
    return lines[nth - 1].rpartition(", GPUs ")[2] if ", GPUs " in lines[nth - 1] else ""


def _get(store: SqlArtifactStore, project: str) -> Deployment | None:
    return store.get_deployment(project, "tiny")


def test_replicas_are_admitted_through_the_resource_queue(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
    blobs = open_blob_store(str(home / "blobs"))
    refs = {}
    for project in ("default", "other"):
        registry = ModelRegistry(store, blobs, project)
        refs[project] = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120).ref
    queue = ResourceQueue(ResourceSpec(cpu=2.0, mem=8 * 2**30, gpu=1), ("0",))
    admission = ReplicaAdmission(lambda: queue)
    env = ServiceEnv(str(home), None, str(home / "blobs"), str(home / "deployments"))
    supervisor = Supervisor(store, env, interval_s=0.2, admission=admission)

    def check(d: Deployment) -> None:
        supervisor.check_resources(d.project, d.name, d)

    pids: list[int] = []
    try:
        # Refused before anything is recorded: more GPUs than the machine has, bad memory.
        with pytest.raises(UnschedulableTaskError) as too_big:
            deploy(store, "default", DeploymentIn(ref=refs["default"], gpus=2), 0.0, check=check)
        assert "asks for cpu=1, mem=0Mi, gpu=2" in str(too_big.value)
        assert "--gpus" in str(too_big.value) and _get(store, "default") is None
        with pytest.raises(ConfigError, match="invalid memory"):
            deploy(store, "default", DeploymentIn(ref=refs["default"], memory="lots"), 0.0)

        want = DeploymentIn(ref=refs["default"], cpus=0.5, gpus=1, memory="768Mi")
        deploy(store, "default", want, time.time(), check=check)
        supervisor.start()

        def ready(project: str, restarts: int = 0) -> Any:
            d = ready_in_store(store, project, "tiny", 1, restarts)
            return d.members[0] if d is not None else None

        first = until("the first deployment ready", lambda: ready("default"), timeout=90)
        pids.append(first.pid)
        assert _environ(first.pid)["CUDA_VISIBLE_DEVICES"] == "0"
        assert _gpus_seen(home, "default", 1) == "0"
        out = deployment_out(_get(store, "default"))  # type: ignore[arg-type]
        assert out.resources is not None
        assert (out.resources.cpu, out.resources.mem, out.resources.gpu) == (0.5, 768 * 2**20, 1)

        # Another deployment asking for the one GPU waits, saying why.
        other = DeploymentIn(ref=refs["other"], cpus=0.5, gpus=1)
        deploy(store, "other", other, time.time(), check=check)

        def queued() -> Any:
            d = _get(store, "other")
            ok = d is not None and d.members and d.members[0].status == "queued"
            return d if ok else None

        waiting = until("the second deployment queued", queued, timeout=90)
        assert waiting.members[0].pid is None
        assert "waiting for resources" in waiting.message and "gpu=1" in waiting.message

        # A crash keeps the grant: the holder restarts on the GPU, the other still waits.
        os.kill(first.pid, signal.SIGKILL)
        again = until("the crashed replica back", lambda: ready("default", restarts=1), timeout=90)
        pids.append(again.pid)
        assert _gpus_seen(home, "default", 2) == "0"  # forked by the zygote, or cold
        assert queued() is not None

        # The holder stops: the waiting deployment gets the GPU and serves.
        supervisor.stop_deployment("default", "tiny")
        assert not alive(again.pid)
        served = until("the second deployment ready", lambda: ready("other"), timeout=90)
        pids.append(served.pid)
        assert _environ(served.pid)["CUDA_VISIBLE_DEVICES"] == "0"
        assert _get(store, "other").message == ""  # type: ignore[union-attr]
        r = httpx.post(f"http://127.0.0.1:{served.port}/predict", json=ROW, timeout=10)
        assert r.status_code == 200, r.text
        supervisor.stop_deployment("other", "tiny")
        assert admission.held("other", "tiny") == [] and admission.held("default", "tiny") == []
        # Everything was given back: a replica asking for the whole machine fits again.
        queue.check(_whole_machine(), "n", "default")
    finally:
        supervisor.close()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        store.close()


def _whole_machine() -> Any:
    from airfoil.core.records import Interface, TaskSpec

    return TaskSpec(
        name="all",
        version="1",
        interface=Interface(),
        module="",
        qualname="",
        requests=ResourceSpec(cpu=2.0, gpu=1),
    )


def test_redeploying_with_other_resources_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
    try:
        registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "default")
        ref = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120).ref
        deploy(store, "default", DeploymentIn(ref=ref, cpus=1.0), 0.0)
        deploy(store, "default", DeploymentIn(ref=ref, cpus=1.0, replicas=2), 0.0)  # same: ok
        with pytest.raises(ConfigError, match="other replica resources: stop it first"):
            deploy(store, "default", DeploymentIn(ref=ref, cpus=2.0), 0.0)
        with pytest.raises(ConfigError, match="other replica resources"):
            deploy(store, "default", DeploymentIn(ref=ref), 0.0)
    finally:
        store.close()
