"""A map node's items through the API carry where each ran and its cache status: a map
served from the cache shows its items as hits (issue 17)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from typing import Any

import httpx
import pytest

from airfoil.wire import MapItemsOut

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(cache=True, cache_version="{tag}")
    def cube(x: int) -> int:
        return x * x * x


    @af.task
    def plain(x: int) -> int:
        return x + 1


    @af.workflow
    def cubes(xs: list[int]) -> list[int]:
        af.map_task(plain)(x=xs)
        return af.map_task(cube)(x=xs)
    """
)


@pytest.fixture(scope="module")
def cube_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("mapcacheproj")
    (root / "map_cache_flow.py").write_text(FLOW.format(tag=uuid.uuid4().hex[:8]))
    load_entity(str(root / "map_cache_flow.py"), "cubes")
    return sys.modules["map_cache_flow"]


def _items(client: Any, execution_id: str, node_id: str) -> MapItemsOut:
    url = f"{client.url}/api/v1/projects/{client.project}"
    r = httpx.get(f"{url}/executions/{execution_id}/nodes/{node_id}/items", timeout=30)
    assert r.status_code == 200, r.text
    return MapItemsOut.model_validate(r.json())


def _maps(client: Any, execution_id: str) -> dict[str, str]:
    """Task name -> map node id."""
    return {n.task: n.id for n in client.get(execution_id).nodes if n.kind == "map"}


def test_a_map_served_from_the_cache_lists_its_items_as_hits(client: Any, cube_flow: Any) -> None:
    client.register([cube_flow.cubes])
    first = client.launch(cube_flow.cubes, {"xs": [1, 2, 3, 4]})
    assert client.wait(first.id, timeout=60).phase == "succeeded"
    again = client.launch(cube_flow.cubes, {"xs": [1, 2, 3, 4]})
    assert client.wait(again.id, timeout=60).phase == "succeeded"

    ran = _maps(client, first.id)
    items = _items(client, first.id, ran["map_cache_flow.cube"]).items
    assert [i.cache for i in items] == ["miss"] * 4
    assert all(i.worker and i.worker != "cache" for i in items)
    unc = _items(client, first.id, ran["map_cache_flow.plain"]).items
    assert [i.cache for i in unc] == ["disabled"] * 4

    served = _maps(client, again.id)
    hits = _items(client, again.id, served["map_cache_flow.cube"])
    assert hits.total == 4 and [i.index for i in hits.items] == [0, 1, 2, 3]
    assert [(i.cache, i.worker, i.phase) for i in hits.items] == [("hit", "cache", "succeeded")] * 4
    node = next(n for n in client.get(again.id).nodes if n.id == served["map_cache_flow.cube"])
    assert node.cache_status == "hit"
    # the uncached map ran again
    rerun = _items(client, again.id, served["map_cache_flow.plain"]).items
    assert [i.cache for i in rerun] == ["disabled"] * 4 and all(i.worker for i in rerun)
