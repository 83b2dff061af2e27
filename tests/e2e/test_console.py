"""The web console in real headless Chromium (Playwright), against a real ``airfoil server
start``: launch a workflow from its generated form, watch its graph turn green, read a node's
logs and outputs, answer an approval gate, and give an API key when the server asks for one.

Screenshots are saved under ``test-output/console/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import contextlib
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serve import STATIC, Server, served  # noqa: F401 (STATIC, Server: for the others)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "console"
GREEN = (34, 160, 90)  # the succeeded colour of the graph (ui/src/util.ts)

FLOW = textwrap.dedent(
    """
    import dataclasses
    import enum

    import pandas as pd

    import airfoil as af


    class Mode(enum.Enum):
        FAST = "fast"
        CAREFUL = "careful"


    @dataclasses.dataclass
    class Settings:
        rate: float
        mode: Mode


    @af.task
    def configure(settings: Settings, tags: list[str], note: str | None = None) -> str:
        return f"{settings.mode.name} {settings.rate} {'+'.join(tags)} {note}"


    @af.task
    def make_table(n: int, scale: float) -> pd.DataFrame:
        print(f"making a table of {n} rows")
        items = [f"row{i}" for i in range(n)]
        return pd.DataFrame({"item": items, "value": [i * scale for i in range(n)]})


    @af.task
    def summarise(df: pd.DataFrame) -> float:
        print("summing", len(df), "rows")
        return float(df["value"].sum())


    @af.workflow
    def pipeline(n: int = 3, scale: float = 1.5) -> float:
        return summarise(df=make_table(n=n, scale=scale))


    @af.task
    def double(x: int) -> int:
        return 2 * x


    @af.task
    def verdict(x: int, threshold: float) -> str:
        return f"{x} over {threshold}" if x > threshold else f"{x} under {threshold}"


    @af.workflow
    def reviewed(x: int = 4) -> str:
        threshold = af.wait_for_input("threshold", timeout=120.0, expected_type=float)
        approved = af.approve(double(x=x), "ship", timeout=120.0)
        return verdict(x=approved, threshold=threshold)


    @af.task
    def check(x: int) -> int:
        if x % 4 == 3:
            raise ValueError(f"item {x} is odd in a bad way")
        return x


    @af.task
    def count(xs: list[int | None]) -> int:
        return len([x for x in xs if x is not None])


    @af.task
    def waits(release: str) -> str:
        import os
        import time

        print("started, waiting for the release", flush=True)
        deadline = time.monotonic() + 120
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.05)
        print("released")
        return "done"


    @af.task
    def numbers(n: int) -> list[int]:
        return list(range(n))


    @af.dynamic
    def fan(n: int) -> list[int]:
        return [double(x=i) for i in range(n)]


    @af.workflow
    def shapes(n: int = 8) -> int:
        checked = af.map_task(check, min_success_ratio=0.5)(x=numbers(n=n))
        fan(n=3)
        return count(xs=checked)


    @af.workflow
    def big(n: int = 500) -> int:
        return count(xs=af.map_task(check, min_success_ratio=0.5)(x=numbers(n=n)))


    @af.task
    def words(f: af.File) -> int:
        with open(f.path) as fh:
            return len(fh.read().split())


    @af.task
    def rows(df: pd.DataFrame) -> float:
        return float(df["value"].sum())


    @af.task
    def both(n_words: int, total: float) -> str:
        return f"{n_words} words, total {total}"


    @af.workflow
    def uploads(notes: af.File, table: pd.DataFrame) -> str:
        return both(n_words=words(f=notes), total=rows(df=table))


    @af.task
    def fit(model: str, c: float = 1.0) -> float:
        return c


    @af.workflow
    def prepare(n: int) -> int:
        return double(x=double(x=n))


    @af.task
    def calls_prepare(n: int) -> int:
        return prepare(n=n) + 1  # a workflow called by a running task: a child node


    @af.workflow
    def nested(n: int = 3) -> float:
        prepare(n=n)
        lr = fit.with_name("logistic")(model="lr", c=0.5)
        fit(model="svm").with_overrides(name="support vectors")
        fit(model="tree", c=2.0)
        fan(n=2)
        return (
            af.conditional("pick")
            .if_(lr > 1.0)
            .then(fit.with_name("refit")(model="lr", c=3.0))
            .else_()
            .then(fit(model="svm", c=4.0))
        )
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console", FLOW, register=True) as srv:
        yield srv


