"""Observability end to end (issue 15): metrics logged by real runs -- local and on the
server (``--remote``, the server's process workers) -- read by ``airfoil metrics`` locally
and remotely, and charted by the console in real headless Chromium: a node's chart, and one
metric overlaid across two runs. Screenshots go to test-output/console/, and to docs/img/
(the pictures docs/observability.md shows) when AIRFOIL_UPDATE_DOCS_IMG=1.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = (
    ROOT / "docs" / "img"
    if os.environ.get("AIRFOIL_UPDATE_DOCS_IMG") == "1"
    else ROOT / "test-output" / "console"
)
BLUE, RED = (0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26)  # the first two series colours

FLOW = textwrap.dedent(
    """
    import math

    import airfoil as af


    @af.task(cache=True)
    def train(steps: int, lr: float) -> float:
        ctx = af.current_context()
        loss = 1.0
        for i in range(steps):
            loss = math.exp(-lr * i) + 0.05 * math.sin(i / 5)
            ctx.log_metric("loss", loss)
            ctx.count("batches")
        ctx.log_metric("accuracy", 1.0 - loss, step=steps)
        return loss


    @af.workflow
    def training(steps: int = 300, lr: float = 0.01) -> float:
        return train(steps=steps, lr=lr)


    def parse(row: int) -> int:
        raise ValueError(f"row {row} of /data/part-{row}.csv is malformed")


    @af.task
    def load(row: int) -> int:
        return parse(row)


    @af.workflow
    def ingest(row: int = 1) -> int:
        return load(row=row)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    runs = tuple(
        ("run", "--name", name, "flow.py", "training", "--lr", lr)
        for name, lr in (("run-a", "0.01"), ("run-b", "0.03"))
    )
    with served(tmp_path_factory, "console-obs", FLOW, runs=runs) as srv:
        # the same workflow after an edit of the task's code: run-c is compared with run-a
        flow = srv.work / "flow.py"
        flow.write_text(FLOW.replace("0.05 * math.sin", "0.07 * math.sin"))
        srv.must("run", "--name", "run-c", "flow.py", "training", "--lr", "0.01")
        flow.write_text(FLOW)
        for row in (3, 17):  # real failures, one group
            failed = srv.cli("run", "--name", f"bad-{row}", "flow.py", "ingest", "--row", str(row))
            assert failed.returncode != 0
        yield srv


