"""Deployments on Ray without Ray: the supervisor's Ray pass against an in-memory Serve (a
real implementation of the backend protocol) matches replicas by id, counts a replaced one as
a restart, scales, says why an application is not serving; mixing ``on`` for one name, a
server without Ray, and a missing Ray Serve are typed errors naming the fix."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from airfoil.cli._server import open_ray_serve
from airfoil.core.errors import ConfigError
from airfoil.server._deployments import deploy, deployment_out
from airfoil.server._ray_deployments import RayDeployments
from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.deployments import Deployment
from airfoil.store.memory_artifacts import MemoryArtifactStore
from airfoil.testing.artifact_conformance import make_draft
from airfoil.wire._deployments import DeploymentIn

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class _Replica:
    replica_id: str
    state: str = "RUNNING"
    pid: int | None = 100
    started_at: float = 1.0
    report: dict[str, Any] | None = None


@dataclass
class _App:
    status: str
    target_replicas: int
    message: str = ""
    replicas: list[_Replica] = field(default_factory=list)


class _MemoryServe:
    """Serve in memory: apply starts replicas (RUNNING, reporting version 1) at once."""

    def __init__(self) -> None:
        self.port = 0
        self.connected = False
        self.apps: dict[str, _App] = {}
        self.applied: list[tuple[str, int, dict[str, Any]]] = []
        self._next = 0

    def join(self) -> None:
        self.joined = True

    def connect(self) -> None:
        self.join()
        self.connected, self.port = True, 8123

    def _replica(self) -> _Replica:
        self._next += 1
        return _Replica(f"r{self._next}", pid=1000 + self._next, report={"version": 1})

    def apply(
        self,
        project: str,
        name: str,
        ref: str,
        *,
        replicas: int,
        file: str,
        settings: dict[str, Any],
        poll_s: float = 0.5,
        resources: Any = None,
    ) -> None:
        self.applied.append((ref, replicas, settings))
        self.resources = resources
        app = self.apps.setdefault(f"{project}/{name}", _App("RUNNING", replicas))
        app.target_replicas = replicas
        app.replicas = app.replicas[:replicas]
        app.replicas += [self._replica() for _ in range(replicas - len(app.replicas))]

    def check_fits(self, name: str, resources: Any) -> None:
        self.checked = (name, resources)

    def state(self, project: str, name: str) -> _App | None:
        return self.apps.get(f"{project}/{name}")

    def delete(self, project: str, name: str) -> None:
        self.apps.pop(f"{project}/{name}", None)

    def route(self, project: str, name: str) -> str:
        return f"/{project}/{name}"

    def close(self) -> None:
        self.connected = False


def _store(tmp_path: Path) -> MemoryArtifactStore:
    store = MemoryArtifactStore()
    model_file = tmp_path / "m.py"
    model_file.write_text("")
    draft = make_draft()
    fields = {f: getattr(draft, f) for f in draft.__struct_fields__}
    store.add_version(type(draft)(**{**fields, "metadata": {"model_file": str(model_file)}}), 1.0)
    return store


def _pass(ray: RayDeployments, d: Deployment) -> Deployment:
    out = ray.reconcile(d, time.time())
    deadline = time.monotonic() + 5
    while out.message == "starting Ray Serve" and time.monotonic() < deadline:
        time.sleep(0.01)  # it connects on a thread
        out = ray.reconcile(out, time.time())
    return out


def test_replicas_are_matched_by_id_and_a_replaced_one_is_a_restart(tmp_path: Path) -> None:
    serve = _MemoryServe()
    ray = RayDeployments(lambda: serve, {"home": "h", "database_url": None, "blob_url": "b"})
    d = deploy(_store(tmp_path), "p", DeploymentIn(ref="digits:1", replicas=2, on="ray"), 1.0)
    first = ray.reconcile(d, 2.0)
    assert first.message == "starting Ray Serve" and [m.status for m in first.members] == [
        "starting",
        "starting",
    ]
    up = _pass(ray, first)
    settings = {"home": "h", "database_url": None, "blob_url": "b", "project": "p"}
    # the replicas' service takes the deployment's prediction timeout (60 s: none asked)
    assert serve.applied == [("digits:1", 2, {**settings, "predict_timeout_s": 60.0})]
    assert [(m.ident, m.status, m.version, m.restarts) for m in up.members] == [
        ("r1", "ready", 1, 0),
        ("r2", "ready", 1, 0),
    ]
    out = deployment_out(up)
    assert {r.url for r in out.members} == {"http://127.0.0.1:8123/p/digits"} and out.on == "ray"

    # Serve replaced r1 (its actor died): member 0 takes r3, starting until it reports.
    app = serve.apps["p/digits"]
    app.replicas = [_Replica("r3", state="STARTING", pid=None), app.replicas[1]]
    again = ray.reconcile(up, 3.0)
    assert len(serve.applied) == 1  # nothing redeployed
    assert [(m.ident, m.status, m.restarts) for m in again.members] == [
        ("r3", "starting", 1),
        ("r2", "ready", 0),
    ]
    app.replicas[0] = _Replica("r3", pid=1010, report={"version": 2})
    later = ray.reconcile(again, 4.0)
    assert [(m.status, m.version, m.pid, m.restarts) for m in later.members] == [
        ("ready", 2, 1010, 1),
        ("ready", 1, 1002, 0),
    ]

    # Scaled down to one: Serve keeps r2 only; the member kept is the one still live.
    app.replicas = [app.replicas[1]]
    small = ray.reconcile(msgspec.structs.replace(later, replicas=1), 5.0)
    assert serve.applied[-1][1] == 1
    assert [(m.index, m.ident, m.restarts) for m in small.members] == [(0, "r2", 0)]


def test_a_failed_application_says_why(tmp_path: Path) -> None:
    serve = _MemoryServe()
    ray = RayDeployments(lambda: serve, {"home": "h", "database_url": None, "blob_url": "b"})
    d = deploy(_store(tmp_path), "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
    up = _pass(ray, d)
    serve.apps["p/digits"].status = "DEPLOY_FAILED"
    serve.apps["p/digits"].message = "ConfigError: m.py defines no Model named 'digits'"
    failed = ray.reconcile(up, 2.0)
    assert failed.message == (
        "Ray Serve: DEPLOY_FAILED: ConfigError: m.py defines no Model named 'digits'"
    )


def test_a_connect_failure_is_on_the_record_and_retried(tmp_path: Path) -> None:
    class _Unreachable(_MemoryServe):
        def connect(self) -> None:
            raise ConfigError("nothing answers at the Ray address '10.9.9.9:6379'")

    ray = RayDeployments(_Unreachable, {"home": "h", "database_url": None, "blob_url": "b"})
    d = deploy(_store(tmp_path), "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
    ray.reconcile(d, 1.0)
    deadline = time.monotonic() + 5
    out = ray.reconcile(d, 1.0)
    while "could not" not in out.message and time.monotonic() < deadline:
        time.sleep(0.01)
        out = ray.reconcile(d, 1.0)
    assert out.message.startswith("Ray Serve could not be started: nothing answers")


def test_a_supervisor_without_ray_leaves_a_ray_deployment_with_a_reason(tmp_path: Path) -> None:
    store = _store(tmp_path)
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "b"), str(tmp_path / "logs"))
    supervisor = Supervisor(store, env)
    try:
        deploy(store, "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
        supervisor.reconcile()
        found = store.get_deployment("p", "digits")
        assert found is not None and found.members == []
        assert found.message == "this server does not run deployments on Ray"
        with pytest.raises(ConfigError, match="does not run deployments on Ray"):
            supervisor.stop_deployment("p", "digits")
    finally:
        supervisor.close()


def test_one_name_is_deployed_on_one_backend(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert deploy(store, "p", DeploymentIn(ref="digits:1"), 1.0, on="ray").on == "ray"
    assert deploy(store, "p", DeploymentIn(ref="digits:1", replicas=3), 2.0, on="ray").replicas == 3
    with pytest.raises(ConfigError, match="deployed on ray, not process: stop it first"):
        deploy(store, "p", DeploymentIn(ref="digits:1", on="process"), 3.0)


def test_a_missing_ray_serve_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "airfoil.ml._ray_serve", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"need Ray Serve.*pip install 'airfoil\[ray\]'"):
        open_ray_serve(None)


def test_replica_resources_reach_serve_and_the_api(tmp_path: Path) -> None:
    from airfoil.core.resources import ResourceSpec

    serve = _MemoryServe()
    ray = RayDeployments(lambda: serve, {"home": "h", "database_url": None, "blob_url": "b"})
    body = DeploymentIn(ref="digits:1", on="ray", cpus=0.5, gpus=1, memory="1Gi")
    d = deploy(_store(tmp_path), "p", body, 1.0)
    assert d.resources == ResourceSpec(cpu=0.5, mem=2**30, gpu=1)
    _pass(ray, ray.reconcile(d, 2.0))
    assert serve.resources == ResourceSpec(cpu=0.5, mem=2**30, gpu=1)
    out = deployment_out(d)
    assert out.resources is not None and (out.resources.gpu, out.resources.mem) == (1, 2**30)
    (tmp_path / "b").mkdir()
    only_gpu = deploy(_store(tmp_path / "b"), "p", DeploymentIn(ref="digits:1", gpus=1), 1.0)
    assert only_gpu.resources == ResourceSpec(cpu=1.0, mem=0, gpu=1)


def test_a_ray_replica_no_node_could_hold_is_refused_when_deployed(tmp_path: Path) -> None:
    from airfoil.core.errors import UnschedulableTaskError
    from airfoil.core.resources import ResourceSpec

    class _Small(_MemoryServe):
        def check_fits(self, name: str, resources: Any) -> None:
            if resources.gpu > 0:
                raise UnschedulableTaskError(
                    f"each replica of deployment {name!r} asks for gpu={resources.gpu} but no "
                    "node of the Ray cluster can hold it: lower --gpus",
                    task=name,
                    node_id="replica",
                    requested=resources,
                    capacity=ResourceSpec(),
                )

    class _Unreachable(_MemoryServe):
        def join(self) -> None:
            raise ConfigError("nothing answers")

        def connect(self) -> None:
            self.join()

    store = _store(tmp_path)
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "b"), str(tmp_path / "logs"))
    settings = {"home": "h", "database_url": None, "blob_url": "b"}
    supervisor = Supervisor(store, env, ray=RayDeployments(_Small, settings))
    try:

        def check(d: Deployment) -> None:
            supervisor.check_resources(d.project, d.name, d)

        body = DeploymentIn(ref="digits:1", on="ray", gpus=2)
        with pytest.raises(UnschedulableTaskError, match="lower --gpus"):
            deploy(store, "p", body, 1.0, check=check)
        assert store.get_deployment("p", "digits") is None  # nothing recorded
        fits = deploy(
            store, "p", DeploymentIn(ref="digits:1", on="ray", cpus=1.0), 2.0, check=check
        )
        assert fits.resources == ResourceSpec(cpu=1.0)
    finally:
        supervisor.close()
    # Ray not reachable when deployed: recorded (the supervisor retries and says why).
    unreachable = Supervisor(store, env, ray=RayDeployments(_Unreachable, settings))
    try:
        store.delete_deployment("p", "digits")
        d = deploy(
            store,
            "p",
            DeploymentIn(ref="digits:1", on="ray", gpus=2),
            3.0,
            check=lambda d: unreachable.check_resources(d.project, d.name, d),
        )
        assert store.get_deployment("p", "digits") == d
    finally:
        unreachable.close()


def _supervised(tmp_path: Path, store: MemoryArtifactStore, serve: _MemoryServe) -> Supervisor:
    serve.connect()  # connected already: the pass reaches Serve at once
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "b"), str(tmp_path / "logs"))
    settings = {"home": "h", "database_url": None, "blob_url": "b"}
    return Supervisor(store, env, ray=RayDeployments(lambda: serve, settings))


def test_a_supervisor_that_lost_the_lease_mid_pass_does_not_act_on_serve(
    tmp_path: Path,
) -> None:
    """The pass stalls past its lease (here: while it asks Serve for the application) and
    another server takes the deployment over: this one must not deploy on Serve."""
    store = _store(tmp_path)

    class _Stalled(_MemoryServe):
        def state(self, project: str, name: str) -> _App | None:
            store.claim_deployment(project, name, "other", time.time() + 60, 30.0)
            return super().state(project, name)

    serve = _Stalled()
    supervisor = _supervised(tmp_path, store, serve)
    try:
        deploy(store, "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
        supervisor.reconcile()
        assert serve.applied == []  # the application is the new holder's to deploy
        found = store.get_deployment("p", "digits")
        assert found is not None and found.members == [] and found.owner == ""
    finally:
        supervisor.close()


def test_a_users_scale_during_a_supervisor_pass_is_kept(tmp_path: Path) -> None:
    """The pass read replicas=1; the user deploys replicas=3 while it runs: the pass's
    write keeps the user's 3 and the next pass scales Serve to 3."""
    store = _store(tmp_path)

    class _Busy(_MemoryServe):
        scaled = False

        def state(self, project: str, name: str) -> _App | None:
            if not self.scaled:
                self.scaled = True
                deploy(store, "p", DeploymentIn(ref="digits:1", on="ray", replicas=3), 2.0)
            return super().state(project, name)

    serve = _Busy()
    supervisor = _supervised(tmp_path, store, serve)
    try:
        deploy(store, "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
        supervisor.reconcile()
        found = store.get_deployment("p", "digits")
        assert found is not None and found.replicas == 3
        assert [m.ident for m in found.members] == ["r1"]  # what the pass did, recorded
        supervisor.reconcile()
        assert [replicas for _, replicas, _ in serve.applied] == [1, 3]
        found = store.get_deployment("p", "digits")
        assert found is not None and [m.ident for m in found.members] == ["r1", "r2", "r3"]
    finally:
        supervisor.close()


def test_a_ray_deployments_drift_outlives_a_replica_and_a_server_restart(tmp_path: Path) -> None:
    """Drift read only what live Serve replicas published: after a replica was replaced it
    lost that replica's rows, and after a server restart (Ray still connecting) it said 0 rows
    by 0 replicas. The rows kept on the record count."""
    from airfoil.ml._serve import DriftTracker
    from airfoil.server._deployments import drift

    tracker = DriftTracker(["a"], {"a": (0.0, 1.0, 0.0)})
    tracker.add([{"a": 2.0}, {"a": 4.0}])
    published = {"version": 1, "drift": {"version": 1, **tracker.report()}}
    store = _store(tmp_path)
    serve = _MemoryServe()
    supervisor = _supervised(tmp_path, store, serve)
    try:
        deploy(store, "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
        supervisor.reconcile()
        app = serve.apps["p/digits"]
        app.replicas = [dataclasses.replace(app.replicas[0], report=published)]
        supervisor.reconcile()  # the published rows are copied to the record
        assert drift(_ray_record(store)).rows == 2
        app.replicas = [_Replica("r9", pid=1009, report={"version": 1})]  # Serve replaced it
        supervisor.reconcile()
        replaced = drift(_ray_record(store))
        assert (replaced.rows, replaced.version) == (2, 1)
        assert replaced.features["a"]["serving"]["mean"] == pytest.approx(3.0)
    finally:
        supervisor.close()
    # A new server (its Ray backend not connected yet) reads the same record: the route asks
    # no replica and no Serve controller.
    after = drift(_ray_record(store))
    assert (after.rows, after.version) == (2, 1)


def _ray_record(store: MemoryArtifactStore) -> Deployment:
    found = store.get_deployment("p", "digits")
    assert found is not None
    return found


def test_a_users_deploy_keeps_the_replicas_a_pass_recorded_meanwhile(tmp_path: Path) -> None:
    """deploy() read the record, then a supervisor's pass recorded a replica's process
    before deploy() wrote: the write must not put the replicas it read back (their pids
    lost, a restarted server could not re-adopt them)."""
    from airfoil.store.deployments import Replica

    store = _store(tmp_path)
    deploy(store, "p", DeploymentIn(ref="digits:1"), 1.0)
    lease = store.claim_deployment("p", "digits", "a", 1.0, 10.0)
    assert lease is not None
    started = Replica(index=0, port=8001, pid=4242, status="starting")

    def a_pass_meanwhile(d: Deployment) -> None:  # deploy() read the record before this
        found = store.get_deployment("p", "digits")
        assert found is not None
        recorded = msgspec.structs.replace(found, members=[started], owner="a")
        store.put_deployment(recorded, lease=lease)

    out = deploy(store, "p", DeploymentIn(ref="digits:1", replicas=2), 2.0, check=a_pass_meanwhile)
    found = store.get_deployment("p", "digits")
    assert found is not None and found == out
    assert (found.replicas, found.members, found.owner) == (2, [started], "a")


def test_checking_a_deployment_joins_ray_without_starting_serve(tmp_path: Path) -> None:
    """The deploy request checks that a node could hold a replica: it joins Ray (the nodes)
    but leaves Serve's start (its controller and proxy: seconds, tens on a loaded machine)
    to the supervisor's thread. Before, the request started Serve too: the likely cause of
    a cold server's first `airfoil deploy --gpus/--memory` outliving the client's 30 s
    timeout at load 12-22 (the e2e test on Ray)."""
    from airfoil.core.resources import ResourceSpec

    serve = _MemoryServe()
    store = _store(tmp_path)
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "b"), str(tmp_path / "logs"))
    settings = {"home": "h", "database_url": None, "blob_url": "b"}
    supervisor = Supervisor(store, env, ray=RayDeployments(lambda: serve, settings))
    try:
        body = DeploymentIn(ref="digits:1", on="ray", gpus=1)
        check = lambda d: supervisor.check_resources(d.project, d.name, d)  # noqa: E731
        d = deploy(store, "p", body, 1.0, check=check)
        assert serve.checked == ("digits", ResourceSpec(cpu=1.0, gpu=1))
        assert getattr(serve, "joined", False), "Ray was joined to read its nodes"
        assert not serve.connected, "Serve was not started by the check"
        assert store.get_deployment("p", "digits") == d
    finally:
        supervisor.close()


