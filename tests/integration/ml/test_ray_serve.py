"""Deployments on Ray Serve with a real local Ray (the session's: 2 CPUs, 2 pretend GPUs), one
Serve started for the module's tests (a start costs seconds) and shut down after them.

With the supervisor (no HTTP server around it): two replicas come up and both serve over HTTP
through Serve's proxy on 127.0.0.1, bad input is a 422 naming the field, an alias move under
a steady client loop loses no request, a killed replica actor is replaced by Serve and
counted as a restart, the drift of both replicas is pooled, and stopping the deployment
deletes the application.

Per-deployment resources (``airfoil deploy --cpus C --gpus G --memory M``; the processes'
side is ``test_deploy_resources.py``): each replica's actor is given the CPUs, GPU and memory
asked (what the replica itself reads from Ray's runtime context), and a replica no node could
hold is refused with a typed error naming the option to lower."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import alive, until
from _tiny import model

from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.resources import ResourceSpec
from airfoil.ml import ModelRegistry
from airfoil.server._deployments import deploy, deployment_out, drift
from airfoil.server._ray_deployments import RayDeployments
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.blob import open_blob_store
from airfoil.store.deployments import Deployment
from airfoil.store.sql import SqlArtifactStore
from airfoil.wire._deployments import DeploymentIn

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.ray]

ROW = {"a": 1.0, "b": 1.0, "c": 0.0}


@pytest.fixture(scope="module")
def serve_api(ray_session: None) -> Iterator[Any]:
    """Ray Serve, started on the session's Ray for this module's tests (each test's backend
    joins it and keeps its proxy) and shut down after them; the session's Ray stays."""
    # Imported here, not while collecting (seconds; most runs collect this module without
    # running it)
    serve = pytest.importorskip("ray.serve", reason="Ray Serve: pip install 'airfoil[ray]'")
    from airfoil.ml._ray_serve import RayServe

    RayServe().connect()  # Serve's start on the session's Ray, its proxy on a free port
    try:
        yield serve
    finally:
        serve.shutdown()


@pytest.fixture
def on_ray(tmp_path: Path, serve_api: Any) -> Iterator[dict[str, Any]]:
    from airfoil.ml._ray_serve import RayServe

    home = tmp_path / "home"
    store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
    registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "default")
    first = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    second = model.train(hyperparameters={"C": 0.01}, registry=registry, rows=160)
    registry.promote(first.ref, "production")
    backend = RayServe(replica_cpus=0.25)
    settings = {"home": str(home), "database_url": None, "blob_url": str(home / "blobs")}
    ray = RayDeployments(lambda: backend, settings)
    env = ServiceEnv(str(home), None, str(home / "blobs"), str(home / "deployments"))
    supervisor = Supervisor(store, env, interval_s=0.3, ray=ray, default_on="ray")
    try:
        yield {
            "store": store,
            "registry": registry,
            "refs": (first.ref, second.ref),
            "backend": backend,
            "supervisor": supervisor,
        }
    finally:
        supervisor.close()
        backend.delete("default", "tiny")  # already gone if the test got to stop it
        store.close()


def _record(store: SqlArtifactStore) -> Deployment | None:
    return store.get_deployment("default", "tiny")


def _ready(store: SqlArtifactStore, replicas: int, version: int, restarts: int = 0) -> Any:
    d = _record(store)
    if d is None or len(d.members) != replicas:
        return None
    ok = all(r.status == "ready" and r.version == version for r in d.members)
    return d if ok and sum(r.restarts for r in d.members) == restarts else None