def _coloured(pg: Any, selector: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the chart's canvas are (about) ``rgb``."""
    return int(
        pg.evaluate(
            """([sel, rgb]) => {
                const c = document.querySelector(sel + ' canvas');
                if (!c) return 0;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) {
                    if (Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30
                        && Math.abs(d[i + 2] - rgb[2]) < 30 && d[i + 3] > 100) n++;
                }
                return n;
            }""",
            [selector, list(rgb)],
        )
    )


def test_metrics_cli_locally_and_remotely(server: Server) -> None:
    local = server.cli("metrics", "run-a", "--json")
    assert local.returncode == 0, local.stderr
    got = {s["name"]: s for s in json.loads(local.stdout)}
    assert set(got) == {"loss", "batches", "accuracy"}
    assert got["loss"]["values"] == [
        math.exp(-0.01 * i) + 0.05 * math.sin(i / 5) for i in range(300)
    ]
    assert got["batches"]["kind"] == "counter" and got["batches"]["values"][-1] == 300
    table = server.cli("metrics", "run-a", "n0")
    assert table.returncode == 0, table.stderr
    assert "loss" in table.stdout and "300" in table.stdout
    assert any(ch in table.stdout for ch in "▁▂▃▄▅▆▇█")

    # a run on the server's own workers, read back over the API
    ran = server.cli(
        "run", "--remote", "--server", server.url, "--json", "flow.py", "training", "--steps", "40"
    )
    assert ran.returncode == 0, ran.stderr
    eid = json.loads(ran.stdout)["execution_id"]
    remote = server.cli("metrics", eid, "n0", "--name", "loss", "--json", "--server", server.url)
    assert remote.returncode == 0, remote.stderr
    (loss,) = json.loads(remote.stdout)
    assert loss["steps"] == list(range(40)) and loss["node"] == "n0"
    missing = server.cli("metrics", "nope", "--server", server.url)
    assert missing.returncode != 0 and "nope" in missing.stderr


def test_console_charts_a_node_and_overlays_two_runs(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/run-a?node=n0&tab=Metrics")
    chart = '.metric-chart[data-metric="loss"]'
    pg.wait_for_selector(chart + " canvas")
    assert pg.get_attribute(chart, "data-points") == "300"
    pg.wait_for_function(
        "(sel) => { const c = document.querySelector(sel + ' canvas'); return c && c.width > 0 }",
        arg=chart,
    )
    assert _coloured(pg, chart, BLUE) > 200, "the loss curve is drawn"
    assert pg.locator('.metric-chart[data-metric="batches"] canvas').count() == 1
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.locator("aside.panel").screenshot(path=str(DOCS_IMG / "metrics-node.png"))

    pg.goto(f"{server.url}/projects/default/metrics?runs=run-a,run-b&name=loss")
    pg.wait_for_selector(chart + " canvas")
    assert pg.get_attribute(chart, "data-series") == "2"
    assert pg.get_attribute(chart, "data-points") == "600"
    assert _coloured(pg, chart, BLUE) > 200 and _coloured(pg, chart, RED) > 200
    assert pg.locator(".u-legend").inner_text().count("run-") == 2
    pg.screenshot(path=str(DOCS_IMG / "metrics-overlay.png"), full_page=True)


def test_failures_grouped_by_the_cli_and_the_console(server: Server, page: Any) -> None:  # noqa: F811
    # one more failure of the same kind, on the server's own workers
    ran = server.cli("run", "--remote", "--server", server.url, "flow.py", "ingest", "--row", "250")
    assert ran.returncode != 0
    remote = server.cli("failures", "--server", server.url, "--since", "1h", "--json")
    assert remote.returncode == 0, remote.stderr
    (group,) = json.loads(remote.stdout)
    assert (group["type"], group["count"], group["executions"]) == ("ValueError", 3, 3)
    assert group["pattern"] == "row <n> of <path> is malformed"
    assert group["frame"] == "flow.py:parse"
    assert "row 250" in group["example"]["message"]
    assert "in parse" in group["example"]["traceback"]
    local = server.cli("failures", "--task", "flow.load")
    assert local.returncode == 0, local.stderr
    assert "row <n> of <path> is malformed" in local.stdout and "in parse" in local.stdout
    drill = server.cli("failures", "--signature", group["signature"], "--json")
    ids = {
        n: json.loads(server.cli("executions", "show", n, "--json").stdout)["execution_id"]
        for n in ("bad-3", "bad-17")
    }
    found = {f["execution_name"]: f["execution_id"] for f in json.loads(drill.stdout)}
    assert {n: found.get(n) for n in ids} == ids  # named as the project names them

    pg = page
    pg.goto(f"{server.url}/projects/default/failures")
    row = pg.locator(f'tr.failure-group[data-signature="{group["signature"]}"]')
    row.wait_for()
    assert "row <n> of <path> is malformed" in row.inner_text()
    assert row.locator("td").first.inner_text() == "3"
    row.click()
    pg.locator("tr.failure-detail pre.traceback").wait_for()
    assert "in parse" in pg.locator("tr.failure-detail pre.traceback").inner_text()
    bad_17 = "bad-17"  # the name the project knows it by (main: its global id)
    pg.locator(f'table.failure-attempts tr[data-execution="{bad_17}"]').wait_for()
    assert pg.locator("table.failure-attempts tbody tr").count() == 3
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS_IMG / "failures.png"), full_page=True)
    link = pg.locator(f'table.failure-attempts tr[data-execution="{bad_17}"] a')
    assert link.inner_text() == bad_17
    link.click()
    pg.wait_for_url(f"**/executions/{bad_17}?**")
    pg.locator('aside.panel[data-node="n0"]').wait_for()


def test_compare_in_the_cli_and_the_console(server: Server, page: Any) -> None:  # noqa: F811
    local = server.cli("compare", "run-a", "run-c", "--json")
    assert local.returncode == 0, local.stderr
    c = json.loads(local.stdout)
    assert [(v["name"], v["same"]) for v in c["inputs"]] == [("lr", True), ("steps", True)]
    assert [v["same"] for v in c["outputs"]] == [False]
    (node,) = c["nodes"]
    assert node["version_changed"] and node["outputs_same"] is False
    assert any("0.05 * math.sin" in line for line in node["source_diff"])
    assert any("0.07 * math.sin" in line for line in node["source_diff"])
    remote = server.cli("compare", "run-a", "run-b", "--server", server.url, "--json")
    assert remote.returncode == 0, remote.stderr
    r = json.loads(remote.stdout)
    lr = r["inputs"][0]
    assert (lr["name"], lr["a"], lr["b"], lr["same"]) == (
        "lr",
        "0.01",
        "0.03",
        False,
    )
    assert not r["nodes"][0]["version_changed"]
    text = server.cli("compare", "run-a", "run-c")
    assert "code changed" in text.stdout and "0.07 * math.sin" in text.stdout
    assert "A run-a (" in text.stdout and "B run-c (" in text.stdout  # main: their ids
    assert (c["name_a"], c["name_b"], r["name_a"]) == ("run-a", "run-c", "run-a")
    missing = server.cli("compare", "run-a", "nope")
    assert missing.returncode != 0 and "nope" in missing.stderr

    pg = page
    pg.goto(f"{server.url}/projects/default/compare?a=run-a&b=run-c")
    row = pg.locator('table.compare-nodes tr[data-node="n0"]')
    row.wait_for()
    assert "changed" in row.inner_text()
    assert "0.07 * math.sin" in row.locator("pre.source-diff").inner_text()
    assert "differs" in pg.locator('table.compare-outputs tr[data-name="o0"]').inner_text()
    assert "same" in pg.locator('table.compare-inputs tr[data-name="lr"]').inner_text()
    # the runs named as the project names them (main: their global ids)
    assert pg.locator('td[data-run="a"] a').inner_text() == "run-a"
    assert pg.locator('td[data-run="b"] a').inner_text() == "run-c"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS_IMG / "compare.png"), full_page=True)