def test_a_ray_deployment_gets_the_key_the_server_has_when_it_is_applied(tmp_path: Path) -> None:
    """(adv22) The server's key is asked when the application is applied (the server's
    kept key once it has API keys): the deployment gets its own, derived, never the
    server's."""
    from airfoil.core.worker_env import deployment_key, key_scope

    serve = _MemoryServe()
    now: list[str | None] = ["server-key"]
    ray = RayDeployments(lambda: serve, {"home": "h", "blob_url": "b"}, key=lambda _age: now[0])
    d = deploy(_store(tmp_path), "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
    _pass(ray, ray.reconcile(d, 2.0))
    settings = serve.applied[-1][2]
    assert settings["model_key"] == deployment_key("server-key", key_scope("p", "digits"))
    assert settings["model_key_scope"] == key_scope("p", "digits")
    assert "server-key" not in settings.values() and "model_key" not in ray.settings


def test_a_bad_kept_key_is_on_a_ray_deployments_record_without_the_servers_path(
    tmp_path: Path,
) -> None:
    """(adv24) ``model.key`` open to other users: the Ray deployment is not applied, and its
    record (read by any viewer of the project) names the problem without the server's home
    path, which the server's log keeps."""
    from airfoil.server._model_key import KEY_FILE, ModelKey

    home = tmp_path / "home"
    home.mkdir()
    (home / KEY_FILE).write_text("k" * 43 + "\n")
    (home / KEY_FILE).chmod(0o644)
    serve = _MemoryServe()
    serve.connect()
    held = ModelKey(str(home), lambda: True)
    env = ServiceEnv(str(home), None, str(home / "b"), str(home / "logs"))
    settings = {"home": str(home), "database_url": None, "blob_url": str(home / "b")}
    ray = RayDeployments(lambda: serve, settings, key=held.current)
    store = _store(tmp_path)
    supervisor = Supervisor(store, env, ray=ray)
    try:
        deploy(store, "p", DeploymentIn(ref="digits:1", on="ray"), 1.0)
        supervisor.reconcile(2.0)
        record = store.get_deployment("p", "digits")
        assert record is not None and serve.applied == []
        assert "(model.key in its home folder) is open to other users" in record.message
        assert str(tmp_path) not in record.message and "k" * 43 not in record.message
    finally:
        supervisor.close()