def test_a_model_served_by_ray_serve_replicas(on_ray: dict[str, Any]) -> None:
    store, supervisor, backend = on_ray["store"], on_ray["supervisor"], on_ray["backend"]
    deploy(store, "default", DeploymentIn(ref="tiny@production", replicas=2, on="ray"), time.time())
    supervisor.start()
    d = until("two ready replicas serving version 1", lambda: _ready(store, 2, 1), 180)
    out = deployment_out(d)
    assert out.on == "ray" and out.message == ""
    base = f"http://127.0.0.1:{backend.port}/default/tiny"
    assert {r.url for r in out.members} == {base}
    pids = {r.pid for r in d.members}
    assert len(pids) == 2 and all(p is not None and alive(p) for p in pids)

    with httpx.Client(timeout=10) as http:
        got = http.post(base + "/predict", json={"features": [ROW]})
        assert got.status_code == 200 and got.json() == {"predictions": [1], "version": 1}
        bad = http.post(base + "/predict", json={"features": [{"a": "x", "b": 1.0}]})
        assert bad.status_code == 422
        locs = [e["loc"] for e in bad.json()["detail"]]
        assert ["body", "features", 0, "a"] in locs and ["body", "features", 0, "c"] in locs
        assert http.get(base + "/health").json() == {"status": "ok", "model": "tiny", "version": 1}
        assert http.get(base + "/metadata").json()["features"] == ["a", "b", "c"]
        assert "airfoil_predict_requests_total" in http.get(base + "/metrics").text
        schema = http.get(base + "/openapi.json").json()["components"]["schemas"]
        assert "tiny_request" in schema and "tiny_response" in schema

        # Both replicas serve: each publishes the rows it saw, and the pooled drift counts all.
        for _ in range(60):
            assert http.post(base + "/predict", json={"features": [ROW]}).status_code == 200

        def both_saw_rows() -> Any:
            # Published every second and copied to the record by the supervisor's next pass:
            # wait for the newest (the 422 never reached the service). One entry per replica.
            record = _record(store)
            assert record is not None
            reports = [e.report for e in record.drift if e.source]
            total = sum(r["rows"] for r in reports)
            return reports if len(reports) == 2 and total == 61 else None

        reports = until("both replicas to report their rows", both_saw_rows, timeout=20)
        assert all(r["rows"] > 0 for r in reports)
        pooled = until(  # the route reads what the supervisor's next pass recorded
            "the rows on the record",
            lambda: (x := drift(_record(store))).rows == 61 and x,  # type: ignore[arg-type]
            timeout=20,
        )
        assert pooled.rows == 61 and pooled.replicas == 2
        assert pooled.features["a"]["serving"]["mean"] == pytest.approx(1.0)

    # The alias moves under a steady two-client loop: no request fails, both versions answer.
    failures: list[str] = []
    versions: set[int] = set()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                try:
                    r = http.post(base + "/predict", json={"features": [ROW]})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        versions.add(r.json()["version"])
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        # Version 1 answered before the swap (not a fixed second: on a loaded machine the
        # clients' first answers can come later, and then only version 2 was seen).
        until("a version 1 answer", lambda: 1 in versions or failures, timeout=60)
        on_ray["registry"].promote(on_ray["refs"][1], "production")
        until("both replicas on version 2", lambda: _ready(store, 2, 2), timeout=60)
        until("a version 2 answer", lambda: 2 in versions, timeout=30)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert failures == [] and versions == {1, 2}

    # A replica's actor killed: Serve starts another, the record counts a restart.
    app = backend.state("default", "tiny")
    assert app is not None
    victim = next(r for r in app.replicas if r.state == "RUNNING")
    backend.kill_replica(victim.actor_name)
    again = until("the killed replica replaced", lambda: _ready(store, 2, 2, restarts=1), 180)
    assert victim.pid not in {r.pid for r in again.members}
    assert victim.replica_id not in {r.ident for r in again.members}
    assert httpx.post(base + "/predict", json={"features": [ROW]}, timeout=10).status_code == 200

    # Stopped: the application is deleted, its replica processes end, the record goes.
    last = {r.pid for r in again.members}
    supervisor.stop_deployment("default", "tiny")
    assert backend.state("default", "tiny") is None and _record(store) is None
    until(
        "the replicas' processes to end",
        lambda: not any(alive(p) for p in last if p),
        timeout=90,
    )


def _trained(tmp_path: Path) -> dict[str, Any]:
    """A home whose registry holds ``tiny:1`` in project ``default``: the settings a
    replica reads it with."""
    home = tmp_path / "home"
    store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
    try:
        registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "default")
        assert model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120).ref == "tiny:1"
    finally:
        store.close()
    return {
        "home": str(home),
        "database_url": None,
        "blob_url": str(home / "blobs"),
        "project": "default",
    }


