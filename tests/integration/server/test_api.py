"""The API end to end over a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from airfoil.client import ApiCallError
from airfoil.core.errors import ConflictError, InvalidInputError, NotFoundError
from airfoil.core.log_lines import printed

pytestmark = pytest.mark.integration


def _http(client: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, client.url + "/api/v1" + path, timeout=30, **kw)


def test_register_launch_wait_and_typed_outputs(client: Any, flow: Any) -> None:
    reg = client.register([flow.wf, flow.configure])
    assert {e.name for e in reg.entities} == {"flow.wf", "flow.configure"}
    assert all(e.created for e in reg.entities)
    again = client.register([flow.wf])
    assert not again.entities[0].created  # same version and content: a no-op

    ex = client.launch(flow.wf, {"x": 5})
    detail = client.wait(ex.id, timeout=60)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, flow.wf) == 20
    assert [n.id for n in detail.nodes] == ["n0", "n1", "n2"]
    assert detail.outputs[0].preview == 20
    assert all(n.attempt_list and n.attempt_list[0].phase == "succeeded" for n in detail.nodes)
    assert detail.nodes[2].cache_status in ("put", "hit")
    assert printed(client.logs(ex.id, "n0").text) == "doubling 5\n"  # lines carry time, level

    cfg = flow.Config(scale=1.5, tags=["a", "b"], mode=flow.Mode.SLOW)
    ex2 = client.launch(flow.configure, {"cfg": cfg})
    assert client.wait(ex2.id, timeout=60).phase == "succeeded"
    assert client.outputs(ex2.id, flow.configure) == {"a": 3.0, "b": 3.0}


def test_same_version_other_content_is_409(client: Any, flow: Any) -> None:
    client.register([flow.double])
    spec = flow.double.spec
    import msgspec

    body = msgspec.to_builtins(spec)
    body["docs"] = "changed without a new version"
    pkg = client.upload_package(str(_root(flow)))
    r = _http(
        client,
        "POST",
        f"/projects/{client.project}/entities",
        json={
            "package": pkg.sha256,
            "entities": [
                {"kind": "task", "name": spec.name, "version": spec.version, "spec": body}
            ],
        },
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "version_conflict"
    assert "different content" in r.json()["error"]["message"]


def _root(flow: Any) -> Any:
    from pathlib import Path

    return Path(flow.__file__).parent


def test_launch_type_errors_are_422(client: Any, flow: Any) -> None:
    client.register([flow.wf, flow.configure])
    with pytest.raises(InvalidInputError, match="input 'x' expects int") as err:
        client.launch("flow.wf", {"x": "five"})
    assert isinstance(err.value, ApiCallError) and err.value.code == "invalid_input"
    with pytest.raises(InvalidInputError, match="has no input"):
        client.launch("flow.wf", {"y": 1})
    with pytest.raises(InvalidInputError, match="mode"):
        client.launch("flow.configure", {"cfg": {"scale": 1, "tags": [], "mode": "MEDIUM"}})
    with pytest.raises(InvalidInputError, match="needs input 'cfg'"):
        client.launch("flow.configure", {})
    with pytest.raises(NotFoundError):
        client.launch("flow.nothing", {})
    r = _http(
        client,
        "POST",
        f"/projects/{client.project}/domains/qa/executions",
        json={"entity": "flow.wf"},
    )
    assert r.status_code == 422 and "unknown domain" in r.json()["error"]["message"]
    for name, said in (("", "empty run name"), ("Bad Id!", "invalid run name 'Bad Id!'")):
        r = _http(
            client,
            "POST",
            f"/projects/{client.project}/domains/development/executions",
            json={"entity": "flow.wf", "inputs": {"x": 1}, "name": name},
        )
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert said in message and '"name"' in message and "execution id" not in message


def test_list_filter_paginate(client: Any, flow: Any) -> None:
    client.register([flow.wf, flow.broken])
    ids = [client.launch("flow.wf", {"x": i}).id for i in range(3)]
    bad = client.launch("flow.broken", {"x": 2}).id
    for i in [*ids, bad]:
        client.wait(i, timeout=60)
    page = client.list(limit=2)
    assert page.total == 4 and len(page.items) == 2
    rest = client.list(limit=2, offset=2)
    assert {e.id for e in page.items + rest.items} == {*ids, bad}
    failed = client.list(phase="failed")
    assert [e.id for e in failed.items] == [bad]
    assert failed.items[0].error is not None and failed.items[0].error.type == "ValueError"
    assert client.list(workflow="flow.wf").total == 3


def test_terminate_and_relaunch(client: Any, flow: Any) -> None:
    client.register([flow.sleepy])
    ex = client.launch("flow.sleepy", {"seconds": 30}, name="nap")
    _wait_for(lambda: client.get(ex.id).nodes and client.get(ex.id).nodes[0].phase == "running")
    client.terminate(ex.id)
    detail = client.wait(ex.id, timeout=20)
    assert detail.phase == "aborted"
    assert detail.nodes[0].phase == "aborted"
    # named as the user calls it, as the local command does (before: by its generated id)
    with pytest.raises(ConflictError, match=r"execution nap already ended \(aborted\): nothing"):
        client.terminate(ex.id)
    again = client.relaunch(ex.id)
    assert again.id != ex.id and again.workflow == "flow.sleepy"
    client.terminate(again.id)
    assert client.wait(again.id, timeout=20).phase == "aborted"


def test_recover_reruns_only_from_the_failure(client: Any, flow: Any, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    client.register([flow.flaky])
    ex = client.launch("flow.flaky", {"path": str(flag)})
    failed = client.wait(ex.id, timeout=60)
    assert failed.phase == "failed" and failed.error is not None
    assert failed.error.type == "ValueError"
    client.register([flow.wf])
    ok = client.launch("flow.wf", {"x": 2})
    assert client.wait(ok.id, timeout=60).phase == "succeeded"
    with pytest.raises(InvalidInputError, match="only failed or aborted"):
        client.recover(ok.id)
    flag.write_text("go")
    again = client.recover(ex.id)
    assert again.id != ex.id
    done = client.wait(again.id, timeout=60)
    assert done.phase == "succeeded"
    nodes = {n.task: n for n in done.nodes}
    assert nodes["flow.double"].attempts == 0  # reused from the failed execution
    assert nodes["flow.needs_flag"].attempts == 1
    assert {v.name: v.preview for v in done.outputs} == {"o0": 9}


def _wait_for(cond: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_events_stream_and_values(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    ex = client.launch("flow.wf", {"x": 1})
    events = list(client.watch(ex.id))
    node_phases = [(e.node_id, e.to_phase) for e in events if e.kind == "node"]
    assert ("n2", "succeeded") in node_phases
    assert events[-1].kind == "execution" and events[-1].to_phase == "succeeded"
    detail = client.get(ex.id)
    link = detail.outputs[0].download
    assert link is not None
    r = httpx.get(client.url + link)
    assert r.status_code == 200 and r.content == b"4"
    r = _http(client, "GET", f"/projects/{client.project}/executions/{ex.id}/values/{'0' * 64}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    node = httpx.get(f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}/nodes/n0")
    assert node.json()["outputs"][0]["preview"] == 2


def test_entities_versions_and_cache(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    r = _http(client, "GET", f"/projects/{client.project}/entities")
    assert [e["name"] for e in r.json()["items"]] == ["flow.wf"]
    r = _http(client, "GET", f"/projects/{client.project}/entities/flow.wf/versions")
    v = r.json()["items"][0]
    assert v["interface"]["inputs"][0] == {
        "name": "x",
        "type": "int",
        "type_spec": {"kind": "int"},
        "description": "",
        "has_default": True,
        "default": 3,
    }
    ex = client.launch("flow.wf", {"x": 7})
    client.wait(ex.id, timeout=60)
    r = _http(client, "GET", f"/projects/{client.project}/cache")
    assert any(e["task"] == "flow.add" and e["execution_id"] == ex.id for e in r.json()["items"])
    ex2 = client.launch("flow.wf", {"x": 7})
    detail = client.wait(ex2.id, timeout=60)
    assert detail.nodes[2].cache_status == "hit"


def test_execution_of_another_project_is_404(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    ex = client.launch("flow.wf", {"x": 1})
    r = _http(client, "GET", f"/projects/elsewhere/executions/{ex.id}")
    assert r.status_code == 404


def test_health_ready_metrics(server: Any, client: Any, flow: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").json()["status"] == "ready"
    client.register([flow.wf])
    assert client.wait(client.launch("flow.wf", {"x": 11}).id, timeout=60).phase == "succeeded"
    text = httpx.get(server.url + "/metrics").text
    samples = {
        s.name + str(sorted(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    for name in (
        "airfoil_executions",
        "airfoil_queue_depth",
        "airfoil_cache_hit_ratio",
        "airfoil_api_request_duration_seconds",
        "airfoil_task_duration_seconds",
        "airfoil_scheduling_latency_seconds",
    ):
        assert name in text
    assert samples["airfoil_scheduling_latency_seconds_count[]"] >= 2  # the two doubles
    assert samples["airfoil_task_duration_seconds_count[]"] >= 2
    assert samples["airfoil_attempts_total[('phase', 'succeeded')]"] >= 2
    assert samples["airfoil_executions[('phase', 'succeeded')]"] >= 1
    # 60 s: a wait, not a bound (the first request builds the schema: past httpx's 5 s at load 20)
    spec = httpx.get(server.url + "/openapi.json", timeout=60).json()
    assert "/api/v1/projects/{project}/domains/{domain}/executions" in spec["paths"]


def test_secrets_reach_tasks_and_nothing_else(server: Any, client: Any, flow: Any) -> None:
    import hashlib

    from _srv import SECRETS_KEY

    from airfoil.server._secrets import SecretBox

    value = "s3cr3t-" + "v" * 20
    client.register([flow.uses_secret])
    with pytest.raises(InvalidInputError, match="requests secret 'token', which is not set"):
        client.launch(flow.uses_secret, {"salt": "pepper"})
    SecretBox(server.deps.registry, SECRETS_KEY).set(client.project, "token", value)
    ex = client.launch(flow.uses_secret, {"salt": "pepper"})
    detail = client.wait(ex.id, timeout=60)
    assert detail.phase == "succeeded", detail.error
    expected = hashlib.sha256(("pepper" + value).encode()).hexdigest()
    assert client.outputs(ex.id, flow.uses_secret) == expected
    seen = [
        detail.model_dump_json(),
        client.logs(ex.id, "n0").text,
        _http(client, "GET", f"/projects/{client.project}/executions/{ex.id}/events").text,
        _http(client, "GET", f"/projects/{client.project}/executions/{ex.id}/nodes/n0").text,
    ]
    assert "got a token of 27 chars" in seen[1]
    assert not any(value in text for text in seen)
    import sqlalchemy as sa

    with server.deps.registry.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT ciphertext FROM server_secrets")).all()
    assert stored and not any(value in row[0] for row in stored)


def test_gates_answered_through_the_api(client: Any, flow: Any) -> None:
    client.register([flow.gated])
    ex = client.launch(flow.gated, {"x": 4})
    _wait_for(lambda: any(n.phase == "running" for n in client.get(ex.id).nodes))
    with pytest.raises(InvalidInputError):
        client.signal(ex.id, "threshold", "not a number")
    with pytest.raises(NotFoundError):
        client.signal(ex.id, "nope", True)
    client.signal(ex.id, "threshold", 5.5)
    client.signal(ex.id, "ship", True)
    detail = client.wait(ex.id, timeout=60)
    assert detail.phase == "succeeded", detail.error
    assert client.outputs(ex.id, flow.gated) == "8>5.5"


def test_files_dataframes_and_arrays_are_uploaded_as_launch_inputs(
    client: Any, flow: Any, tmp_path: Path
) -> None:
    import numpy as np
    import pandas as pd

    import airfoil as af
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext, default_type_engine

    client.register([flow.file_text, flow.frame_total, flow.array_total])
    path = tmp_path / "notes.txt"
    path.write_text("hello from the client")
    small = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})  # inline
    big = pd.DataFrame({"a": np.arange(50_000, dtype=float)})  # uploaded
    runs = {
        client.launch("flow.file_text", {"f": af.File(str(path))}).id: "hello from the client",
        client.launch("flow.frame_total", {"df": small}).id: 10.0,
        client.launch("flow.frame_total", {"df": big}).id: float(big["a"].sum()),
        client.launch("flow.array_total", {"a": np.ones((300, 100))}).id: 30_000.0,
    }
    for ex_id, expected in runs.items():
        done = client.wait(ex_id, timeout=60)
        assert done.phase == "succeeded", done.error
        assert [v.preview for v in done.outputs] == [expected]
    # The server stored the value a local run would have: same hash, so the same cache keys.
    local = default_type_engine().to_value(
        af.File(str(path)), af.File, ValueContext(blobs=LocalBlobStore(str(tmp_path / "b")))
    )
    first = client.get(next(iter(runs)))
    assert [v.hash for v in first.nodes[0].inputs] == [local.hash]


def test_bad_uploaded_inputs_are_clear_422s(client: Any, flow: Any, tmp_path: Path) -> None:
    import hashlib

    import pandas as pd

    client.register([flow.file_text, flow.frame_total, flow.dir_count])
    with pytest.raises(InvalidInputError, match="not JSON"):
        client.launch("flow.file_text", {"f": "/etc/hostname"})  # a server path: refused
    with pytest.raises(InvalidInputError, match="directories cannot be sent"):
        client.launch("flow.dir_count", {"d": {"$airfoil": {}}})
    ref = client.upload_value(pd.DataFrame({"a": range(20_000)}))
    with pytest.raises(InvalidInputError, match=r"expects file .*got a .arrow. value"):
        client.launch("flow.file_text", {"f": ref})  # a dataframe for a file
    forged = {"$airfoil": {**ref["$airfoil"], "hash": "0" * 64}}
    with pytest.raises(InvalidInputError, match="do not match"):
        client.launch("flow.frame_total", {"df": forged})
    missing = {"$airfoil": {**ref["$airfoil"], "sha256": "1" * 64}}
    with pytest.raises(InvalidInputError, match="no upload"):
        client.launch("flow.frame_total", {"df": missing})
    data = b"some bytes"
    r = httpx.put(f"{client.url}/api/v1/projects/{client.project}/uploads/{'2' * 64}", content=data)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    sha = hashlib.sha256(data).hexdigest()
    r = httpx.put(f"{client.url}/api/v1/projects/{client.project}/uploads/{sha}", content=data)
    assert r.status_code == 200 and r.json() == {"sha256": sha, "size": len(data)}


def test_a_training_rank_log_is_read_over_the_api_and_the_cli(
    client: Any, flow: Any, server: Any
) -> None:
    """``GET .../logs?rank=R`` (and ``airfoil logs --remote --rank R``) reads a rank's own log
    of an attempt; a rank without a log is a 404 that says what ranks are. (Training gangs
    themselves are tested in tests/integration/training; here the log is planted.)"""
    from typer.testing import CliRunner

    from airfoil.cli.main import app
    from airfoil.executors.base import rank_log_key

    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    blobs = server.deps.blobs
    blobs.append_text(rank_log_key(ex.id, "n0", 1, 1), "--- gang start 0 on h:1 ---\nrank one\n")
    log = client.logs(ex.id, "n0", rank=1)
    assert (log.rank, log.attempt, log.text) == (1, 1, "--- gang start 0 on h:1 ---\nrank one\n")
    assert client.logs(ex.id, "n0").rank is None
    with pytest.raises(NotFoundError, match="no log of rank 0: ranks are a training task"):
        client.logs(ex.id, "n0", rank=0)
    r = _http(client, "GET", f"/projects/{client.project}/executions/{ex.id}/nodes/n0/logs?rank=-1")
    assert r.status_code == 422
    remote = ["--server", server.url, "--project", client.project]
    shown = CliRunner().invoke(app, ["logs", ex.id, "n0", "--rank", "1", *remote])
    assert shown.exit_code == 0, shown.output
    assert "== n0 attempt 1 rank 1 (succeeded)" in shown.output and "rank one" in shown.output
