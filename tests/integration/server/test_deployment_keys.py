"""(adv22) A server with API keys but no ``AIRFOIL_MODEL_KEY`` started keyless replicas: any
process on the machine, any other project's task, could call them. Now it keeps a key of its
own and its replicas need their deployment's key, which a runner of the project reads from
the API (``GET /projects/P/deployments/NAME/key``) or ``airfoil deploy key NAME``; a viewer of
the project, or a member of another, is refused. The server's key is in no log, ``repr`` or
replica environment. Real HTTP: a server (in a thread) and its replica processes."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from _deployments import alive, load_model_file, until
from _srv import start_server

from airfoil.core.worker_env import deployment_key, key_scope
from airfoil.ml import ModelRegistry
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from airfoil.ml import Dataset, Model

dataset = Dataset("tiny", targets=["label"])
model = Model("tiny", init=LogisticRegression, dataset=dataset)

@dataset.reader
def reader(rows: int = 80) -> pd.DataFrame:
    x = np.random.default_rng(0).normal(size=(rows, 2))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": (x[:, 0] > 0).astype(int)})

@model.trainer
def trainer(est: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
    return est.fit(X, y)

@model.predictor
def predictor(est: LogisticRegression, features: pd.DataFrame) -> list[int]:
    return [int(p) for p in est.predict(features)]
"""
ROW = {"features": [{"a": 1.0, "b": 0.0}]}


def trained_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module_name: str
) -> tuple[Path, str]:
    """A server's home (no ``AIRFOIL_MODEL_KEY``) whose registry has project alpha's model
    ``tiny`` trained, and the model's reference."""
    monkeypatch.delenv("AIRFOIL_MODEL_KEY", raising=False)
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    home = tmp_path / "home"
    home.mkdir()
    store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
    registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "alpha")
    module = load_model_file(tmp_path / f"{module_name}.py", MODEL)
    ref = str(module.model.train(registry=registry).ref)
    store.close()
    return home, ref


