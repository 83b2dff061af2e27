"""The experiment table over the server (issue 15): ``GET .../workflows/{name}/runs`` lists a
project's runs of a workflow with their inputs, sorted as asked; another project with the
same workflow sees only its own; bad columns are a typed 4xx naming the choices."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from airfoil.client import Client
from airfoil.core.errors import AirfoilError

pytestmark = pytest.mark.integration


def test_runs_of_a_workflow_per_project(client: Any, flow: Any, server: Any) -> None:
    client.register([flow.wf])
    mine = []
    for x in (5, 1, 3):
        ex = client.launch("flow.wf", {"x": x})
        assert client.wait(ex.id, timeout=60).phase == "succeeded"
        mine.append(ex.id)
    with Client(server.url, project=f"p{uuid.uuid4().hex[:6]}") as other:
        other.register([flow.wf])
        theirs = other.launch("flow.wf", {"x": 100})
        assert other.wait(theirs.id, timeout=60).phase == "succeeded"
        t = other.runs("flow.wf")
        assert [r.id for r in t.rows] == [theirs.id]

    t = client.runs("flow.wf")
    assert [r.id for r in t.rows] == mine[::-1]  # newest first
    assert t.inputs == ["x"] and t.available_metrics == [] and t.metrics == []
    assert [r.input_values["x"] for r in t.rows] == [3, 1, 5]
    assert [r.inputs["x"] for r in client.runs("flow.wf", sort="x").rows] == ["1", "3", "5"]
    # the newest two (x=3, x=1), then sorted
    assert [r.id for r in client.runs("flow.wf", sort="-x", last=2).rows] == [mine[2], mine[1]]
    assert all(r.duration is not None and r.phase == "succeeded" for r in t.rows)
    assert client.runs("flow.nothing").rows == []
    # pages (offset / next_offset) and filters by value, over HTTP
    page = client.runs("flow.wf", last=2)
    assert (page.total, page.next_offset) == (3, 2)
    older = client.runs("flow.wf", last=2, offset=page.next_offset or 0)
    assert [r.id for r in older.rows] == [mine[0]] and older.next_offset is None
    big = client.runs("flow.wf", where=["x>=3"], sort="x")
    assert [r.input_values["x"] for r in big.rows] == [3, 5] and big.where == ["x>=3"]
    with pytest.raises(AirfoilError, match="KEY OP VALUE"):
        client.runs("flow.wf", where=["x"])

    with pytest.raises(AirfoilError, match="cannot sort by 'y'"):
        client.runs("flow.wf", sort="y")
    with pytest.raises(AirfoilError, match=r"no run of these 3 of flow\.wf logged 'loss'"):
        client.runs("flow.wf", metrics=["loss"])
    with pytest.raises(AirfoilError, match="unknown phase"):
        client.runs("flow.wf", phase="done")
    r = httpx.get(
        f"{server.url}/api/v1/projects/{client.project}/workflows/flow.wf/runs",
        params={"last": 0},
        timeout=30,
    )
    assert r.status_code == 422
