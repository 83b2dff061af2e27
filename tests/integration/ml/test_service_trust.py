"""Who may call a model service (adv21): a page on a name rebound to 127.0.0.1 (DNS
rebinding) reached ``/predict``, ``/metadata`` and ``/drift`` of ``airfoil serve`` and of a
server's replicas, and a keyed server's replicas answered anyone on the machine. Now, with no
key, a request addressed to another name than localhost, an address or an allowed host is
refused (the API server's rule, ``airfoil.wire._hosts``); with ``AIRFOIL_MODEL_KEY`` every
route but ``/health`` needs the key. Every answer says ``nosniff``. Real HTTP to real
processes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _deployments import until
from _replica_home import ReplicaHome, serve_tiny_argv, serve_tiny_environ
from _tiny import model

from airfoil.core.worker_env import deployment_key, is_denied, key_scope, worker_environ
from airfoil.server._supervisor import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "mk-" + "s3cr3t" * 6
ROW = {"features": [{"a": 1.0, "b": 1.0, "c": 0.0}]}
FOREIGN = ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"]
GUARDED = ["/metadata", "/drift", "/metrics"]


def _serve(port: int, *extra: str, key: str | None = None) -> subprocess.Popen[str]:
    env = serve_tiny_environ()
    env.pop("AIRFOIL_MODEL_KEY", None)
    if key is not None:
        env["AIRFOIL_MODEL_KEY"] = key
    return subprocess.Popen(
        serve_tiny_argv("--port", str(port), *extra),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, int, subprocess.Popen[str]]]:
    """``airfoil serve`` twice: open (allowing ``model.test``), and keyed."""
    assert model.train(hyperparameters={"C": 1.0}, rows=80).ref == "tiny:1"
    open_port, keyed_port = free_port(), free_port()
    plain = _serve(open_port, "--allowed-host", "model.test")
    keyed = _serve(keyed_port, key=KEY)
    try:
        until("both services up", lambda: _up(open_port) and _up(keyed_port), timeout=90)
        yield open_port, keyed_port, keyed
    finally:
        for p in (plain, keyed):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (plain, keyed):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _call(port: int, path: str, **headers: str) -> httpx.Response:
    url = f"http://127.0.0.1:{port}{path}"
    if path == "/predict":
        return httpx.post(url, json=ROW, headers=headers, timeout=10)
    return httpx.get(url, headers=headers, timeout=10)


@pytest.mark.parametrize("host", FOREIGN)
@pytest.mark.parametrize("path", ["/predict", "/health", *GUARDED])
def test_an_open_service_refuses_a_foreign_host(
    served: tuple[int, int, subprocess.Popen[str]], path: str, host: str
) -> None:
    port = served[0]
    r = _call(port, path, Host=f"{host}:{port}", **{"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 403, r.text
    assert "is not a name of this model service" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "model.test"])
def test_an_open_service_answers_localhost_addresses_and_allowed_names(
    served: tuple[int, int, subprocess.Popen[str]], host: str
) -> None:
    port = served[0]
    r = _call(port, "/predict", Host=f"{host}:{port}")
    assert r.status_code == 200, r.text
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/predict", *GUARDED])
def test_a_keyed_service_needs_its_key(
    served: tuple[int, int, subprocess.Popen[str]], path: str
) -> None:
    port = served[1]
    for wrong in ({}, {"Authorization": "Bearer nope"}, {"X-API-Key": KEY[:-1]}):
        r = _call(port, path, **wrong)
        assert r.status_code == 401, (wrong, r.text)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert KEY not in r.text
    r = _call(port, path, Authorization=f"Bearer {KEY}")
    assert r.status_code == 200, r.text
    assert _call(port, path, **{"X-API-Key": KEY}).status_code == 200
    # a keyed service answers under any name (a proxy's): the key is the check
    r = _call(port, path, Authorization=f"Bearer {KEY}", Host="models.corp.example")
    assert r.status_code == 200, r.text


def test_a_keyed_service_probes_without_a_key_and_never_shows_it(
    served: tuple[int, int, subprocess.Popen[str]],
) -> None:
    port, keyed = served[1], served[2]
    assert _call(port, "/health").status_code == 200
    keyed.send_signal(signal.SIGTERM)
    out, _ = keyed.communicate(timeout=20)
    assert "key required" in out and KEY not in out


def test_the_model_key_is_kept_from_workers() -> None:
    assert is_denied("AIRFOIL_MODEL_KEY") and is_denied("airfoil_model_key")
    assert is_denied("AIRFOIL_MODEL_KEY_SCOPE")
    assert "AIRFOIL_MODEL_KEY" not in worker_environ({"AIRFOIL_MODEL_KEY": KEY, "A": "1"})


def test_a_server_replica_checks_host_and_key(replica_home: ReplicaHome) -> None:
    """A server's replicas: open ones refuse a foreign Host; with the server's model key
    they need it, and the supervisor's own reads (``/drift``) send it."""
    home = replica_home
    store, logs = home.store, home.logs
    trained = model.train(hyperparameters={"C": 1.0}, registry=home.registry, rows=120)
    env = home.env(model_key=KEY)
    assert KEY not in repr(env)
    supervisor = home.supervisor(env, interval_s=0.2, zygotes=False)
    home.deploy(trained.ref)
    supervisor.start()
    replica = home.ready("tiny").members[0]
    port = replica.port
    assert _call(port, "/predict").status_code == 401
    assert _call(port, "/drift", Host="evil.example").status_code == 401
    assert _call(port, "/predict", Authorization=f"Bearer {KEY}").status_code == 200
    # The replica holds its deployment's key, not the server's: the model's code, which
    # can read it, cannot call another project's replicas with it.
    own = deployment_key(KEY, key_scope("default", "tiny"))
    other = deployment_key(KEY, key_scope("other", "tiny"))
    environ = Path(f"/proc/{replica.pid}/environ").read_bytes()
    assert KEY.encode() not in environ and own.encode() in environ
    assert _call(port, "/metadata", Authorization=f"Bearer {own}").status_code == 200
    assert _call(port, "/metadata", Authorization=f"Bearer {other}").status_code == 401
    assert _call(port, "/metadata", Authorization=f"Bearer {own}x").status_code == 401

    def rows() -> int:
        found = store.get_deployment("default", "tiny")
        return sum(int(e.report["rows"]) for e in found.drift) if found else 0

    until("the supervisor reads the keyed replica's drift", lambda: rows() == 1, timeout=30)
    supervisor.stop_deployment("default", "tiny")
    assert all(KEY not in p.read_text() and own not in p.read_text() for p in logs.glob("*"))

    # the same without a key: the Host rule
    supervisor.close()
    supervisor = home.supervisor(interval_s=0.2, zygotes=False)
    home.deploy(trained.ref)
    supervisor.start()
    replica = home.ready("tiny").members[0]
    port = replica.port
    for path in ("/predict", *GUARDED):
        r = _call(port, path, Host=f"evil.example:{port}")
        assert r.status_code == 403, (path, r.text)
        assert r.headers["x-content-type-options"] == "nosniff"
    assert _call(port, "/predict", Host=f"127.0.0.1:{port}").status_code == 200
    supervisor.stop_deployment("default", "tiny")


