"""Two ``airfoil server start --executor ray`` processes on one PostgreSQL and one real Ray
cluster (a head and two worker nodes started with ``ray start``) admit through one authority
keyed by the cluster's address: a project's quota holds across both replicas (read from the
attempts' timestamps) and every run succeeds on the cluster."""

from __future__ import annotations

import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _replicas import Replica, most_at_once, until

from airfoil.store._scheduling import ProjectQuota
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._admission import SqlAdmissionStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executors"))
from test_ray_cluster import Cluster
from test_ray_cluster import cluster as ray_cluster  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.ray,
    pytest.mark.timeout(420),
]

pytest.importorskip("ray", reason="ray is not installed: pip install 'airfoil[ray]'")

FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task(requests=af.Resources(cpu=1))
    def hold(i: int, seconds: float) -> int:
        time.sleep(seconds)
        return i


    @af.task
    def total(a: int, b: int) -> int:
        return a + b


    @af.workflow
    def two(seconds: float = 1.0) -> int:
        return total(a=hold(i=1, seconds=seconds), b=hold(i=2, seconds=seconds))
    """
)


def test_quota_holds_across_replicas_on_one_ray_cluster(
    ray_cluster: Cluster,  # noqa: F811  (the imported fixture)
    pg_schema_factory: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    for key in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "PYTHONPATH"):
        monkeypatch.setenv(key, ray_cluster.env[key])
    url = pg_schema_factory()
    home = tmp_path / "home"
    home.mkdir()
    project = f"p{uuid.uuid4().hex[:6]}"
    meta = SqlMetaStore(url)
    admission = SqlAdmissionStore(url)
    options = ("--executor", "ray", "--ray-address", ray_cluster.address)
    replicas = [Replica(home, url, tmp_path / f"{n}.log", *options) for n in ("a", "b")]
    try:
        for r in replicas:
            r.ready(180)
        meta.put_quota(ProjectQuota(project, cpu=1.0, borrow=False))
        name = f"admray_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(FLOW)
        load_entity(str(tmp_path / f"{name}.py"), "two")
        mod: Any = sys.modules[name]
        ids = []
        for r in replicas:
            with Client(r.url, project=project) as client:
                client.register([mod.two])
                ids.append(client.launch(mod.two, {"seconds": 2.0}).id)
        with Client(replicas[0].url, project=project) as client:
            for e in ids:
                detail = client.wait(e, timeout=240)
                assert detail.phase == "succeeded", detail
                assert client.outputs(e, mod.two) == 3
        key = f"ray:{ray_cluster.address}"
        lease = admission.authority(key)
        assert lease is not None and lease.epoch >= 1, key
        assert lease.holder.split(":")[1] in {str(r.proc.pid) for r in replicas}
        spans = [
            (a.started_at, a.ended_at or time.time())
            for e in ids
            for a in meta.get_attempts(e)
            if a.node_id in {"n0", "n1"}  # the two holds (total asks for nothing)
        ]
        assert len(spans) == 4, spans
        assert most_at_once(spans) == 1, sorted(spans)  # the quota, across both replicas
    finally:
        for r in replicas:
            r.stop()
        meta.close()
        admission.close()
        until("nothing of ours left", lambda: all(r.proc.poll() is not None for r in replicas), 30)
