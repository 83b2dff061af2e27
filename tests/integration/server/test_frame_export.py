"""Frames stored as Arrow IPC between tasks are exported as Parquet through the API: the
console's download link asks for it, and the raw bytes stay as stored (issue 17)."""

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
