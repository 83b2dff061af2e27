"""What the web console reads beyond the core API: an execution's graph (upstream nodes,
parents, gates, mapped inputs), a map node's items, dataframe heads, search and date filters
of the executions list, and the console's files served at ``/`` with the SPA fallback."""

from __future__ import annotations

import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from airfoil.core.log_lines import printed
from airfoil.wire import GraphOut, MapItemsOut

pytestmark = pytest.mark.integration

CONSOLE_FLOW = textwrap.dedent(
    """
    import pandas as pd

    import airfoil as af


    @af.task
    def square(x: int) -> int:
        if x == 3:
            raise ValueError("three is not allowed")
        return x * x


    @af.task
    def total(xs: list[int | None]) -> int:
        return sum(x for x in xs if x is not None)


    @af.task
    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"k": list(range(n)), "name": [f"r{i}" for i in range(n)]})


    @af.task
    def chatty(release: str) -> str:
        import os
        import time

        print("first line, while running", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.05)
        print("second line")
        return "done"


    @af.workflow
    def talks(release: str) -> str:
        return chatty(release=release)


    @af.workflow
    def inner(n: int) -> pd.DataFrame:
        return frame(n=n)


    @af.task
    def fit(model: str, c: float = 1.0) -> float:
        return c


    @af.task
    def rows(df: pd.DataFrame) -> int:
        return len(df)


    @af.workflow
    def sweep() -> float:
        fit.with_name("logistic")(model="lr", c=0.5)
        fit(model="svm").with_overrides(name="support vectors")
        return fit(model="a very long model name that goes on and on", c=2.0)


    @af.workflow
    def shaped(n: int = 30) -> int:
        squares = af.map_task(square, min_success_ratio=0.5)(x=list(range(6)))
        df = inner(n=n)
        ok = af.approve(total(xs=squares), "ok", timeout=60.0)
        return ok
    """
)


@pytest.fixture(scope="module")
def console_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("consoleproj")
    (root / "console_flow.py").write_text(CONSOLE_FLOW)
    load_entity(str(root / "console_flow.py"), "shaped")
    return sys.modules["console_flow"]