def test_ray_serve_replicas_get_the_resources_asked(tmp_path: Path, serve_api: Any) -> None:
    from airfoil.ml._ray_serve import RayServe

    settings = _trained(tmp_path)
    # Checking that a node could hold a replica joins Ray and reads its nodes; it does not
    # start Serve (a deploy request waits for the check: Serve's start took it past the
    # client's timeout on a loaded machine).
    checker = RayServe()
    with pytest.raises(UnschedulableTaskError, match="gpu=3"):
        checker.check_fits("huge", ResourceSpec(cpu=1.0, gpu=3))
    checker.check_fits("small", ResourceSpec(cpu=1.0, gpu=1))
    assert not checker.connected
    backend = RayServe()  # on the session's Ray (2 CPUs, 2 pretend GPUs)
    try:
        with pytest.raises(UnschedulableTaskError) as refused:
            backend.apply(
                "default", "huge", "tiny:1", replicas=1, file="", settings=settings,
                resources=ResourceSpec(cpu=1.0, gpu=3),
            )  # fmt: skip
        assert "gpu=3" in str(refused.value) and "--gpus" in str(refused.value)
        backend.apply(
            "default", "tiny", "tiny:1", replicas=2, file="", settings=settings,
            resources=ResourceSpec(cpu=0.5, mem=200 * 2**20, gpu=1),
        )  # fmt: skip

        def assigned() -> Any:
            app = backend.state("default", "tiny")
            reports = [r.report for r in (app.replicas if app else []) if r.report]
            return [r["assigned"] for r in reports] if len(reports) == 2 else None

        both = until("both replicas to report what they were given", assigned, timeout=150)
    finally:
        backend.delete("default", "tiny")
    for a in both:
        assert a["resources"]["CPU"] == pytest.approx(0.5)
        assert a["resources"]["GPU"] == pytest.approx(1.0)
        assert a["resources"]["memory"] == pytest.approx(200 * 2**20)
        assert len(a["gpu_ids"]) == 1
    assert {a["gpu_ids"][0] for a in both} == {"0", "1"}  # one GPU each, not shared