def test_a_replica_forked_by_the_zygote_needs_the_key_too(replica_home: ReplicaHome) -> None:
    """A restarted replica is forked from the deployment's zygote, which hands it its
    environment in the fork request: it takes the deployment's key the same way."""
    home = replica_home
    trained = model.train(hyperparameters={"C": 1.0}, registry=home.registry, rows=120)
    supervisor = home.supervisor(home.env(model_key=KEY), interval_s=0.2)
    home.deploy(trained.ref)
    supervisor.start()
    first = home.ready("tiny").members[0]
    zygote = until("the zygote", lambda: supervisor.zygote("default", "tiny"), timeout=90)
    assert zygote.wait_ready(120), zygote.error
    os.kill(first.pid, signal.SIGKILL)
    again = home.ready("tiny", restarts=1).members[0]  # the forked replica
    stat = Path(f"/proc/{again.pid}/stat").read_bytes()
    assert int(stat.rsplit(b")", 1)[-1].split()[1]) == zygote.pid  # forked, not cold
    port = again.port
    assert _call(port, "/predict").status_code == 401
    assert _call(port, "/predict", Authorization=f"Bearer {KEY}").status_code == 200
    own = deployment_key(KEY, key_scope("default", "tiny"))
    assert all(KEY not in p.read_text() and own not in p.read_text() for p in home.logs.glob("*"))
    supervisor.stop_deployment("default", "tiny")
