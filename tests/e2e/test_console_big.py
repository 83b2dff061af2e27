"""Big graphs in the console stay readable (headless Chromium, a real ``airfoil server
start``): an execution of about 1,000 nodes starts with its containers collapsed, each saying
how much it holds; expanded, a subworkflow is a box around its children and a map an item
grid, drawn at once by the fast nested layout (ELK would take seconds past a few hundred
nodes), and opening or closing the node panel keeps the graph's zoom and pan exactly."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import (  # noqa: E402, F401
    browser,
    click_toggle,
    close_to,
    node_pixel,
    page,
    shot,
    wait_until,
)

WIDE, SUBS, ITEMS = 880, 30, 60

FLOW = textwrap.dedent(
    f"""
    import airfoil as af


    @af.task
    def inc(x: int) -> int:
        return x + 1


    @af.task
    def check(x: int) -> int:
        if x % 10 == 9:
            raise ValueError(f"item {{x}} fails")
        return x


    @af.task
    def numbers(n: int) -> list[int]:
        return list(range(n))


    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)


    @af.task
    def count(xs: list[int | None]) -> int:
        return len([x for x in xs if x is not None])


    @af.workflow
    def three(x: int) -> int:
        return inc(x=inc(x=inc(x=x)))


    @af.workflow
    def huge(n: int = {ITEMS}) -> int:
        wide = [inc(x=i) for i in range({WIDE})]
        subs = [three(x=i) for i in range({SUBS})]
        mapped = count(xs=af.map_task(check, min_success_ratio=0.5)(x=numbers(n=n)))
        return total(xs=[*wide, *subs, mapped])


    @af.workflow
    def small(x: int = 0) -> int:
        return total(xs=[three(x=i) for i in range(12)])
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # run where the server reads it (inline: 1,000 tasks in seconds)
    runs = (
        ("run", "--name", "huge1", "flow.py", "huge"),
        ("run", "--name", "small1", "flow.py", "small"),
    )
    with served(tmp_path_factory, "console-big", FLOW, runs=runs) as srv:
        yield srv


def _box(pg: Any, node_id: str) -> dict[str, float]:
    box = pg.evaluate("(id) => window.__airfoilGraph.boxOf(id)", node_id)
    assert box is not None, f"{node_id} is not on the graph"
    return dict(box)


def _inside(child: dict[str, float], parent: dict[str, float]) -> bool:
    return (
        child["x"] > parent["x"]
        and child["y"] > parent["y"]
        and child["x"] + child["w"] < parent["x"] + parent["w"]
        and child["y"] + child["h"] < parent["y"] + parent["h"]
    )


def _camera(pg: Any) -> dict[str, float]:
    return dict(pg.evaluate("() => window.__airfoilGraph.camera()"))