def test_the_console_shows_and_links_runs_by_name(server: Server, page: Any) -> None:  # noqa: F811
    """The executions list, a run's page and a cache hit's reason name runs as the project
    does (main: the executions list and the page's title showed the global id, the reason
    the id of the run that wrote the entry); each link opens the run it names."""
    ran = server.cli("run", "--name", "run-d", "flow.py", "training", "--lr", "0.01")
    assert ran.returncode == 0, ran.stderr  # run-a's inputs and code: a cache hit
    ids = {
        n: json.loads(server.cli("executions", "show", n, "--json").stdout)["execution_id"]
        for n in ("run-a", "run-d")
    }
    pg = page
    pg.goto(f"{server.url}/projects/default/executions")
    row = pg.locator('table.executions tr[data-execution="run-d"]')
    row.wait_for()
    assert row.locator("a").first.inner_text() == "run-d"
    assert not any(eid in pg.locator("table.executions").inner_text() for eid in ids.values())
    row.locator("a").first.click()
    pg.wait_for_url("**/executions/run-d?domain=development")
    assert pg.locator("h1 [data-name]").inner_text() == "run-d"
    pg.goto(f"{server.url}/projects/default/executions/run-d?node=n0")
    cache = pg.locator('aside.panel[data-node="n0"] td[data-cache="hit"]')
    cache.wait_for()
    assert "as execution run-a node n0" in cache.inner_text(), cache.inner_text()
    assert ids["run-a"] not in cache.inner_text()
    # a model version's lineage names and links its training run by name
    from airfoil.client import Client

    with Client(server.url, project="default") as client:
        client.artifacts().publish("named-m", b"m", kind="model", execution_id="run-a")
    pg.goto(f"{server.url}/projects/default/models/named-m")
    link = pg.locator("table.model-versions tr[data-version='1'] td.lineage a")
    link.wait_for()
    assert link.inner_text() == "run run-a"
    assert link.get_attribute("href") == "/projects/default/executions/run-a?domain=development"


def test_a_name_in_two_domains_opens_from_the_list(server: Server, page: Any) -> None:  # noqa: F811
    """One project runs ``twice`` in two domains: the list links each row by its name with its
    domain, and each opens its own run (a link by the bare name would be the API's 409)."""
    import httpx

    ran = server.cli(
        "run", "--remote", "--server", server.url, "--name", "twice", "flow.py", "training",
        "--steps", "5",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    staged = httpx.post(
        f"{server.url}/api/v1/projects/default/domains/staging/executions",
        json={"entity": "flow.training", "inputs": {"steps": 5}, "name": "twice"},
        timeout=60,
    )
    assert staged.status_code == 201, staged.text
    pg = page
    pg.goto(f"{server.url}/projects/default/executions?q=twice")
    rows = pg.locator('table.executions tr[data-execution="twice"]')
    rows.nth(1).wait_for()
    assert rows.count() == 2
    for domain in ("staging", "development"):
        pg.goto(f"{server.url}/projects/default/executions?q=twice")
        row = pg.locator('table.executions tr[data-execution="twice"]', has_text=domain)
        row.locator("a").first.click()
        pg.wait_for_url(f"**/executions/twice?domain={domain}")
        pg.locator("h1 [data-name]").wait_for()
        assert pg.locator("h1 [data-name]").inner_text() == "twice"
        assert f"· {domain} ·" in pg.locator("h1").locator("..").inner_text()
        # the node panel and the graph of that domain's run
        pg.goto(f"{server.url}/projects/default/executions/twice?domain={domain}&node=n0")
        pg.locator('aside.panel[data-node="n0"]').wait_for()
        pg.locator("canvas.graph").wait_for()
        pg.wait_for_load_state("networkidle")
        assert pg.locator(".problem").count() == 0  # no 409 for the bare name anywhere
