"""A process replica's resources are enforced, not only admitted (real processes, real
HTTP): a replica whose resident memory goes over its ``memory`` is killed, recorded as out
of memory on the deployment (replica and message) and restarted; a replica asking for whole
CPUs is pinned to that many CPUs, distinct ones for two replicas while the machine has them,
also when it is forked by the deployment's zygote."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from _deployments import HOG_MODEL, alive, load_model_file, ready_in_store, until
from _replica_home import ReplicaHome

from airfoil.server._deployments import deployment_out
from airfoil.store.deployments import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_memory_is_enforced_and_whole_cpus_are_pinned(
    tmp_path: Path, replica_home: ReplicaHome
) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to see two replicas pinned apart")
    module = load_model_file(tmp_path / "hog_model.py", HOG_MODEL)
    home = replica_home
    store = home.store
    ref = module.model.train(registry=home.registry).ref
    supervisor = home.supervisor(interval_s=0.2)
    pids = home.pids

    def ready(restarts: int) -> Deployment | None:
        d = ready_in_store(store, "default", "hog", 2)
        if d is None:
            return None
        pids.update(r.pid for r in d.members if r.pid)
        return d if sum(r.restarts for r in d.members) == restarts else None

    home.deploy(ref, replicas=2, cpus=1.0, memory="700Mi")
    supervisor.start()
    d = until("two ready replicas", lambda: ready(0), timeout=120)
    for r in d.members:  # one whole CPU each, not the same one
        assert len(r.cpus) == 1 and os.sched_getaffinity(r.pid or 0) == set(r.cpus)
    assert d.members[0].cpus != d.members[1].cpus
    zygote = until("the zygote", lambda: supervisor.zygote("default", "hog"), timeout=120)
    assert zygote.wait_ready(120), zygote.error

    first = d.members[0]
    url = f"http://127.0.0.1:{first.port}/predict"
    small = httpx.post(url, json={"features": [{"mib": 50.0}]}, timeout=30)
    assert small.status_code == 200 and small.json()["predictions"] == [1]
    time.sleep(1.0)  # several passes: under its memory, it is left alone
    assert alive(first.pid or 0)
    try:  # the leak goes over 700 MiB: killed (the answer may or may not get out)
        httpx.post(url, json={"features": [{"mib": 900.0}]}, timeout=30)
    except httpx.TransportError:
        pass

    def killed() -> Deployment | None:
        d = store.get_deployment("default", "hog")
        r = d.members[0] if d is not None else None
        return d if r is not None and r.restarts == 1 else None

    after = until("the replica killed", killed, timeout=120)
    r0 = after.members[0]
    assert r0.last_exit == -signal.SIGKILL and not alive(first.pid or 0)
    assert r0.exit_reason.startswith("out of memory: it used ")
    assert "over its memory of 700 MiB" in r0.exit_reason
    if r0.status != "ready":  # said on the deployment while it is not serving
        assert "replica 0 was killed, out of memory" in after.message
    api = deployment_out(after).members[0]
    assert api.exit_reason == r0.exit_reason and api.last_exit == -signal.SIGKILL

    again = until("the replica restarted", lambda: ready(1), timeout=120).members[0]
    assert again.pid != first.pid and again.exit_reason == r0.exit_reason
    with open(f"/proc/{again.pid}/stat", "rb") as f:  # forked by the zygote...
        assert int(f.read().rsplit(b")", 1)[-1].split()[1]) == zygote.pid
    assert os.sched_getaffinity(again.pid or 0) == set(again.cpus)  # ...and pinned
    assert len(again.cpus) == 1 and again.cpus != ready(1).members[1].cpus  # type: ignore[union-attr]
    back = httpx.post(url, json={"features": [{"mib": 0.0}]}, timeout=30)
    assert back.status_code == 200 and back.json()["predictions"] == [0]  # a fresh process