@contextlib.contextmanager
def chromium(*more: str) -> Iterator[Any]:
    """Headless Chromium, with the command-line switches ``more`` besides the usual ones."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium is not installed: `make install` installs Debian's chromium")
    usual = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=[*usual, *more])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    watch_network(pg)
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, f"the page raised: {errors}"


class _Network:
    """What a page asked its server and how it went, for a failed test's report (a wait for
    an element that never came says nothing of why): the answers that were errors, the
    requests that failed, and those still waiting for an answer."""

    def __init__(self) -> None:
        self.waiting: dict[int, str] = {}
        self.problems: list[str] = []

    def sent(self, request: Any) -> None:
        self.waiting[id(request)] = f"{time.strftime('%H:%M:%S')} {request.method} {request.url}"

    def answered(self, response: Any) -> None:
        if response.status >= 400:
            sent = self.waiting.get(id(response.request), response.url)
            self.problems.append(f"{sent} -> {response.status}")

    def finished(self, request: Any) -> None:
        self.waiting.pop(id(request), None)

    def failed(self, request: Any) -> None:
        sent = self.waiting.pop(id(request), request.url)
        self.problems.append(f"{sent} failed: {request.failure}")

    def report(self) -> str:
        waiting = [f"{sent} (no answer yet)" for sent in self.waiting.values()]
        return "\n".join(self.problems + waiting) or "every request was answered, none an error"


def watch_network(page: Any) -> None:
    """Record ``page``'s requests (:class:`_Network`, read back by :func:`page_said`)."""
    net = _Network()
    page.on("request", net.sent)
    page.on("response", net.answered)
    page.on("requestfinished", net.finished)
    page.on("requestfailed", net.failed)
    page.airfoil_network = net


def page_said(page: Any) -> str:
    """A page's address, its requests' troubles and the start of its text, for a report."""
    net = getattr(page, "airfoil_network", None)
    try:
        text = page.inner_text("body", timeout=2_000)[:2_000]
    except Exception as exc:  # a crashed or closed page: say so
        text = f"(its text could not be read: {exc})"
    network = net.report() if net is not None else "(not watched)"
    return f"url: {page.url}\nrequests:\n{network}\ntext:\n{text}"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def node_pixel(page: Any, node_id: str) -> tuple[int, int, int] | None:
    """The colour the graph paints a node with (sampled left of its text)."""
    rgba = page.evaluate(
        """(id) => {
            const g = window.__airfoilGraph; const c = document.querySelector('canvas.graph');
            if (!g || !c) return null;
            const b = g.boxOf(id); if (!b) return null;
            const r = c.getBoundingClientRect(); const dpr = window.devicePixelRatio || 1;
            const x = Math.round((b.x - r.left + 3) * dpr);
            const y = Math.round((b.y - r.top + b.h / 2) * dpr);
            const px = c.getContext('2d').getImageData(x, y, 1, 1).data;
            return [px[0], px[1], px[2]];
        }""",
        node_id,
    )
    return None if rgba is None else (rgba[0], rgba[1], rgba[2])


def close_to(a: tuple[int, int, int] | None, b: tuple[int, int, int]) -> bool:
    return a is not None and all(abs(x - y) <= 8 for x, y in zip(a, b, strict=True))


