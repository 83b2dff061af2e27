"""(adv23) A server's model key changes across a restart (``HOME/model.key`` removed, so a
new one is made; or another ``AIRFOIL_MODEL_KEY``): the replicas that outlived the restart
kept the old key's derivation, and the new server re-adopted them as they were, so the key
it hands out (``GET .../deployments/NAME/key``, ``airfoil deploy key``) was refused by them
(401) for as long as they ran, and the supervisor's own keyed reads (``/drift``) failed too.
Now a re-adopted replica is asked once whether it takes the server's key, and restarted with
its deployment's key where it does not. Real HTTP: a server (in a thread) and its replica
processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import alive, until
from _srv import start_server
from test_deployment_keys import ROW, trained_home

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_replica_keyed_by_a_replaced_model_key_is_restarted_with_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ref = trained_home(tmp_path, monkeypatch, "adv23_model")

    server = start_server(home, None)
    runner = server.deps.registry.create_key("alpha", "runner")[1]
    bearer = {"Authorization": f"Bearer {runner}"}
    pids: list[int] = []

    def ready(srv: Any, restarts: int) -> Any:
        got = httpx.get(
            srv.url + "/api/v1/projects/alpha/deployments/tiny", headers=bearer, timeout=30
        )
        members = got.json()["members"]
        up = members and members[0]["status"] == "ready" and members[0]["restarts"] >= restarts
        return members[0] if up else None

    def deployment_key(srv: Any) -> str:
        got = httpx.get(
            srv.url + "/api/v1/projects/alpha/deployments/tiny/key", headers=bearer, timeout=30
        )
        assert got.status_code == 200, got.text
        key = got.json()["key"]
        assert key
        return str(key)

    try:
        r = httpx.post(
            server.url + "/api/v1/projects/alpha/deployments",
            json={"ref": ref},
            headers=bearer,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        first = until("a ready replica", lambda: ready(server, 0), timeout=120)
        pids.append(first["pid"])
        url = first["url"]
        old = {"Authorization": f"Bearer {deployment_key(server)}"}
        assert httpx.post(url + "/predict", json=ROW, headers=old, timeout=10).status_code == 200

        # The operator replaces the kept key (a new one is made at the next start).
        server.stop()
        assert alive(first["pid"])  # replicas outlive their server
        (home / "model.key").unlink()
        server = start_server(home, None)
        new = {"Authorization": f"Bearer {deployment_key(server)}"}
        assert new != old

        member = until("the replica restarted with the new key", lambda: ready(server, 1))
        pids.append(member["pid"])
        assert member["pid"] != first["pid"] and member["url"] == url
        assert httpx.post(url + "/predict", json=ROW, headers=new, timeout=10).status_code == 200
        assert httpx.post(url + "/predict", json=ROW, headers=old, timeout=10).status_code == 401
    finally:
        with_key = {"Authorization": f"Bearer {runner}"}
        try:
            httpx.delete(
                server.url + "/api/v1/projects/alpha/deployments/tiny",
                headers=with_key,
                timeout=30,
            )
        except httpx.HTTPError:
            pass
        server.stop()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
