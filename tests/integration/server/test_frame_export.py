"""Frames stored as Arrow IPC between tasks are exported as Parquet through the API: the
console's download link asks for it, and the raw bytes stay as stored (issue 17). A frame's
cache key does not depend on how it arrived: from an upstream task, from the client, or as a
Parquet or CSV file the console uploads."""

from __future__ import annotations

import io
import sys
import textwrap
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import pandas as pd

    import airfoil as af


    @af.task
    def table(n: int) -> pd.DataFrame:
        return pd.DataFrame({"k": list(range(n)), "v": [i / 2 for i in range(n)]})


    @af.task
    def count(df: pd.DataFrame) -> int:
        return len(df)


    @af.workflow
    def tables(n: int = 5000) -> pd.DataFrame:
        df = table(n=n)
        count(df=df)
        return df


    @af.task(cache=True)
    def total(df: pd.DataFrame) -> float:
        return float(df["v"].sum())


    @af.workflow
    def total_of_table(n: int) -> float:
        return total(df=table(n=n))


    @af.workflow
    def total_of_input(df: pd.DataFrame) -> float:
        return total(df=df)
    """
)


@pytest.fixture(scope="module")
def frame_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("frameexportproj")
    (root / "frame_export_flow.py").write_text(FLOW)
    load_entity(str(root / "frame_export_flow.py"), "tables")
    return sys.modules["frame_export_flow"]


def test_a_frame_output_downloads_as_parquet_and_raw_as_arrow(client: Any, frame_flow: Any) -> None:
    client.register([frame_flow.tables])
    ex = client.launch(frame_flow.tables, {"n": 5000})
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    expected = pd.DataFrame({"k": range(5000), "v": [i / 2 for i in range(5000)]})
    pd.testing.assert_frame_equal(client.outputs(ex.id, frame_flow.tables), expected)

    base = f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}"
    detail = httpx.get(base, timeout=30).json()
    out = detail["outputs"][0]
    assert out["format"] == "arrow" and out["download"].endswith("?as=parquet")
    r = httpx.get(f"{client.url}{out['download']}", timeout=30)
    assert r.status_code == 200 and r.headers["x-airfoil-format"] == "parquet"
    assert r.content[:4] == b"PAR1"
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(r.content)), expected)

    raw = httpx.get(f"{base}/values/{out['hash']}", timeout=30)
    assert raw.headers["x-airfoil-format"] == "arrow"
    table = pa.ipc.open_stream(pa.py_buffer(raw.content)).read_all()
    assert table.num_rows == 5000

    ints = httpx.get(f"{base}/values/{out['hash']}?as=csv", timeout=30)
    assert ints.status_code == 422


def _total_node(client: Any, execution_id: str) -> dict[str, Any]:
    base = f"{client.url}/api/v1/projects/{client.project}/executions/{execution_id}"
    detail = httpx.get(base, timeout=30).json()
    (node,) = [n for n in detail["nodes"] if n["task"].endswith(".total")]
    return dict(node)


def test_a_frame_has_one_cache_key_however_it_arrives(
    client: Any, frame_flow: Any, tmp_path: Any
) -> None:
    """The same frame from an upstream task, from the Python client, and as a Parquet or a CSV
    file uploaded as it is (the console's way) is one value: the cached task runs once."""
    import hashlib

    client.register([frame_flow.total_of_table, frame_flow.total_of_input])
    first = client.launch(frame_flow.total_of_table, {"n": 40})
    assert client.wait(first.id, timeout=60).phase == "succeeded"
    ran = _total_node(client, first.id)
    assert ran["cache_status"] == "put"  # ran, and stored its result

    frame = pd.DataFrame({"k": list(range(40)), "v": [i / 2 for i in range(40)]})
    from_client = client.launch(frame_flow.total_of_input, {"df": frame})
    assert client.wait(from_client.id, timeout=60).phase == "succeeded"
    hit = _total_node(client, from_client.id)
    assert hit["cache_status"] == "hit", hit
    assert hit["cache_key"] == ran["cache_key"]

    base = f"{client.url}/api/v1/projects/{client.project}"
    for suffix in ("parquet", "csv"):
        path = tmp_path / f"frame.{suffix}"
        frame.to_parquet(path) if suffix == "parquet" else frame.to_csv(path, index=False)
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert httpx.put(f"{base}/uploads/{sha}", content=data, timeout=30).status_code == 200
        ref = {"format": suffix, "hash": sha, "size": len(data), "sha256": sha, "meta": {}}
        launched = httpx.post(
            f"{base}/domains/development/executions",
            json={
                "entity": "frame_export_flow.total_of_input",
                "inputs": {"df": {"$airfoil": ref}},
            },
            timeout=30,
        )
        assert launched.status_code == 201, launched.text
        eid = launched.json()["id"]
        assert client.wait(eid, timeout=60).phase == "succeeded"
        node = _total_node(client, eid)
        assert node["cache_status"] == "hit", (suffix, node)
        assert node["cache_key"] == ran["cache_key"]
