"""Two projects on one server (SQLite and PostgreSQL) run the same cached code with the same
inputs: every way a cached task runs (a workflow's node, a task a task calls, a ``@dynamic``
child, a map's items) keeps each project's entries its own; and an entry whose blob was
deleted or overwritten is a miss that runs the task again, giving the right value, never a
failure or the damaged bytes."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import Running, server_on, user_module

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import airfoil as af
    import pandas as pd

    TAG = "{tag}"

    @af.task(cache=True)
    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({{"x": list(range(n))}})

    @af.task
    def total(df: pd.DataFrame) -> int:
        return int(df["x"].sum())

    @af.task(cache=True)
    def cube(x: int) -> int:
        return x * x * x

    @af.task
    def outer(x: int) -> int:
        return cube(x=x + 100) + 1  # a task calling a task: a child call

    @af.dynamic
    def dyn(x: int) -> int:
        return cube(x=x + 200)

    @af.task
    def add(a: int, b: int, c: int, m: list[int]) -> int:
        return a + b + c + sum(m)

    @af.workflow
    def iso(n: int = 20000, x: int = 2, xs: list[int] = [2, 3]) -> int:
        m = af.map_task(cube)(x=xs)
        return add(a=total(df=frame(n=n)), b=outer(x=x), c=dyn(x=x), m=m)
    """
)


def _expected(n: int = 20000, x: int = 2) -> int:
    return sum(range(n)) + (x + 100) ** 3 + 1 + (x + 200) ** 3 + x**3 + (x + 1) ** 3


class Two:
    def __init__(self, running: Running, flow: Any) -> None:
        self.running = running
        self.flow = flow
        reg = running.deps.registry
        self.keys = {p: reg.create_key(p, "runner")[1] for p in ("alpha", "beta")}

    def run(self, project: str) -> tuple[str, int, list[tuple[str, str, str]]]:
        """Run ``iso`` in ``project``: its id, output, and every cached node's and map
        item's (name, cache status, reason)."""
        from airfoil.client import Client

        with Client(self.running.url, self.keys[project], project=project) as c:
            c.register([self.flow.iso])
            ex = c.launch(self.flow.iso, {})
            detail = c.wait(ex.id, timeout=180)
            assert detail.phase == "succeeded", detail
            statuses = []
            base = f"{self.running.url}/api/v1/projects/{project}/executions/{ex.id}/nodes"
            auth = {"Authorization": f"Bearer {self.keys[project]}"}
            for node in detail.nodes:
                if node.kind == "map":
                    r = httpx.get(f"{base}/{node.id}/items", headers=auth, timeout=60)
                    assert r.status_code == 200, r.text
                    for item in r.json()["items"]:
                        statuses.append((f"{node.task}[{item['index']}]", item["cache"], ""))
                elif node.cache_status != "disabled":
                    statuses.append((node.task, node.cache_status, node.cache_reason))
            return ex.id, c.outputs(ex.id, self.flow.iso), statuses


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Two]:
    home = tmp_path_factory.mktemp(f"isolation-{request.param}")
    pg = request.getfixturevalue("pg_schema_factory") if request.param == "postgres" else None
    root = tmp_path_factory.mktemp("isoproj")
    flow = user_module(root, "iso_flow", FLOW.format(tag=uuid.uuid4().hex), "iso")
    with server_on(request.param, home, pg) as running:
        yield Two(running, flow)


def test_a_project_never_hits_another_projects_entries(two: Two) -> None:
    _, out, first = two.run("beta")
    assert out == _expected()
    names = {name for name, _, _ in first}
    # every cached way of running: a node, a child call, a dynamic child, map items
    assert {"iso_flow.frame", "iso_flow.cube[0]", "iso_flow.cube[1]"} <= names, first
    assert sum(name == "iso_flow.cube" for name, _, _ in first) >= 2, first  # child + dynamic
    assert all(status in ("put", "miss") for _, status, _ in first), first
    _, out, alpha = two.run("alpha")
    assert out == _expected()
    assert len(alpha) == len(first), (alpha, first)
    assert not [s for s in alpha if s[1] == "hit"], alpha  # beta's entries are not alpha's
    _, out, again = two.run("alpha")
    assert out == _expected()
    assert all(status == "hit" for _, status, _ in again), again  # alpha's own: hits


def _frame_blob(two: Two, project: str) -> str:
    meta = two.running.deps.meta
    entries = [
        e
        for e in meta.list_cache(task="iso_flow.frame")
        if e.parts.scope == f"project:{project}/development"
    ]
    (entry,) = entries
    (value,) = entry.outputs.values()
    assert value.uri, "a 20,000-row frame is offloaded"
    path = two.running.deps.blobs.local_path(value.uri)
    assert path is not None and os.path.exists(path)
    return path


@pytest.mark.parametrize("damage", ["delete", "overwrite", "truncate"])
def test_a_damaged_cached_blob_is_a_miss_that_runs_again(two: Two, damage: str) -> None:
    two.run("alpha")  # an entry of alpha's (a hit or a put)
    path = Path(_frame_blob(two, "alpha"))
    if damage == "delete":
        path.unlink()
    elif damage == "overwrite":
        path.write_bytes(b"not the frame")
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _, out, statuses = two.run("alpha")
    assert out == _expected()  # the right value, not a failure
    (frame,) = [s for s in statuses if s[0] == "iso_flow.frame"]
    assert frame[1] == "put" and "blob store" in frame[2], frame
    _, out, statuses = two.run("alpha")  # repaired: a hit again
    assert out == _expected()
    assert [s[1] for s in statuses if s[0] == "iso_flow.frame"] == ["hit"]
