"""``GET /api/v1/cluster`` on a real server: the nodes and queue that admitting processes
reported (here: two drivers' snapshots written to the server's store), merged, with the
attempts of projects a key may not read counted but never named -- not in the queue, not in
what runs on a node -- and ``airfoil nodes --remote`` / ``airfoil queue --remote`` showing
the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import Running, start_server

from airfoil.core.cluster import ClusterNode
from airfoil.core.resources import ResourceSpec
from airfoil.store._scheduling import NodeUsage, QueuedItem, QueueSnapshot

pytestmark = pytest.mark.integration

GIB = 2**30
KEYS: dict[str, str] = {}


def _item(project: str, nid: str, state: str, placement: tuple[str, ...] = ()) -> QueuedItem:
    return QueuedItem(
        execution_id=f"ex-{project}",
        node_id=nid,
        project=project,
        task=f"{project}.secret_task_name",
        requests=ResourceSpec(cpu=2.0, mem=GIB),
        state=state,
        submit_time=100.0,
        reason="no room: waits for 2 x cpu=2" if state == "waiting" else "",
        placement=placement,
        workers=2 if nid == "train" else 1,
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    srv = start_server(tmp_path_factory.mktemp("cluster-api"), None, run_engine=False)
    try:
        head = ClusterNode("nhead", "10.0.0.1", capacity=ResourceSpec(), head=True)
        n1 = ClusterNode("n1", "10.0.0.2", capacity=ResourceSpec(cpu=2.0, mem=8 * GIB))
        n2 = ClusterNode("n2", "10.0.0.3", capacity=ResourceSpec(cpu=2.0, mem=8 * GIB, gpu=1))
        used = ResourceSpec(cpu=2.0, mem=GIB)
        # remote hosts: their snapshots are never taken for a dead local process
        a = QueueSnapshot(
            "replica-a:11:x", 1.0, "airfoil", ResourceSpec(cpu=4.0),
            (_item("alpha", "train", "waiting"), _item("alpha", "prep", "running", ("n1",))),
            (NodeUsage(head), NodeUsage(n1, used, ("ex-alpha/prep",)), NodeUsage(n2)),
        )  # fmt: skip
        b = QueueSnapshot(
            "replica-b:12:y", 2.0, "airfoil", ResourceSpec(cpu=4.0),
            (_item("beta", "fit", "running", ("n2",)),),
            (NodeUsage(n1), NodeUsage(n2, used, ("ex-beta/fit",))),
        )  # fmt: skip
        srv.deps.meta.put_queue_snapshot(a)
        srv.deps.meta.put_queue_snapshot(b)
        reg = srv.deps.registry
        KEYS["global"] = reg.create_key("*", "viewer")[1]
        KEYS["alpha"] = reg.create_key("alpha", "viewer")[1]
        yield srv
    finally:
        srv.stop()


def _get(running: Running, key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.get(running.url + "/api/v1/cluster", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_global_key_sees_every_node_and_the_queue_with_reasons(running: Running) -> None:
    body = _get(running, KEYS["global"])
    assert [n["name"] for n in body["nodes"]] == ["nhead", "n1", "n2"]
    by = {n["name"]: n for n in body["nodes"]}
    assert by["nhead"]["head"] and by["n2"]["gpu"] == 1
    assert by["n1"]["used_cpu"] == 2.0 and by["n1"]["running"] == ["ex-alpha/prep"]
    assert by["n2"]["running"] == ["ex-beta/fit"]
    queue = body["queue"]
    assert [q["state"] for q in queue] == ["waiting", "running", "running"]
    assert queue[0]["reason"].startswith("no room") and queue[0]["workers"] == 2
    assert {q["node_id"]: q["placement"] for q in queue[1:]} == {"prep": ["n1"], "fit": ["n2"]}
    assert body["live"] is False  # this server drives nothing: it reads the snapshots


def test_a_key_of_one_project_never_sees_anothers_attempts(running: Running) -> None:
    body = _get(running, KEYS["alpha"])
    text = json.dumps(body)
    assert "beta" not in text and "ex-beta" not in text
    assert body["hidden"] == 1 and {q["project"] for q in body["queue"]} == {"alpha"}
    by = {n["name"]: n for n in body["nodes"]}
    assert by["n2"]["running"] == [] and by["n2"]["hidden"] == 1
    assert by["n2"]["used_cpu"] == 2.0, "what a node holds is shown, not whose it is"
    r = httpx.get(
        running.url + "/api/v1/cluster", headers={"Authorization": "Bearer nope"}, timeout=30
    )
    assert r.status_code == 401


def test_the_cli_shows_the_servers_cluster(running: Running, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_SERVER_URL=running.url,
        AIRFOIL_API_KEY=KEYS["global"],
    )
    cli = [sys.executable, "-m", "airfoil.cli"]
    done = subprocess.run(
        [*cli, "nodes", "--remote", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [n["address"] for n in json.loads(done.stdout)] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    done = subprocess.run(
        [*cli, "nodes", "--remote"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "2/2" in done.stdout and "ex-alpha/prep" in done.stdout and "(head)" in done.stdout
    env["COLUMNS"] = "250"
    done = subprocess.run(
        [*cli, "queue", "--remote"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "no room" in done.stdout and "on 10.0.0.2" in done.stdout
    assert "2 x (cpu=2" in done.stdout


def test_nodes_of_ray_without_an_address_is_refused(tmp_path: Path) -> None:
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    env.pop("AIRFOIL_RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "nodes", "--executor", "ray"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "--ray-address" in done.stderr and "local Ray" in done.stderr


def _decided_reasons() -> dict[str, str]:
    """What the default policy says of a project's attempt waiting behind another project's
    gang: the scheduler names the gang it keeps room for."""
    from airfoil.scheduler import Node, SchedulerState, WorkItem

    state = SchedulerState([Node("n1", ResourceSpec(cpu=4.0)), Node("n2", ResourceSpec(cpu=4.0))])
    state.submit(WorkItem("ex-gamma/hold", "gamma", ResourceSpec(cpu=3.0), estimate=100.0))
    state.apply(state.decide(0.0), 0.0)
    state.submit(WorkItem("ex-beta/gang", "beta", ResourceSpec(cpu=3.0), gang_size=2))
    state.submit(WorkItem("ex-alpha/small", "alpha", ResourceSpec(cpu=2.0), estimate=1e4))
    return dict(state.decide(3.0).reasons)


def test_a_reason_never_names_another_projects_attempt(tmp_path: Path) -> None:
    reasons = _decided_reasons()
    assert "ex-beta/gang" in reasons["ex-alpha/small"], "the scheduler names the gang"

    def queued(eid: str, state: str) -> QueuedItem:
        project = eid.split("/")[0].removeprefix("ex-")
        return QueuedItem(
            execution_id=eid.split("/")[0], node_id=eid.split("/")[1], project=project,
            task=f"{project}.task", requests=ResourceSpec(cpu=3.0), state=state,
            submit_time=1.0, reason=reasons.get(eid, ""), workers=2 if "gang" in eid else 1,
        )  # fmt: skip

    srv = start_server(tmp_path, None, run_engine=False)
    try:
        n1 = ClusterNode("n1", "10.0.0.2", capacity=ResourceSpec(cpu=4.0))
        snap = QueueSnapshot(
            "replica-c:13:z", 1.0, "airfoil", ResourceSpec(cpu=8.0),
            (queued("ex-beta/gang", "waiting"), queued("ex-alpha/small", "waiting"),
             queued("ex-gamma/hold", "running")),
            (NodeUsage(n1, ResourceSpec(cpu=3.0), ("ex-gamma/hold",)),),
        )  # fmt: skip
        srv.deps.meta.put_queue_snapshot(snap)
        KEYS["alpha"] = srv.deps.registry.create_key("alpha", "viewer")[1]
        body = _get(srv, KEYS["alpha"])
    finally:
        srv.stop()
    assert [q["node_id"] for q in body["queue"]] == ["small"] and body["hidden"] == 2
    reason = body["queue"][0]["reason"]
    assert "ex-beta" not in json.dumps(body), reason
    assert reason.startswith("reserved for gang another project's attempt: starting now")
