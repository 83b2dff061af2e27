"""The deployment supervisor with real ``airfoil serve`` processes (no HTTP server around
it): a replica that stops answering (SIGSTOP) is killed after ``hung_after_s`` and restarted
on its port; stopping the deployment leaves no process; the drift of the rows served before a
replica or the server restarted is kept."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import alive, ready_in_store, until
from _replica_home import ReplicaHome
from _tiny import model

from airfoil.ml import ModelRegistry
from airfoil.server._deployments import deploy, drift
from airfoil.server._model_key import KEY_FILE, ModelKey, ModelKeyError
from airfoil.server._supervisor import ServiceEnv, Supervisor, free_port
from airfoil.store.blob import open_blob_store
from airfoil.store.deployments import Deployment, Replica
from airfoil.store.memory_artifacts import MemoryArtifactStore
from airfoil.store.sql import SqlArtifactStore
from airfoil.wire._deployments import DeploymentIn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_silent_replica_is_killed_and_restarted(replica_home: ReplicaHome) -> None:
    home = replica_home
    trained = model.train(hyperparameters={"C": 1.0}, registry=home.registry, rows=120)
    supervisor = home.supervisor(interval_s=0.2, hung_after_s=2.0)
    home.deploy(trained.ref)
    supervisor.start()
    first = home.ready("tiny").members[0]
    row = {"features": [{"a": 1.0, "b": 1.0, "c": 0.0}]}
    base = f"http://127.0.0.1:{first.port}"
    assert httpx.post(base + "/predict", json=row, timeout=10).status_code == 200
    os.kill(first.pid, signal.SIGSTOP)  # alive, but answers nothing
    again = home.ready("tiny", restarts=1).members[0]  # the silent replica replaced
    assert again.pid != first.pid and not alive(first.pid)
    assert again.last_exit == -signal.SIGKILL and again.port == first.port
    assert httpx.post(base + "/predict", json=row, timeout=10).status_code == 200
    supervisor.stop_deployment("default", "tiny")
    assert not alive(again.pid) and home.store.list_deployments() == []


def test_a_replica_stuck_past_its_deployments_timeout_is_killed_saying_so(
    replica_home: ReplicaHome,
) -> None:
    """The deployment's ``predict_timeout`` reaches its replicas (they ran with 60 s, whatever
    was asked), and the one whose prediction hangs past it is killed with its ``/health``'s
    503 detail as the reason (it was "not answering /health for 30 s")."""
    from _numbered import slow

    home = replica_home
    trained = slow.train(registry=home.registry)
    supervisor = home.supervisor(interval_s=0.2, hung_after_s=2.0, zygotes=False)
    home.deploy(trained.ref, predict_timeout=1.0)
    supervisor.start()
    first = home.ready("slow").members[0]
    base = f"http://127.0.0.1:{first.port}"
    hung = httpx.post(base + "/predict", json={"features": [{"x": 99.0}]}, timeout=30)
    assert hung.status_code == 504 and "within 1 s" in hung.text, hung.text
    again = home.ready("slow", restarts=1).members[0]  # the stuck replica replaced
    assert again.pid != first.pid and not alive(first.pid)
    said = again.exit_reason
    assert said.startswith("stuck: a prediction has been running for"), said
    assert "past the prediction timeout of 1 s" in said, said
    ok = httpx.post(base + "/predict", json={"features": [{"x": 1.0}]}, timeout=30)
    assert ok.status_code == 200, ok.text
    supervisor.stop_deployment("default", "slow")
    assert not alive(again.pid)


def test_two_servers_run_a_deployment_once_and_hand_it_over(replica_home: ReplicaHome) -> None:
    home = replica_home
    store_a, store_b = home.store, home.another_store()
    trained = model.train(hyperparameters={"C": 1.0}, registry=home.registry, rows=120)
    # The lease outlasts any pass on a busy machine (a pass that took longer than a 2 s lease
    # let the other server take over mid-check); the handover below does not wait for it to
    # run out: the server that goes away hands its lease back.
    a = home.supervisor(store=store_a, interval_s=0.2, lease_ttl_s=15.0)
    b = home.supervisor(store=store_b, interval_s=0.2, lease_ttl_s=15.0)
    pids = home.pids
    home.deploy(trained.ref, replicas=2)
    a.start()
    b.start()

    def ready() -> Any:
        return ready_in_store(store_a, "default", "tiny", 2)

    first = until("two ready replicas", ready, timeout=90)
    pids.update(r.pid for r in first.members if r.pid)
    # Both started at once: either may have won the lease; the other must start nothing.
    holder, other = (a, b) if first.owner == a.owner else (b, a)
    assert first.owner == holder.owner != other.owner
    time.sleep(1.0)  # several passes of both supervisors
    again = ready()
    assert again is not None and {r.pid for r in again.members} == pids
    assert again.owner == holder.owner and len(pids) == 2
    assert all(r.restarts == 0 for r in again.members)

    holder.close()  # that server goes away: the other takes over the same processes
    taken = until(
        "the other server holding it",
        lambda: (d := store_a.get_deployment("default", "tiny")) and d.owner == other.owner and d,
        timeout=90,
    )
    assert {r.pid for r in taken.members} == pids and all(alive(p) for p in pids)
    assert all(r.restarts == 0 for r in taken.members)
    time.sleep(1.0)  # several passes of the new holder: it keeps them, starts none
    kept = ready()
    assert kept is not None and kept.owner == other.owner
    assert {r.pid for r in kept.members} == pids and all(r.restarts == 0 for r in kept.members)
    other.stop_deployment("default", "tiny")
    assert not any(alive(p) for p in pids)


class _Health:
    """A stand-in ``/health`` of a recorded replica (of model ``tiny``) that answers after
    ``delay`` seconds: a replica process on a busy machine."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.stuck = ""  # set: answers as a service whose prediction runs past its timeout
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(outer.delay)
                answer: dict[str, Any] = {"model": "tiny", "version": 1}
                if outer.stuck:
                    answer |= {"status": "stuck", "detail": outer.stuck}
                body = json.dumps(answer).encode()
                self.send_response(503 if outer.stuck else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the supervisor stopped waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _recorded(store: MemoryArtifactStore, port: int, pid: int) -> None:
    """A deployment as a server that went away left it: one ready replica, its pid."""
    now = time.time()
    member = Replica(index=0, port=port, pid=pid, status="ready", version=1, started_at=now)
    store.put_deployment(
        Deployment(
            project="default",
            name="tiny",
            ref="tiny:1",
            replicas=1,
            created_at=now,
            updated_at=now,
            owner="gone:1:x",
            members=[member],
        )
    )


def test_a_replica_slow_to_answer_is_adopted_not_started_twice(tmp_path: Path) -> None:
    # Before: one /health slower than the supervisor's timeout (a busy machine) and the
    # recorded replica was given up: a second process started beside the first, which ran
    # on, unsupervised (the handover test's pids changed and restarts was 1).
    replica = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    health = _Health()
    store = MemoryArtifactStore()
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    # no zygote: its log would be a second process of this deployment
    supervisor = Supervisor(store, env, lease_ttl_s=10.0, zygotes=False)
    try:
        _recorded(store, health.port, replica.pid)
        health.delay = 1.0  # over the supervisor's 0.5 s
        t0 = time.time()
        supervisor.reconcile(t0)
        supervisor.reconcile(t0 + 1.0)
        d = store.get_deployment("default", "tiny")
        assert d is not None and d.owner == supervisor.owner
        (r,) = d.members
        assert (r.pid, r.status, r.restarts) == (replica.pid, "ready", 0)
        health.delay = 0.0  # it answers in time now: adopted
        supervisor.reconcile(t0 + 2.0)
        supervisor.reconcile(t0 + 2.5)
        d = store.get_deployment("default", "tiny")
        assert d is not None
        (r,) = d.members
        assert (r.pid, r.status, r.restarts) == (replica.pid, "ready", 0)
        assert replica.poll() is None
        assert not list((tmp_path / "logs").glob("*.log"))  # no second process was started
    finally:
        supervisor.close()
        health.close()
        replica.kill()
        replica.wait()


_STUCK = (
    "a prediction has been running for 75 s, past the prediction timeout of 60 s: the "
    "predictor hangs or needs a longer --predict-timeout"
)


@pytest.fixture
def stuck(
    tmp_path: Path,
) -> Iterator[tuple[Supervisor, MemoryArtifactStore, subprocess.Popen[bytes]]]:
    """A deployment recorded by a server that went away, its replica (a sleeping process)
    answering ``/health`` 503 ``stuck``, and a new server's supervisor (not started)."""
    replica = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    health = _Health()
    health.stuck = _STUCK
    store = MemoryArtifactStore()
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    supervisor = Supervisor(store, env, lease_ttl_s=10.0, zygotes=False)
    try:
        _recorded(store, health.port, replica.pid)
        yield supervisor, store, replica
    finally:
        supervisor.close()
        health.close()
        replica.kill()
        replica.wait()


def test_a_stuck_recorded_replica_is_adopted_then_killed_saying_why(stuck: Any) -> None:
    """A replica whose ``/health`` answers 503 ``stuck`` is the deployment's: adopted, and
    killed after the grace with the 503's detail as the reason. Before, it counted as not
    answering: given up unsignalled, so it ran on beside the replica started for it."""
    supervisor, store, replica = stuck
    t0 = time.time()
    supervisor.reconcile(t0)
    supervisor.reconcile(t0 + 6.0)  # still stuck past the grace
    d = store.get_deployment("default", "tiny")
    assert d is not None
    (r,) = d.members
    assert (r.status, r.pid, r.restarts) == ("backoff", None, 1)
    assert replica.wait(timeout=10) == -signal.SIGKILL  # main: still running
    assert r.exit_reason == f"stuck: {_STUCK}", r.exit_reason
    assert "75 s" in d.message and "60 s" in d.message, d.message


def test_deploy_stop_ends_a_stuck_replica_it_had_not_adopted_yet(stuck: Any) -> None:
    """``deploy stop`` signals the recorded replicas that answer ``/health`` for the
    deployment's model; one answering 503 ``stuck`` was taken for silent and left running:
    a stopped deployment with a replica process serving on."""
    supervisor, store, replica = stuck
    stopped = supervisor.stop_deployment("default", "tiny")
    assert stopped is not None and store.list_deployments() == []
    assert replica.wait(timeout=10) is not None  # main: TimeoutExpired (left running)


def test_a_recorded_replica_that_never_answers_is_restarted_after_the_grace(
    tmp_path: Path,
) -> None:
    # Alive but silent (or another process that took its pid): given up after the grace,
    # and never signalled, since it was never seen to be the deployment's replica.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    store = MemoryArtifactStore()
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    supervisor = Supervisor(store, env, lease_ttl_s=10.0)
    try:
        _recorded(store, free_port(), other.pid)  # nothing listens there
        t0 = time.time()
        supervisor.reconcile(t0)
        d = store.get_deployment("default", "tiny")
        assert d is not None and (d.members[0].status, d.members[0].restarts) == ("ready", 0)
        supervisor.reconcile(t0 + 6.0)  # past the grace
        d = store.get_deployment("default", "tiny")
        assert d is not None
        (r,) = d.members
        assert (r.status, r.pid, r.restarts) == ("backoff", None, 1)
        assert other.poll() is None  # not signalled
    finally:
        supervisor.close()
        other.kill()
        other.wait()


def test_the_drift_of_rows_served_before_a_restart_is_kept(replica_home: ReplicaHome) -> None:
    """The drift route's service read only the live replicas' in-memory counters: after a
    replica restarted it said 0 rows although 3 were served; the rows come from the record."""
    home = replica_home
    store = home.store
    trained = model.train(hyperparameters={"C": 1.0}, registry=home.registry, rows=120)
    supervisor = home.supervisor(interval_s=0.2, zygotes=False)
    home.deploy(trained.ref)
    supervisor.start()
    first = home.ready("tiny").members[0]
    rows = [{"a": 5.0, "b": 1.0, "c": 0.0}, {"a": 7.0, "b": 3.0, "c": 0.0}]
    base = f"http://127.0.0.1:{first.port}"
    assert httpx.post(base + "/predict", json={"features": rows}, timeout=10).is_success
    assert httpx.post(base + "/predict", json={"features": rows[:1]}, timeout=10).is_success
    # The route reads the record (copied from the replica at most every second).
    until("the rows on the record", lambda: _recorded_rows(store) == 3, timeout=30)
    before = drift(_found(store))
    assert (before.rows, before.replicas, before.version) == (3, 1, 1)

    os.kill(first.pid, signal.SIGKILL)  # the replica restarts with no rows in memory
    again = home.ready("tiny", restarts=1).members[0]
    after = until(  # its new process is counted once the supervisor read it
        "the new process on the record", lambda: (x := drift(_found(store))).replicas and x
    )
    assert (after.rows, after.replicas, after.version) == (3, 1, 1)
    serving = after.features["a"]["serving"]
    assert serving["mean"] == pytest.approx(17 / 3) and serving["missing_rate"] == 0.0
    assert after.features == before.features

    # The server restarts too: a new supervisor, the same record.
    supervisor.close()
    supervisor = home.supervisor(interval_s=0.2, zygotes=False)
    assert httpx.post(
        f"http://127.0.0.1:{again.port}/predict", json={"features": rows[1:]}, timeout=10
    ).is_success
    supervisor.start()
    until("four rows counted", lambda: drift(_found(store)).rows == 4, timeout=30)
    supervisor.stop_deployment("default", "tiny")


def _found(store: SqlArtifactStore) -> Deployment:
    found = store.get_deployment("default", "tiny")
    assert found is not None
    return found


def _recorded_rows(store: SqlArtifactStore) -> int:
    return sum(int(e.report["rows"]) for e in _found(store).drift)


def test_a_deployment_the_model_key_fails_does_not_hold_up_the_others(
    replica_home: ReplicaHome, caplog: pytest.LogCaptureFixture
) -> None:
    """(adv25) A ``model.key`` that cannot be used stopped the whole pass at the first
    deployment needing a start: one listed after it was not supervised (its replica never
    recorded ready). Now the pass goes on, logging the failure by the deployment's name, and
    a deploy request's pass still raises its own deployment's error."""
    home = replica_home
    first = ModelRegistry(home.store, open_blob_store(str(home.blobs)), "aa")  # listed first
    for registry in (first, home.registry):
        trained = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    keyed = {"now": False}
    holder = ModelKey(str(home.root), lambda: keyed["now"], explicit="")
    (home.root / KEY_FILE).write_text("k" * 40 + "\n")  # mode 0644: refused once keyed
    env = ServiceEnv(
        str(home.root), None, str(home.blobs), str(home.logs), key_source=holder.current
    )
    supervisor = home.supervisor(env, interval_s=0.2)
    home.deploy(trained.ref)
    supervisor.reconcile()  # started keyless: answers, recorded ready only by later passes
    keyed["now"] = True  # the server's first API key: model.key is read, and refused
    deploy(home.store, "aa", DeploymentIn(ref=trained.ref), time.time())
    with pytest.raises(ModelKeyError, match="open to other users"):
        supervisor.reconcile(raise_for=("aa", "tiny"))

    def passed() -> Deployment | None:
        supervisor.reconcile()
        return ready_in_store(home.store, "default", "tiny", 1)

    ready = until("the second deployment ready", passed, 90)
    home.pids.update(r.pid for r in ready.members if r.pid)
    held = home.store.get_deployment("aa", "tiny")
    assert held is not None and all(r.pid is None for r in held.members)
    logged = [r for r in caplog.records if "aa/tiny failed" in r.getMessage()]
    assert logged and all(r.exc_info and r.exc_info[0] is ModelKeyError for r in logged)