def wait_until(cond: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def click_node(page: Any, node_id: str) -> None:
    page.evaluate("(id) => window.__airfoilGraph.focus(id)", node_id)
    time.sleep(0.2)
    box = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", node_id)
    assert box is not None, f"node {node_id} is not on the graph"
    page.mouse.click(box["x"] + box["w"] / 3, box["y"] + box["h"] / 2)


def click_toggle(page: Any, node_id: str) -> None:
    """Click a container's +/- (on a node, or on the header of an open box), once the
    layout that stays is drawn (not the interim one shown while ELK works)."""
    page.wait_for_selector("canvas.graph[data-layout]:not([data-layout=interim])")
    at = page.evaluate("(id) => window.__airfoilGraph.toggleOf(id)", node_id)
    assert at is not None, f"node {node_id} is not on the graph"
    page.mouse.click(at["x"], at["y"])


def click_header(page: Any, node_id: str) -> None:
    """Click the top band of a node (the header of an open box or item grid)."""
    page.evaluate("(id) => window.__airfoilGraph.focus(id)", node_id)
    time.sleep(0.2)
    box = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", node_id)
    assert box is not None, f"node {node_id} is not on the graph"
    page.mouse.click(box["x"] + 30, box["y"] + 12)


def outline(page: Any) -> dict[str, str]:
    """The graph's text equivalent: node id -> the text a screen reader reads for it."""
    nav = page.get_by_role("navigation", name="Graph nodes")
    nav.wait_for(state="attached")
    return dict(
        page.eval_on_selector_all(
            "nav[aria-label='Graph nodes'] li[data-node] > button.outline-node",
            "els => els.map(e => [e.parentElement.dataset.node, e.textContent])",
        )
    )


def test_launch_from_form_watch_graph_logs_and_outputs(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/projects/default/entities")
    page.get_by_role("link", name="flow.pipeline").click()
    page.wait_for_selector("form.launch")
    shot(page, "01-launch-form")

    # invalid inputs are refused before anything is sent
    page.fill("#in-n", "three")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=n] .field-error")
    assert "whole number" in page.inner_text("[data-input=n] .field-error")
    assert "/entities/" in page.url
    shot(page, "02-launch-form-invalid")

    page.fill("#in-n", "5")
    page.fill("#in-scale", "2")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/executions/*")
    execution = page.url.rsplit("/", 1)[1].split("?")[0]
    page.wait_for_selector("canvas.graph[data-painted]")
    ids = page.evaluate("() => window.__airfoilGraph.visible()")
    assert len(ids) == 2

    # the graph turns green, node by node, without reloading the page
    wait_until(
        lambda: all(close_to(node_pixel(page, i), GREEN) for i in ids),
        what="every node painted green",
    )
    page.wait_for_selector("h1 .phase[data-phase=succeeded]")
    shot(page, "03-graph-green")
    detail = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    assert detail["phase"] == "succeeded"
    assert detail["inputs"][0]["preview"] == 5

    maker = next(n["id"] for n in detail["nodes"] if n["task"] == "flow.make_table")
    click_node(page, maker)
    page.wait_for_selector(f"aside.panel[data-node='{maker}']")
    page.locator("aside.panel").get_by_role("tab", name="Logs").click()
    page.wait_for_function(
        "() => (document.querySelector('pre.log')?.textContent || '').includes('making a table')"
    )
    assert "making a table of 5 rows" in page.inner_text("pre.log")
    shot(page, "04-node-logs")

    page.locator("aside.panel").get_by_role("tab", name="Outputs").click()
    page.wait_for_selector("aside.panel table.data")
    table = page.inner_text("aside.panel table.data")
    assert "row4\t8" in table and "value (float64)" in table
    assert "5 rows \u00d7 2 columns" in page.inner_text("aside.panel")
    shot(page, "05-node-outputs-table")

    page.get_by_role("tab", name="Timeline").click()
    page.wait_for_selector(".tl-row")
    assert page.locator(".tl-row").count() == 2
    shot(page, "06-timeline")

    page.goto(f"{server.url}/projects/default/executions")
    row = page.locator(f"tr[data-execution='{execution}']")
    row.wait_for()
    assert row.get_attribute("data-phase") == "succeeded"
    shot(page, "07-executions-list")


def test_answer_gates_from_the_page(server: Server, page: Any) -> None:
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.reviewed", "inputs": {"x": 21}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    detail_url = f"{server.url}/api/v1/projects/default/executions/{execution}"
    polls: list[tuple[str | None, int]] = []
    page.on(
        "response",
        lambda r: (
            polls.append((r.request.all_headers().get("if-none-match"), r.status))
            if r.url == detail_url
            else None
        ),
    )
    page.goto(f"{server.url}/projects/default/executions/{execution}")
    value = page.locator(".waiting [data-gate=threshold]")
    value.wait_for(timeout=60_000)
    approval = page.locator(".waiting [data-gate=ship]")
    approval.wait_for(timeout=60_000)
    assert "Approval" in approval.inner_text()
    # while it waits, the page polls the detail with the tag of its last answer (the server
    # answers 304, no body; the browser hands the page its kept copy, shown as a 200)
    deadline = time.monotonic() + 15
    while not any(tag and status == 200 for tag, status in polls):
        assert time.monotonic() < deadline, polls
        page.wait_for_timeout(200)  # (Playwright hands over its events while it waits)
    # the banner shows the value being approved: double(x=21)
    approval.locator(".approve-value").wait_for()
    assert "42" in approval.locator(".approve-value").inner_text()
    shot(page, "08-gates-waiting")

    value.locator("input").fill("lots")  # checked against the gate's type before sending
    value.get_by_role("button", name="Send").click()
    assert "expects a number" in value.locator(".field-error").inner_text()
    value.locator("input").fill("40.5")
    value.get_by_role("button", name="Send").click()
    # sent: the form gives way to "Sent: 40.5", then goes when the gate has its value
    page.wait_for_function("() => !document.querySelector('.waiting [data-gate=threshold] input')")

    approval.get_by_role("button", name="Approve").click()
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    assert not page.locator(".waiting [data-gate]").count()
    shot(page, "09-gates-answered")
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    assert out["outputs"][0]["preview"] == "42 over 40.5"


def test_the_console_asks_for_an_api_key(
    tmp_path: Path, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    srv = Server(tmp_path_factory.mktemp("keyed-home"), tmp_path)
    try:
        made = srv.cli("auth", "create-key", "--project", "default", "--role", "viewer")
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        wait_until(
            lambda: httpx.get(srv.url + "/api/v1/projects/default/executions").status_code == 401,
            timeout=10,
            what="the server to see its key",
        )
        ctx = browser.new_context(viewport={"width": 1200, "height": 700})
        page = ctx.new_page()
        try:
            page.goto(f"{srv.url}/projects/default/executions")
            page.wait_for_selector(".modal")
            assert "API key" in page.inner_text(".modal")
            page.fill("input[name=api-key]", "af_wrong_key")
            page.get_by_role("button", name="Use this key").click()
            page.wait_for_selector(".modal .field-error")
            shot(page, "10-api-key-asked")
            page.fill("input[name=api-key]", key)
            page.get_by_role("button", name="Use this key").click()
            page.wait_for_selector(".modal", state="detached")
            page.wait_for_selector("table.executions")
            page.locator("header .who", has_text="viewer of default").wait_for()
            shot(page, "11-api-key-accepted")
        finally:
            ctx.close()
    finally:
        srv.stop()


def test_map_and_dynamic_nodes_expand(server: Server, page: Any) -> None:
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.shapes", "inputs": {"n": 8}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    page.goto(f"{server.url}/projects/default/executions/{execution}")
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    page.wait_for_selector("canvas.graph[data-painted]")
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}/graph").json()
    mapped = next(n["id"] for n in graph["nodes"] if n["kind"] == "map")
    dynamic = next(n["id"] for n in graph["nodes"] if n["task"] == "flow.fan")
    children = sorted(n["id"] for n in graph["nodes"] if n["parent"] == dynamic)
    assert len(children) == 3

    def visible() -> set[str]:
        return set(page.evaluate("() => window.__airfoilGraph.visible()"))

    wait_until(lambda: set(children) <= visible(), what="the dynamic node's graph")  # small: open
    click_toggle(page, dynamic)
    wait_until(lambda: not set(children) & visible(), what="the dynamic node to collapse")

    click_toggle(page, mapped)
    items = {f"{mapped}[{i}]" for i in range(8)}
    wait_until(lambda: items <= visible(), what="the map's item grid")
    page.get_by_role("button", name="fit", exact=True).click()
    failed = [f"{mapped}[3]", f"{mapped}[7]"]
    red = (229, 72, 77)
    wait_until(lambda: all(close_to(node_pixel(page, i), red) for i in failed), what="red items")
    assert close_to(node_pixel(page, f"{mapped}[0]"), GREEN)
    shot(page, "12-map-expanded")

    click_header(page, mapped)
    panel = page.locator(f"aside.panel[data-node='{mapped}']")
    panel.wait_for()
    assert "succeeded 6" in panel.inner_text() and "failed 2" in panel.inner_text()
    panel.get_by_role("tab", name="Items").click()
    page.locator(".items-grid .item").nth(3).click()
    page.wait_for_selector("aside.panel .error-box")
    assert "item 3 is odd in a bad way" in panel.inner_text()
    # the traceback names the user's file as in their project, not the package cache
    trace = panel.locator("pre.traceback").inner_text()
    assert 'File "flow.py"' in trace and "pkgs" not in trace, trace
    shot(page, "13-map-items")


def test_a_called_workflow_is_a_child_of_its_caller_with_links(server: Server, page: Any) -> None:
    before = httpx.get(f"{server.url}/api/v1/projects/default/executions").json()["total"]
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.calls_prepare", "inputs": {"n": 2}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    base = f"{server.url}/projects/default/executions/{execution}"
    page.goto(base)
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    after = httpx.get(f"{server.url}/api/v1/projects/default/executions").json()["total"]
    assert after == before + 1, "the call made no execution of its own"
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}/graph").json()
    called = next(n for n in graph["nodes"] if n["kind"] == "child")
    cid = called["id"]
    assert called["parent"] == "n0" and called["task"] == "flow.prepare"
    inner = {n["id"]: n for n in graph["nodes"] if n["parent"] == cid}
    assert sorted(inner) == [f"{cid}.n0", f"{cid}.n1"]
    assert inner[f"{cid}.n1"]["upstream"] == [f"{cid}.n0"], "the called workflow's edges"
    page.wait_for_selector("canvas.graph[data-painted]")

    def visible() -> set[str]:
        return set(page.evaluate("() => window.__airfoilGraph.visible()"))

    wait_until(lambda: {cid, *inner} <= visible(), what="the called workflow under its caller")
    page.goto(f"{base}?node={cid}")
    panel = page.locator(f"aside.panel[data-node='{cid}']")
    panel.wait_for()
    assert "child" in panel.locator(".panel-meta").inner_text()
    panel.locator("[data-called-by='n0'] a").click()  # to the caller ...
    caller = page.locator("aside.panel[data-node='n0']")
    caller.wait_for()
    caller.locator(f"[data-calls='1'] a[data-goto='{cid}']").click()  # ... and back
    panel.wait_for()
    shot(page, "40-called-workflow")


def test_launch_form_of_typed_inputs(server: Server, page: Any) -> None:
    page.goto(f"{server.url}/projects/default/entities/flow.configure")
    page.wait_for_selector("form.launch")
    page.fill("#in-settings\\.rate", "0.25")
    page.fill("#in-tags", "[not json")
    page.get_by_role("button", name="Launch").click()
    errors = page.locator(".field-error")
    errors.first.wait_for()
    text = " ".join(errors.all_inner_texts())
    assert "choose a value" in text  # the enum of the dataclass
    assert "not valid JSON" in text
    shot(page, "14-typed-form-invalid")

    page.select_option("#in-settings\\.mode", "CAREFUL")
    page.fill("#in-tags", '["a", 2]')
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=tags] .field-error")
    assert "expects text at [1]" in page.inner_text("[data-input=tags] .field-error")

    page.fill("#in-tags", '["a", "b"]')
    page.locator("[data-input=note] input[type=checkbox]").uncheck()
    page.fill("#in-note", "hi")
    shot(page, "15-typed-form-valid")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/executions/*")
    execution = page.url.rsplit("/", 1)[1].split("?")[0]
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    assert out["outputs"][0]["preview"] == "CAREFUL 0.25 a+b hi"


def test_executions_list_filters_and_search(server: Server, page: Any) -> None:
    api = f"{server.url}/api/v1/projects/default"
    made = []
    for entity, inputs in [("flow.pipeline", {"n": 2}), ("flow.shapes", {"n": 4})]:
        r = httpx.post(
            f"{api}/domains/staging/executions",
            json={"entity": entity, "inputs": inputs, "labels": {"owner": "filter-test"}},
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    wait_until(
        lambda: all(
            httpx.get(f"{api}/executions/{e}").json()["phase"] == "succeeded" for e in made
        ),
        what="both executions to succeed",
    )

    def rows() -> list[str]:
        page.wait_for_selector("table.executions")
        page.wait_for_load_state("networkidle")
        return page.eval_on_selector_all(
            "tr[data-execution]", "els => els.map(e => e.dataset.execution)"
        )

    page.goto(f"{server.url}/projects/default/executions")
    page.fill("input[name=q]", "filter-test")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=filter-test*")
    wait_until(lambda: sorted(rows()) == sorted(made), what="the search's rows")

    page.select_option("select[name=domain]", "staging")
    page.fill("input[name=workflow]", "flow.shapes")
    page.press("input[name=workflow]", "Enter")
    page.wait_for_url("**workflow=flow.shapes*")
    wait_until(lambda: rows() == [made[1]], what="one workflow's rows")
    shot(page, "16-executions-filtered")

    page.select_option("select[name=phase]", "failed")
    wait_until(lambda: rows() == [], what="no failed rows")
    page.select_option("select[name=phase]", "")
    page.fill("input[name=to]", "2000-01-01")
    page.dispatch_event("input[name=to]", "change")
    # the empty table first, then (when the page has its answer) the text saying why
    wait_until(lambda: "no executions match" in page.inner_text("main"), what="no rows before 2000")
    assert rows() == []


def test_running_node_is_blue_and_its_log_is_tailed(
    server: Server, page: Any, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.waits", "inputs": {"release": str(release)}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    page.goto(f"{server.url}/projects/default/executions/{execution}")
    page.wait_for_selector("canvas.graph[data-painted]")
    blue = (59, 130, 246)  # running
    wait_until(lambda: close_to(node_pixel(page, "n0"), blue), what="the running node in blue")
    click_node(page, "n0")
    panel = page.locator("aside.panel[data-node='n0']")
    panel.get_by_role("tab", name="Logs").click()
    panel.locator(".live").wait_for()
    page.wait_for_function(
        "() => (document.querySelector('pre.log')?.textContent || '').includes('waiting for')"
    )
    assert "released" not in page.inner_text("pre.log")
    shot(page, "17-log-tailed-while-running")
    release.write_text("go")
    page.wait_for_function(
        "() => (document.querySelector('pre.log')?.textContent || '').includes('released')"
    )
    wait_until(lambda: close_to(node_pixel(page, "n0"), GREEN), what="the node in green")
    assert not panel.locator(".live").count()


def test_launch_with_file_and_dataframe_uploaded_from_the_page(
    server: Server, page: Any, tmp_path: Path
) -> None:
    import pandas as pd

    notes = tmp_path / "notes.txt"
    notes.write_text("four words in here")
    table = tmp_path / "table.parquet"
    pd.DataFrame({"item": ["a", "b", "c"], "value": [1.5, 2.5, 3.0]}).to_parquet(table)
    page.goto(f"{server.url}/projects/default/entities/flow.uploads")
    page.wait_for_selector("form.launch")
    assert page.locator("#in-notes[type=file]").count() == 1
    assert page.locator("#in-table[type=file]").count() == 1

    # nothing chosen, then a file that is not Parquet for the DataFrame: refused on the page
    page.get_by_role("button", name="Launch").click()
    assert "choose a file" in page.inner_text("[data-input=notes] .field-error")
    assert "choose a Parquet or CSV file" in page.inner_text("[data-input=table] .field-error")
    page.set_input_files("#in-notes", str(notes))
    page.set_input_files("#in-table", str(notes))
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=table] .field-error")
    assert "neither a Parquet file nor a .csv file" in page.inner_text(
        "[data-input=table] .field-error"
    )
    assert "/entities/" in page.url
    shot(page, "18-upload-form-invalid")

    page.set_input_files("#in-table", str(table))
    shot(page, "19-upload-form-chosen")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/executions/*")
    execution = page.url.rsplit("/", 1)[1].split("?")[0]
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    assert out["outputs"][0]["preview"] == "4 words, total 7.0"
    # the server stored the values a local run would have (same hashes, so same cache keys)

    data = notes.read_bytes()
    by_name = {v["name"]: v for v in out["inputs"]}
    assert by_name["notes"]["format"] == "file" and by_name["table"]["format"] == "arrow"
    # the table as `airfoil run --table table.parquet` stores it (Arrow IPC, its hash)
    from airfoil.core.records import TypeSpec
    from airfoil.store.blob import LocalBlobStore
    from airfoil.types import ValueContext
    from airfoil.types._dataframes import frame_value_from_file

    cli_value = frame_value_from_file(
        str(table),
        TypeSpec(kind="dataframe", name="pandas"),
        ValueContext(blobs=LocalBlobStore(str(tmp_path / "cli-blobs"))),
    )
    assert by_name["table"]["hash"] == cli_value.hash
    assert by_name["notes"]["size"] == len(data)
    # the uploaded table, read by the task, shown in its node's panel
    reader = next(n["id"] for n in out["nodes"] if n["task"] == "flow.rows")
    page.wait_for_selector("canvas.graph[data-painted]")
    click_node(page, reader)
    panel = page.locator(f"aside.panel[data-node='{reader}']")
    panel.get_by_role("tab", name="Inputs").click()
    panel.locator("table.data").wait_for()
    assert "3 rows" in panel.inner_text() and "c\t3" in panel.locator("table.data").inner_text()
    shot(page, "20-uploaded-inputs")


def test_compound_graph_named_nodes_and_text_equivalent(server: Server, page: Any) -> None:
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.nested", "inputs": {"n": 3}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    page.goto(f"{server.url}/projects/default/executions/{execution}")
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    page.wait_for_selector("canvas.graph[data-layout=compound][data-painted]")
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}/graph").json()
    by_id = {n["id"]: n for n in graph["nodes"]}
    sub = next(n["id"] for n in graph["nodes"] if n["kind"] == "workflow")
    branch = next(n["id"] for n in graph["nodes"] if n["kind"] == "branch")
    dynamic = next(n["id"] for n in graph["nodes"] if n["task"] == "flow.fan")

    def inside(child: str, parent: str) -> bool:
        c = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", child)
        p = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", parent)
        return bool(
            c
            and p
            and c["x"] > p["x"]
            and c["y"] > p["y"]
            and c["x"] + c["w"] < p["x"] + p["w"]
            and c["y"] + c["h"] < p["y"] + p["h"]
        )

    def kids(parent: str) -> list[str]:
        return [n["id"] for n in graph["nodes"] if n["parent"] == parent]

    # open containers enclose their children (and hold no edges to them)
    wait_until(
        lambda: bool(kids(dynamic)) and all(inside(c, dynamic) for c in kids(dynamic)),
        what="dynamic box",
    )
    assert kids(sub) and all(inside(c, sub) for c in kids(sub))
    assert kids(branch) and all(inside(c, branch) for c in kids(branch))
    page.get_by_role("button", name="fit", exact=True).click()
    shot(page, "21-compound-graph")

    # named calls and their input summaries, in the text equivalent a screen reader reads
    text = outline(page)
    named = {by_id[i]["label"]: t for i, t in text.items() if i in by_id}
    assert named["logistic"].startswith("logistic (model=lr, c=0.5): succeeded")
    assert named["support vectors"].startswith("support vectors (model=svm, c=1.0): succeeded")
    assert any(t.startswith("fit (model=tree, c=2.0): succeeded") for t in text.values())
    assert set(text) >= set(by_id)  # every node of the (open) graph is listed
    assert page.locator("canvas.graph").get_attribute("role") == "img"

    # the list's buttons work from the keyboard as the canvas does with a mouse
    page.get_by_role("button", name="collapse prepare").press("Enter")
    wait_until(
        lambda: not set(kids(sub)) & set(page.evaluate("() => window.__airfoilGraph.visible()")),
        what="the subworkflow to collapse",
    )
    assert (
        page.get_by_role("button", name="expand prepare").get_attribute("aria-expanded") == "false"
    )
    page.locator(
        f"nav[aria-label='Graph nodes'] li[data-node='{sub}'] > button.outline-node"
    ).press("Enter")
    page.wait_for_selector(f"aside.panel[data-node='{sub}']")
    shot(page, "22-compound-collapsed-panel")

    # the timeline names rows as the graph does
    page.get_by_role("tab", name="Timeline").click()
    page.wait_for_selector(".tl-row")
    rows = " ".join(page.locator(".tl-label").all_inner_texts())
    assert "logistic" in rows and "support vectors" in rows


def test_big_map_is_an_item_grid_and_the_panel_keeps_the_view(server: Server, page: Any) -> None:
    launched = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/development/executions",
        json={"entity": "flow.big", "inputs": {"n": 500}},
    )
    assert launched.status_code == 201, launched.text
    execution = launched.json()["id"]
    page.goto(f"{server.url}/projects/default/executions/{execution}")
    page.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=180_000)
    page.wait_for_selector("canvas.graph[data-painted]")
    graph = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}/graph").json()
    mapped = next(n["id"] for n in graph["nodes"] if n["kind"] == "map")
    click_toggle(page, mapped)
    items = [f"{mapped}[{i}]" for i in range(500)]
    wait_until(
        lambda: set(items) <= set(page.evaluate("() => window.__airfoilGraph.visible()")),
        what="the map's 500 items",
    )
    # the items are cells of one grid, not graph nodes
    assert page.locator("canvas.graph").get_attribute("data-nodes") == str(len(graph["nodes"]))
    page.get_by_role("button", name="fit", exact=True).click()
    red = (229, 72, 77)
    wait_until(lambda: close_to(node_pixel(page, f"{mapped}[3]"), red), what="a red item cell")
    assert close_to(node_pixel(page, f"{mapped}[4]"), GREEN)
    cells = [page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", i) for i in items[:30]]
    assert all(c["w"] < 20 for c in cells)  # small cells, in rows
    assert len({round(c["y"]) for c in cells}) >= 1 and len({round(c["x"]) for c in cells}) > 10
    shot(page, "23-big-map-grid")

    # opening the node panel keeps the graph where it was (no refit)
    before = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", mapped)
    box = before
    page.mouse.click(box["x"] + 30, box["y"] + 12)
    page.wait_for_selector(f"aside.panel[data-node='{mapped}']")
    time.sleep(0.5)
    after = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", mapped)
    assert abs(after["x"] - before["x"]) < 1 and abs(after["y"] - before["y"]) < 1
    assert abs(after["w"] - before["w"]) < 1

    # a cell opens the Items tab at that item; the tab is not clipped
    cell = page.evaluate("(id) => window.__airfoilGraph.boxOf(id)", f"{mapped}[7]")
    page.mouse.click(cell["x"] + cell["w"] / 2, cell["y"] + cell["h"] / 2)
    panel = page.locator(f"aside.panel[data-node='{mapped}']")
    panel.locator(".error-box").wait_for()
    assert "item 7 is odd in a bad way" in panel.inner_text()
    assert "item=7" in page.url
    tab, whole = panel.get_by_role("tab", name="Items").bounding_box(), panel.bounding_box()
    assert tab and whole and tab["x"] + tab["width"] <= whole["x"] + whole["width"]  # not cut
    grid = panel.locator(".items-grid")
    assert grid.locator("button.item").count() == 500
    last = grid.locator("button.item").nth(499)
    last.scroll_into_view_if_needed()
    assert last.is_visible()
    detail = panel.locator(".attempt")
    detail.scroll_into_view_if_needed()
    vb = detail.bounding_box()
    assert vb is not None and vb["y"] + 10 < 900 and vb["x"] + vb["width"] <= 1400
    shot(page, "24-big-map-items-tab")


def test_the_launch_form_takes_an_infinite_float(server: Server, page: Any) -> None:
    """`inf` in a float field was refused ("expects a number": JSON has no infinity) where
    the CLI and the API take it; the form now sends it as {"$float": "-inf"}, the API's
    form of it, and the run records the very value."""
    page.goto(f"{server.url}/projects/default/entities")
    page.get_by_role("link", name="flow.pipeline").click()
    page.wait_for_selector("form.launch")
    page.fill("#in-scale", "-Infinity")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/executions/*")
    execution = page.url.rsplit("/", 1)[1].split("?")[0]
    detail = httpx.get(f"{server.url}/api/v1/projects/default/executions/{execution}").json()
    scale = next(i for i in detail["inputs"] if i["name"] == "scale")
    assert scale["preview"] == {"$float": "-inf"}, scale  # the type engine's own JSON of -inf
    page.goto(f"{server.url}/projects/default/entities")
    page.get_by_role("link", name="flow.pipeline").click()
    page.fill("#in-scale", "lots")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_selector("[data-input=scale] .field-error")
    assert "inf, -inf, nan" in page.inner_text("[data-input=scale] .field-error")