def _environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def test_a_keyed_servers_replicas_need_their_deployments_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    home, ref = trained_home(tmp_path, monkeypatch, "adv22_model")

    server = start_server(home, None)
    pids: list[int] = []
    try:
        api = httpx.Client(base_url=server.url + "/api/v1", timeout=30)

        def call(key: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return api.request(method, path, headers=headers, **kw)

        def ready(restarts: int) -> Any:
            d = call(None if restarts == 0 else viewer, "GET", "/projects/alpha/deployments/tiny")
            members = d.json()["members"]
            up = members and members[0]["status"] == "ready" and members[0]["restarts"] >= restarts
            return members[0] if up else None

        # No API keys yet (loopback clients only): the replica takes no key, and says so.
        r = call(None, "POST", "/projects/alpha/deployments", json={"ref": ref})
        assert r.status_code == 200, r.text
        first = until("a ready replica", lambda: ready(0), timeout=120)
        pids.append(first["pid"])
        url = first["url"]
        assert httpx.post(url + "/predict", json=ROW, timeout=10).status_code == 200
        body = call(None, "GET", "/projects/alpha/deployments/tiny/key").json()
        assert body == {"project": "alpha", "name": "tiny", "key": None, "urls": [url]}
        assert not (home / "model.key").exists()

        keys = server.deps.registry
        runner = keys.create_key("alpha", "runner")[1]
        viewer = keys.create_key("alpha", "viewer")[1]
        beta = keys.create_key("beta", "admin")[1]

        # The first API key: the keyless replica is restarted with its deployment's key.
        member = until("the replica restarted keyed", lambda: ready(1), timeout=120)
        pids.append(member["pid"])
        assert member["pid"] != first["pid"] and member["url"] == url
        # The replica takes a key: none is a 401 (it answered anyone before).
        assert httpx.post(url + "/predict", json=ROW, timeout=10).status_code == 401

        kept = (home / "model.key").read_text().strip()
        assert (home / "model.key").stat().st_mode & 0o777 == 0o600
        own = deployment_key(kept, key_scope("alpha", "tiny"))

        # A runner of the project gets its deployment's key, and it calls the replica.
        got = call(runner, "GET", "/projects/alpha/deployments/tiny/key")
        assert got.status_code == 200, got.text
        assert got.headers["cache-control"] == "no-store"
        body = got.json()
        assert body == {"project": "alpha", "name": "tiny", "key": own, "urls": [url]}
        bearer = {"Authorization": f"Bearer {own}"}
        assert httpx.post(url + "/predict", json=ROW, headers=bearer, timeout=10).status_code == 200
        other = {"Authorization": f"Bearer {deployment_key(kept, key_scope('beta', 'tiny'))}"}
        assert httpx.post(url + "/predict", json=ROW, headers=other, timeout=10).status_code == 401

        # A viewer of the project, and a member of another project, are refused.
        r = call(viewer, "GET", "/projects/alpha/deployments/tiny/key")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = call(beta, "GET", "/projects/alpha/deployments/tiny/key")
        assert r.status_code == 403 and own not in r.text
        assert call(beta, "GET", "/projects/beta/deployments/tiny/key").status_code == 404

        # The CLI prints the key alone, for $(airfoil deploy key NAME).
        env = dict(os.environ, AIRFOIL_API_KEY=runner, AIRFOIL_PROJECT="alpha")
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        cli = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "deploy", "key", "tiny", "--server", server.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout == own + "\n"

        # The server's key: in no replica's environment, no log, no repr.
        # (a replica forked by its zygote shows the zygote's first environment in /proc;
        # the zygote hands it its own in the fork request)
        assert kept.encode() not in _environ(member["pid"])
        # nor any process under this one: the engine's workers, the zygote, the replica
        under = psutil.Process().children(recursive=True)
        assert member["pid"] in {p.pid for p in under}
        for p in under:
            with contextlib.suppress(psutil.Error, OSError):
                assert kept.encode() not in _environ(p.pid), p.cmdline()
        assert kept not in repr(server.app.state.model_key)
        supervisor = server.app.state.supervisor
        assert kept not in repr(supervisor.env) and kept not in repr(vars(supervisor))
        assert kept not in os.environ.values()
        assert all(kept not in rec.getMessage() for rec in caplog.records)

        r = call(runner, "DELETE", "/projects/alpha/deployments/tiny")
        assert r.status_code == 200, r.text
        until("the replica stopped", lambda: not alive(member["pid"]), timeout=30)
        for log in (home / "deployments").glob("*"):
            assert kept not in log.read_text() and own not in log.read_text()
    finally:
        server.stop()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_bad_kept_key_is_named_to_a_runner_without_the_servers_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """(adv24) ``HOME/model.key`` that cannot be used (here: open to other users) made the
    key route answer the ConfigError meant for the operator, the server's home path in it,
    to any runner. The answer names the problem and who fixes it; the server's log keeps
    the file's path and the fix."""
    caplog.set_level(logging.INFO)
    home, ref = trained_home(tmp_path, monkeypatch, "adv24_model")
    kept = home / "model.key"
    kept.write_text("k" * 43 + "\n")
    kept.chmod(0o644)

    server = start_server(home, None)
    try:
        runner = server.deps.registry.create_key("alpha", "runner")[1]
        bearer = {"Authorization": f"Bearer {runner}"}
        with httpx.Client(base_url=server.url + "/api/v1", headers=bearer, timeout=30) as api:
            # deployed (recorded), its replica not started: said without the path too
            posted = api.post("/projects/alpha/deployments", json={"ref": ref})
            got = api.get("/projects/alpha/deployments/tiny/key")
        assert posted.status_code == 422, posted.text
        assert "open to other users (mode 644)" in posted.json()["error"]["message"]
        assert str(home) not in posted.text and str(tmp_path) not in posted.text
        assert got.status_code == 422, got.text
        error = got.json()["error"]
        assert error["code"] == "invalid_input", error
        assert "model.key in its home folder) is open to other users (mode 644)" in error["message"]
        assert "chmod 600 model.key" in error["message"]
        assert str(home) not in got.text and str(tmp_path) not in got.text
        assert "k" * 43 not in got.text
        logged = [rec.getMessage() for rec in caplog.records if str(kept) in rec.getMessage()]
        assert any(f"chmod 600 {kept}" in m for m in logged), logged
    finally:
        server.stop()