def test_a_graph_of_1000_nodes_has_boxes_and_item_grids(server: Server, page: Any) -> None:  # noqa: F811
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/huge1/graph").json()
    nodes = graph["nodes"]
    assert len(nodes) >= 1000
    subs = [n["id"] for n in nodes if n["kind"] == "workflow"]
    mapped = next(n["id"] for n in nodes if n["kind"] == "map")
    kids = {s: [n["id"] for n in nodes if n["parent"] == s] for s in subs}
    assert len(subs) == SUBS and all(len(k) == 3 for k in kids.values())

    started = time.monotonic()
    page.goto(f"{server.url}/projects/default/executions/huge1")
    page.wait_for_selector("canvas.graph[data-painted]", timeout=60_000)
    painted = page.evaluate("() => window.__airfoilGraph.firstPaintAt")
    print(f"first paint of {len(nodes)} nodes: {painted:.0f} ms after navigation start")
    assert time.monotonic() - started < 30

    # collapsed at first (a big graph), each container saying how much it holds
    visible = set(page.evaluate("() => window.__airfoilGraph.visible()"))
    assert not any(set(k) & visible for k in kids.values())
    listed = page.locator(f"nav[aria-label='Graph nodes'] li[data-node='{subs[0]}'] > button")
    assert "holds 3 nodes" in listed.first.text_content()

    # every subworkflow opened from the keyboard-reachable list: more than ELK_MAX on screen
    for s in subs:
        page.locator(f"nav[aria-label='Graph nodes'] li[data-node='{s}'] > button").nth(
            1
        ).dispatch_event("click")

    def all_open() -> bool:
        shown = set(page.evaluate("() => window.__airfoilGraph.visible()"))
        return all(set(k) <= shown for k in kids.values())

    wait_until(all_open, what="the subworkflows to open")
    canvas = page.locator("canvas.graph")
    assert int(canvas.get_attribute("data-nodes") or 0) > 600
    assert canvas.get_attribute("data-layout") == "compound"
    assert canvas.get_attribute("data-engine") == "nested"
    for s in subs:
        outer = _box(page, s)
        assert all(_inside(_box(page, c), outer) for c in kids[s]), f"{s} is not a box"

    # the map: an item grid of small cells coloured by phase, not graph nodes
    click_toggle(page, mapped)
    items = [f"{mapped}[{i}]" for i in range(ITEMS)]
    wait_until(
        lambda: set(items) <= set(page.evaluate("() => window.__airfoilGraph.visible()")),
        what="the map's item grid",
    )
    assert int(canvas.get_attribute("data-nodes") or 0) == len(nodes)
    cells = [_box(page, i) for i in items[:20]]
    assert all(c["w"] < 20 for c in cells) and len({round(c["x"]) for c in cells}) > 5
    assert _inside(cells[0], _box(page, mapped))
    page.evaluate("(id) => window.__airfoilGraph.focus(id)", mapped)
    red = (229, 72, 77)
    wait_until(lambda: close_to(node_pixel(page, f"{mapped}[9]"), red), what="a red item cell")
    assert not close_to(node_pixel(page, f"{mapped}[8]"), red)
    shot(page, "30-big-graph-map-grid")
    page.evaluate("(id) => window.__airfoilGraph.focus(id)", subs[0])
    time.sleep(0.3)
    shot(page, "31-big-graph-boxes")


def test_the_node_panel_keeps_zoom_and_pan_exactly(server: Server, page: Any) -> None:  # noqa: F811
    page.goto(f"{server.url}/projects/default/executions/huge1")
    page.wait_for_selector("canvas.graph[data-painted]", timeout=60_000)
    page.evaluate("() => window.__airfoilGraph.focus('n2')")
    page.mouse.move(500, 300)
    page.mouse.wheel(0, -240)  # the user zooms and pans; the camera is theirs from here on
    page.mouse.move(500, 300)
    page.mouse.down()
    page.mouse.move(560, 340, steps=5)
    page.mouse.up()
    time.sleep(0.3)
    before = _camera(page)
    canvas = page.locator("canvas.graph")
    width = canvas.bounding_box()["width"]
    box = _box(page, "n2")
    page.mouse.click(box["x"] + box["w"] / 3, box["y"] + box["h"] / 2)
    page.wait_for_selector("aside.panel[data-node='n2']")
    # the panel takes room from the graph (a resize, then its repaint: a loaded host's
    # browser can take longer than any fixed pause)...
    wait_until(lambda: canvas.bounding_box()["width"] < width, 30, "the graph to narrow")
    time.sleep(0.5)  # past the repaint that follows the resize
    assert _camera(page) == before  # ...and the graph kept its zoom and pan exactly
    assert _box(page, "n2") == box
    page.locator("aside.panel button.close").click()
    page.wait_for_selector("aside.panel", state="detached")
    wait_until(lambda: canvas.bounding_box()["width"] == width, 30, "the graph to widen back")
    time.sleep(0.5)
    assert _camera(page) == before


def test_a_node_opened_before_elk_finishes_stays_where_it_was(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    """A small nested graph is painted at once (the fast layout) and again when ELK's layout
    is ready; a node whose panel is open stays where the user saw it (no refit under them)."""
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/small1/graph").json()
    inner = next(n["id"] for n in graph["nodes"] if n["parent"])
    page.goto(f"{server.url}/projects/default/executions/small1?node={inner}")
    page.wait_for_selector(f"aside.panel[data-node='{inner}']")
    page.wait_for_selector("canvas.graph[data-layout=interim][data-painted]", timeout=60_000)
    before = _box(page, inner)
    page.wait_for_selector("canvas.graph[data-layout=compound]", timeout=60_000)
    time.sleep(0.3)
    after = _box(page, inner)
    assert page.locator("canvas.graph").get_attribute("data-engine") == "elk"
    assert abs(after["x"] - before["x"]) < 0.5 and abs(after["y"] - before["y"]) < 0.5, (
        before,
        after,
    )