def test_two_projects_deployments_are_two_applications(
    tmp_path: Path, serve_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Project ``team.a``'s deployment ``m`` and project ``team``'s ``a.m`` are two Serve
    applications: before, both were ``airfoil.team.a.m``, so deploying one replaced the
    other's replicas (another project's model served on its route) and deleting one deleted
    both. An application made under the old name is replaced, not left holding the route."""
    from airfoil.ml import _ray_serve
    from airfoil.ml._ray_serve import RayServe

    settings = _trained(tmp_path)
    backend = RayServe(replica_cpus=0.25)

    def serving(project: str, name: str) -> Any:
        app = backend.state(project, name)
        ready = [r for r in (app.replicas if app else []) if r.report]
        return {r.replica_id for r in ready} if ready else None

    def apps() -> dict[str, str]:
        found = backend._details().get("applications", {})
        return {k: v.get("route_prefix") for k, v in found.items() if k.startswith("airfoil.")}

    pairs = [("team.a", "m"), ("team", "a.m")]
    try:
        # team.a's m as the previous version named it: airfoil.team.a.m
        with monkeypatch.context() as old:
            old.setattr(_ray_serve, "app_name", lambda p, n: f"airfoil.{p}.{n}")
            backend.apply("team.a", "m", "tiny:1", replicas=1, file="", settings=settings)
            until("the old-named application", lambda: serving("team.a", "m"), timeout=150)
        for project, name in pairs:
            backend.apply(project, name, "tiny:1", replicas=1, file="", settings=settings)
        first = until("team.a's m", lambda: serving(*pairs[0]), timeout=150)
        second = until("team's a.m", lambda: serving(*pairs[1]), timeout=150)
        assert first.isdisjoint(second)  # each its own replica
        assert sorted(apps().values()) == ["/team.a/m", "/team/a.m"], apps()
        backend.delete(*pairs[1])
        assert backend.state(*pairs[1]) is None
        assert serving(*pairs[0]) == first  # deleting team's left team.a's serving
    finally:
        for project, name in pairs:
            backend.delete(project, name)


def test_a_keyed_ray_deployment_needs_its_key(tmp_path: Path, serve_api: Any) -> None:
    """(adv21) A server with a model key gives its Ray Serve replicas their deployment's key:
    every route but ``/health`` (under the application's prefix) needs it or the server's."""
    from airfoil.core.worker_env import deployment_key, key_scope
    from airfoil.ml._ray_serve import RayServe

    key = "mk-ray-" + "k" * 24
    settings = _trained(tmp_path)
    backend = RayServe(replica_cpus=0.25)
    ray = RayDeployments(lambda: backend, {**settings, "model_key": key})
    store = SqlArtifactStore(f"sqlite:///{tmp_path / 'home' / 'airfoil.db'}")
    try:
        d = deploy(store, "default", DeploymentIn(ref="tiny:1", on="ray"), time.time())
        until(
            "a ready replica",
            lambda: ray.reconcile(d, time.time()).members[0].status == "ready",
            180,
        )
        base = f"http://127.0.0.1:{backend.port}/default/tiny"
        own = deployment_key(key, key_scope("default", "tiny"))
        other = deployment_key(key, key_scope("other", "tiny"))
        with httpx.Client(timeout=10) as http:
            assert http.get(base + "/health").status_code == 200
            assert http.post(base + "/predict", json={"features": [ROW]}).status_code == 401
            for wrong in (other, key + "x"):
                bearer = {"Authorization": f"Bearer {wrong}"}
                assert http.get(base + "/metadata", headers=bearer).status_code == 401
            for right in (key, own):
                bearer = {"Authorization": f"Bearer {right}"}
                got = http.post(base + "/predict", json={"features": [ROW]}, headers=bearer)
                assert got.status_code == 200, got.text
                assert got.headers["x-content-type-options"] == "nosniff"
    finally:
        backend.delete("default", "tiny")
        ray.close()
        store.close()


def test_a_ray_deployment_re_adopted_under_another_key_is_redeployed_with_it(
    tmp_path: Path, serve_api: Any
) -> None:
    """(adv24) A server re-adopting a Ray Serve application started before its model key
    changed (no key then, or ``model.key`` replaced, or another ``AIRFOIL_MODEL_KEY``)
    kept it as it was, so the key it hands out was refused (401) until the deployment was
    redeployed. Now it asks the application once, with its key, and redeploys one that
    answers without a key or refuses it (Serve replaces the replicas, counted as restarts):
    as process replicas are restarted (``test_deployment_key_rotation.py``)."""
    from airfoil.core.worker_env import deployment_key, key_scope
    from airfoil.ml._ray_serve import RayServe

    settings = _trained(tmp_path)
    store = SqlArtifactStore(f"sqlite:///{tmp_path / 'home' / 'airfoil.db'}")
    d = deploy(store, "default", DeploymentIn(ref="tiny:1", on="ray"), time.time())
    servers: list[RayDeployments] = []

    def server(key: str | None) -> RayDeployments:
        """A server's Ray deployments (its own backend, joining the session's Ray)."""
        backend = RayServe(replica_cpus=0.25)
        servers.append(RayDeployments(lambda: backend, {**settings, "model_key": key}))
        return servers[-1]

    def ready(ray: RayDeployments, restarts: int) -> Any:
        nonlocal d
        d = ray.reconcile(d, time.time())
        m = d.members[0]
        return d if m.status == "ready" and m.restarts >= restarts else None

    def answers(key: str | None) -> int:
        own = deployment_key(key, key_scope("default", "tiny")) if key else None
        got = httpx.post(
            f"http://127.0.0.1:{servers[0].backend().port}/default/tiny/predict",
            json={"features": [ROW]},
            headers={"Authorization": f"Bearer {own}"} if own else {},
            timeout=10,
        )
        return got.status_code

    try:
        keyless = server(None)
        until("a keyless ready replica", lambda: ready(keyless, 0), 180)
        assert answers(None) == 200

        # A server that has a key now re-adopts it: keyless, it is redeployed with its key.
        first = "mk-first-" + "k" * 24
        keyed = server(first)
        until("the replica redeployed keyed", lambda: ready(keyed, 1), 180)
        until("only keyed requests answered", lambda: answers(None) == 401, 60)
        assert answers(first) == 200

        # The server's key replaced across a restart: redeployed with the new one.
        second = "mk-second-" + "k" * 24
        rekeyed = server(second)
        until("the replica redeployed with the new key", lambda: ready(rekeyed, 2), 180)
        until("the old key refused", lambda: answers(first) == 401, 60)
        assert answers(second) == 200
    finally:
        servers[0].backend().delete("default", "tiny")
        for ray in servers:
            ray.close()
        store.close()
