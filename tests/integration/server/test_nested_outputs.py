"""Outputs that hold offloaded values inside them -- a list of frames, a dict of arrays, a
list the workflow assembles from several tasks' frames -- come back whole through
``Client.outputs``: each inner value is downloaded from the execution it belongs to (and
from no other project's)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd

    import airfoil as af


    @af.task
    def frames(n: int) -> list[pd.DataFrame]:
        return [pd.DataFrame({"x": np.arange(n) + i}) for i in range(2)]


    @af.workflow
    def listed(n: int = 20_000) -> list[pd.DataFrame]:
        return frames(n=n)


    @af.task
    def arrays(n: int) -> dict[str, np.ndarray]:
        return {"a": np.arange(n), "b": np.arange(n) * 2}


    @af.workflow
    def keyed(n: int = 20_000) -> dict[str, np.ndarray]:
        return arrays(n=n)


    @af.task
    def one(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": np.arange(n)})


    @af.workflow
    def assembled(n: int = 20_000) -> list[pd.DataFrame]:
        return [one(n=n), one(n=7)]
    """
)


@pytest.fixture(scope="module")
def nested_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("nestedoutputsproj")
    (root / "nested_outputs_flow.py").write_text(FLOW)
    load_entity(str(root / "nested_outputs_flow.py"), "listed")
    return sys.modules["nested_outputs_flow"]


def test_values_inside_an_output_are_downloaded_with_it(
    client: Any, nested_flow: Any, tmp_path: Path
) -> None:
    # Before: "NotFoundError: blob mem://values/53/5330... was not downloaded" (the frames of
    # a list, the arrays of a dict), and for a list the workflow assembled "blob
    # file:///<the server's blob folder>/values/... was not downloaded" (a server path).
    flows = [nested_flow.listed, nested_flow.keyed, nested_flow.assembled]
    client.register(flows)
    n = 20_000
    got = {}
    for wf in flows:
        ex = client.launch(wf, {})
        assert client.wait(ex.id, timeout=120).phase == "succeeded"
        got[wf.name] = (ex.id, client.outputs(ex.id, wf))
    listed = got[nested_flow.listed.name][1]
    for i, df in enumerate(listed):
        pd.testing.assert_frame_equal(df, pd.DataFrame({"x": np.arange(n) + i}))
    keyed = got[nested_flow.keyed.name][1]
    assert sorted(keyed) == ["a", "b"] and np.array_equal(keyed["b"], np.arange(n) * 2)
    assembled = got[nested_flow.assembled.name][1]
    assert [len(df) for df in assembled] == [n, 7]
    # An inner value is found only under its own execution, in its own project.
    ex_id = got[nested_flow.listed.name][0]
    inner = pd.DataFrame({"x": np.arange(n) + 1})
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext, default_type_engine

    ctx = ValueContext(LocalBlobStore(str(tmp_path)), offload_threshold=0)
    digest = default_type_engine().to_value(inner, pd.DataFrame, ctx).hash
    base = f"{client.url}/api/v1/projects"
    own = httpx.get(f"{base}/{client.project}/executions/{ex_id}/values/{digest}", timeout=30)
    assert own.status_code == 200 and len(own.content) > 100_000
    other_ex = got[nested_flow.keyed.name][0]
    elsewhere = httpx.get(
        f"{base}/{client.project}/executions/{other_ex}/values/{digest}", timeout=30
    )
    assert elsewhere.status_code == 404
    other_project = httpx.get(f"{base}/someoneelse/executions/{ex_id}/values/{digest}", timeout=30)
    assert other_project.status_code == 404