def _get(client: Any, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(f"{client.url}/api/v1/projects/{client.project}{path}", timeout=30, **kw)


def _wait_for(cond: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_graph_items_and_frame_heads(client: Any, console_flow: Any) -> None:
    client.register([console_flow.shaped])
    ex = client.launch(console_flow.shaped, {"n": 30})
    _wait_for(
        lambda: any(n.phase == "running" and n.kind == "gate" for n in client.get(ex.id).nodes)
    )

    r = _get(client, f"/executions/{ex.id}/graph")
    assert r.status_code == 200, r.text
    graph = GraphOut.model_validate(r.json())
    nodes = {n.id: n for n in graph.nodes}
    kinds = sorted(n.kind for n in graph.nodes)
    assert kinds == ["gate", "map", "task", "task", "workflow"]
    mapped = next(n for n in graph.nodes if n.kind == "map")
    assert mapped.mapped == ["x"] and mapped.label == "square"
    sub = next(n for n in graph.nodes if n.kind == "workflow")
    child = next(n for n in graph.nodes if n.parent == sub.id)
    assert child.task == "console_flow.frame" and child.id in sub.upstream  # fed by its child
    gate = next(n for n in graph.nodes if n.kind == "gate")
    assert gate.gate is not None and (gate.gate.kind, gate.gate.name) == ("approve", "ok")
    assert gate.gate.type == "bool"
    summed = next(n for n in graph.nodes if n.task == "console_flow.total")
    assert summed.upstream == [mapped.id] and gate.upstream == [summed.id]
    assert set(nodes) == {n.id for n in client.get(ex.id).nodes}

    items = MapItemsOut.model_validate(
        _get(client, f"/executions/{ex.id}/nodes/{mapped.id}/items").json()
    )
    assert items.total == 6 and [i.index for i in items.items] == list(range(6))
    assert [i.phase for i in items.items].count("failed") == 1
    failed = next(i for i in items.items if i.phase == "failed")
    assert failed.index == 3 and failed.error is not None
    assert "three is not allowed" in failed.error.message
    # the user's file as in their project, not the worker's package cache folder
    assert failed.error.traceback and 'File "console_flow.py"' in failed.error.traceback
    assert "packages" not in failed.error.traceback
    page = MapItemsOut.model_validate(
        _get(client, f"/executions/{ex.id}/nodes/{mapped.id}/items?offset=4&limit=1").json()
    )
    assert [i.index for i in page.items] == [4]
    not_map = _get(client, f"/executions/{ex.id}/nodes/{summed.id}/items")
    assert not_map.status_code == 422 and "not a map node" in not_map.json()["error"]["message"]

    # the subworkflow runs beside the map, not before the gate: its child may still run
    _wait_for(
        lambda: any(n.id == child.id and n.phase == "succeeded" for n in client.get(ex.id).nodes)
    )
    node = _get(client, f"/executions/{ex.id}/nodes/{child.id}").json()
    preview = node["outputs"][0]["preview"]
    assert preview["rows"] == 30 and preview["columns"] == ["k", "name"]
    assert preview["head"][:2] == [{"k": 0, "name": "r0"}, {"k": 1, "name": "r1"}]
    assert len(preview["head"]) == 20

    client.signal(ex.id, "ok", True)
    assert client.wait(ex.id, timeout=60).phase == "succeeded"


def test_search_and_date_filters(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    tag = uuid.uuid4().hex[:8]
    a = client.launch(flow.wf, {"x": 1}, labels={"team": f"vision-{tag}"})
    b = client.launch(flow.wf, {"x": 2})
    for e in (a, b):
        client.wait(e.id, timeout=60)

    def ids(**params: Any) -> list[str]:
        r = _get(client, "/executions", params=params)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["items"]]

    assert ids(q=f"VISION-{tag}") == [a.id]  # labels, case-insensitively
    assert ids(q=b.id[-6:]) == [b.id]  # the id
    assert set(ids(q="flow.wf")) == {a.id, b.id}
    assert ids(q="no such thing anywhere") == []
    created = {e["id"]: e["created_at"] for e in _get(client, "/executions").json()["items"]}
    assert ids(since=created[b.id]) == [b.id]
    assert ids(until=created[a.id]) == [a.id]
    assert ids(since=created[a.id], until=created[b.id]) == [b.id, a.id]
    page = _get(client, "/executions", params={"q": "flow.wf", "limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [e["id"] for e in page["items"]] == [a.id]


def test_console_files_and_spa_fallback(server: Any) -> None:
    from airfoil.server import _app

    r = httpx.get(server.url + "/projects/default/executions/whatever", timeout=30)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "Airfoil" in r.text
    for method, bad in [
        ("GET", "/api/v1/nope"),
        ("GET", "/api/nope"),
        ("GET", "/api"),
        ("POST", "/api/v1/nope"),
        ("POST", "/projects/default/executions"),
        ("DELETE", "/index.html"),
    ]:
        r = httpx.request(method, server.url + bad, timeout=30)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", bad
    for sneaky in ("/..%2f..%2fpyproject.toml", "/assets/..%2f..%2f_app.py", "/%2e%2e/_app.py"):
        r = httpx.get(server.url + sneaky, timeout=30)
        assert r.status_code in (200, 404), sneaky
        assert "create_app" not in r.text and "[project]" not in r.text, sneaky
    if (_app.STATIC_DIR / "index.html").is_file():
        assets = list((_app.STATIC_DIR / "assets").glob("*.js"))
        r = httpx.get(f"{server.url}/assets/{assets[0].name}", timeout=30)
        assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
        assert r.content == assets[0].read_bytes()


def test_logs_are_tailed_while_the_attempt_runs(
    server: Any, client: Any, console_flow: Any, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    client.register([console_flow.talks])
    ex = client.launch(console_flow.talks, {"release": str(release)})
    _wait_for(lambda: any(n.phase == "running" for n in client.get(ex.id).nodes))
    logs = f"/executions/{ex.id}/nodes/n0/logs"
    _wait_for(lambda: "first line" in _get(client, logs).json()["text"])
    assert client.get(ex.id).nodes[0].phase == "running"  # still waiting for the release
    assert "second line" not in _get(client, logs).json()["text"]
    release.write_text("go")
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    text = _get(client, logs).json()["text"]
    assert printed(text) == "first line, while running\nsecond line\n"  # lines carry time, level
    files = [str(p) for p in Path(server.home).rglob("*.log*") if ex.id in str(p)]
    assert files and all(f.endswith(".log") for f in files)  # the copy is gone at the end


def test_named_nodes_and_input_summaries_in_the_graph(client: Any, console_flow: Any) -> None:
    client.register([console_flow.sweep])
    ex = client.launch(console_flow.sweep, {})
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    graph = GraphOut.model_validate(_get(client, f"/executions/{ex.id}/graph").json())
    shown = [(n.label, n.summary) for n in sorted(graph.nodes, key=lambda n: n.id)]
    assert shown[0] == ("logistic", "model=lr, c=0.5")
    assert shown[1] == ("support vectors", "model=svm, c=1.0")
    assert shown[2][0] == "fit"
    assert shown[2][1] == "model=a very long model name …, c=2.0"  # long values clipped


def test_a_parquet_file_uploaded_as_it_is_gets_its_rows_and_columns(
    client: Any, console_flow: Any, tmp_path: Path
) -> None:
    """What the console sends for a DataFrame input: the user's .parquet file's bytes, named
    by their SHA-256, with no rows or columns in the reference (the page cannot read them)."""
    import hashlib

    import pandas as pd

    client.register([console_flow.rows])
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": range(7), "b": [f"x{i}" for i in range(7)]}).to_parquet(path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    base = f"{client.url}/api/v1/projects/{client.project}"
    put = httpx.put(f"{base}/uploads/{sha}", content=data, timeout=30)
    assert put.status_code == 200, put.text
    ref = {"format": "parquet", "hash": sha, "size": len(data), "sha256": sha}
    launched = httpx.post(
        f"{base}/domains/development/executions",
        json={"entity": "console_flow.rows", "inputs": {"df": {"$airfoil": {**ref, "meta": {}}}}},
        timeout=30,
    )
    assert launched.status_code == 201, launched.text
    ex = launched.json()["id"]
    done = client.wait(ex, timeout=60)
    assert done.phase == "succeeded", done.error
    assert [v.preview for v in done.outputs] == [7]
    preview = _get(client, f"/executions/{ex}/nodes/n0").json()["inputs"][0]["preview"]
    assert preview["rows"] == 7 and preview["columns"] == ["a", "b"]

    broken = b"PAR1" + b"\0" * 64 + b"PAR1"
    bsha = hashlib.sha256(broken).hexdigest()
    assert httpx.put(f"{base}/uploads/{bsha}", content=broken, timeout=30).status_code == 200
    bad = httpx.post(
        f"{base}/domains/development/executions",
        json={
            "entity": "console_flow.rows",
            "inputs": {
                "df": {
                    "$airfoil": {
                        "format": "parquet",
                        "hash": bsha,
                        "size": len(broken),
                        "sha256": bsha,
                        "meta": {},
                    }
                }
            },
        },
        timeout=30,
    )
    assert bad.status_code == 422 and "cannot be read" in bad.json()["error"]["message"]


def test_a_kept_detail_follows_its_execution_to_the_end(
    client: Any, console_flow: Any, tmp_path: Path
) -> None:
    """The detail of a running execution, rebuilt from a kept answer (its spec and inputs
    reused, only the head read), shows each new phase, and its outputs once it ends."""
    release = tmp_path / "release"
    client.register([console_flow.talks])
    ex = client.launch(console_flow.talks, {"release": str(release)})
    _wait_for(lambda: any(n.phase == "running" for n in client.get(ex.id).nodes))
    first = _get(client, f"/executions/{ex.id}").json()  # kept with its record
    assert first["phase"] == "running" and first["outputs"] == []
    assert first["nodes"][0]["phase"] == "running"
    release.write_text("go")
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    last = _get(client, f"/executions/{ex.id}").json()
    assert last["phase"] == "succeeded"
    assert last["nodes"][0]["phase"] == "succeeded"
    assert [(o["name"], o["preview"]) for o in last["outputs"]] == [("o0", "done")]
    assert last["interface"] == first["interface"] and last["inputs"] == first["inputs"]
    assert last["ended_at"] is not None and first["ended_at"] is None
