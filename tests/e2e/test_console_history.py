"""Task history end to end (issue 15): a workflow's twelve runs of a task make its history,
a later run that is far slower is flagged by ``airfoil executions show``, in the
console's node panel and on the task's history page (real headless Chromium), and
``airfoil tasks stats`` prints the history. The console's log view filters by level and
highlights a search, and searches across runs. The screenshots go to test-output/console/,
and to docs/img/ when AIRFOIL_UPDATE_DOCS_IMG=1."""

from __future__ import annotations

import json
import os
import re
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

FLOW = textwrap.dedent(
    """
    import logging
    import time

    import airfoil as af


    @af.task
    def nap(seconds: float) -> float:
        print("napping", seconds)
        time.sleep(seconds)
        logging.getLogger("nap").warning("woke after %s", seconds)
        af.current_context().log_metric("slept", seconds)
        return seconds


    @af.workflow
    def warm() -> float:
        x = nap(seconds=0.0)
        for _ in range(11):
            x = nap(seconds=x)
        return x


    @af.workflow
    def once(seconds: float = 0.0) -> float:
        return nap(seconds=seconds)


    @af.task
    def chatty(n: int) -> int:
        for i in range(n):
            print("line", i, "xx")
        return n


    @af.workflow
    def talk(n: int = 2500) -> int:
        return chatty(n=n)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    runs = (
        ("run", "--name", "warm-1", "flow.py", "warm"),
        ("run", "--name", "slow-1", "flow.py", "once", "--seconds", "1.0"),
        ("run", "--name", "talk-1", "flow.py", "talk"),
    )
    with served(tmp_path_factory, "console-history", FLOW, runs=runs) as srv:
        yield srv


def test_a_slow_run_is_flagged_in_the_cli_and_the_node_panel(server: Server, page: Any) -> None:  # noqa: F811
    shown = server.cli("executions", "show", "slow-1")
    assert shown.returncode == 0, shown.stderr
    # a 1 s sleep as its attempt timed it: 1.1 s at load 15 (sleep overshoots, never undershoots)
    assert re.search(r"! n0 attempt 1 flow\.nap: took 1\.\d s", shown.stdout), shown.stdout
    assert "of 12 runs" in shown.stdout and "slept ended at 1.0" in shown.stdout
    assert "anomalies" not in server.cli("executions", "show", "warm-1").stdout

    stats = server.cli("tasks", "stats", "flow.nap")
    assert stats.returncode == 0, stats.stderr
    assert "13 successful runs" in stats.stdout and "slow-1 n0" in stats.stdout
    data = json.loads(server.cli("tasks", "stats", "flow.nap", "--json").stdout)
    assert data["duration"]["count"] == 13 and data["metrics"]["slept"]["max"] == 1.0
    remote = server.cli("tasks", "stats", "flow.nap", "--json", "--server", server.url)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == data  # the server reads the same store

    pg = page
    pg.goto(f"{server.url}/projects/default/executions/slow-1?node=n0")
    box = pg.locator('aside.panel[data-node="n0"] .anomalies')
    box.wait_for()
    assert re.match(r"took 1\.\d s", box.locator('li[data-anomaly="duration"]').inner_text())
    assert "of 12 runs" in box.inner_text()
    assert box.locator('li[data-anomaly="metric"][data-metric="slept"]').count() == 1
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.locator("aside.panel").screenshot(path=str(DOCS_IMG / "anomaly-node.png"))

    # a run like its history: no box
    pg.goto(f"{server.url}/projects/default/executions/warm-1?node=n3")
    pg.locator('aside.panel[data-node="n3"] table.kv').wait_for()
    pg.wait_for_load_state("networkidle")
    assert pg.locator("aside.panel .anomalies").count() == 0


def test_the_task_history_page_from_the_tasks_list_and_the_node_panel(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    pg = page
    pg.goto(f"{server.url}/projects/default/tasks")
    row = pg.locator('table.task-names tr[data-task="flow.nap"]')
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == "13"  # runs, none failed
    assert row.locator("td").nth(2).inner_text() == "0"
    row.locator("a").click()
    pg.wait_for_url("**/projects/default/tasks/flow.nap")
    summary = pg.locator('table.task-summary tr[data-summary="duration"]')
    summary.wait_for()
    data = json.loads(server.cli("tasks", "stats", "flow.nap", "--json").stdout)
    assert pg.locator("p[data-runs]").get_attribute("data-runs") == "13"
    # the page shows the API's figures (the CLI's, read from the same store)
    assert summary.locator("td").first.inner_text() == str(data["duration"]["count"])
    p95 = pg.locator('tr[data-summary="slept"] td[data-stat="p95"]').inner_text()
    assert float(p95) == pytest.approx(data["metrics"]["slept"]["p95"], rel=1e-3)
    # a plot of durations per run (uPlot draws on a canvas), and one of the metric
    chart = pg.locator('.metric-chart[data-metric="duration per run"]')
    assert chart.get_attribute("data-points") is not None
    assert chart.locator("canvas").count() == 1
    slept = pg.locator('.metric-chart[data-metric="slept (final value) per run"]')
    assert slept.locator("canvas").count() == 1
    # the slow run is flagged (beyond k std), the others are not; it links to its node
    flagged = pg.locator("table.task-runs tr[data-anomaly]")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-execution") == "slow-1"
    assert flagged.locator('td[data-far="duration"]').count() == 1
    assert pg.locator("table.task-runs tbody tr").count() == 13
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS_IMG / "task-history.png"), full_page=True)
    flagged.locator("a").click()
    pg.wait_for_url("**/executions/slow-1?node=n0&domain=development")
    panel = pg.locator('aside.panel[data-node="n0"]')
    panel.wait_for()
    # and back from the node panel
    panel.locator("a.task-history-link").click()
    pg.wait_for_url("**/projects/default/tasks/flow.nap")
    pg.locator("table.task-runs").wait_for()

    # a task that never ran: the API's error, shown
    pg.goto(f"{server.url}/projects/default/tasks/flow.ghost")
    assert "flow.ghost" in pg.locator(".problem, .error").first.inner_text()


LOG_TEXT = "document.querySelector('aside.panel pre.log')?.textContent || ''"
MATCHES = "document.querySelector('p[data-matches]')?.dataset.matches"


def test_the_log_view_filters_by_level_and_searches_across_runs(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/slow-1?node=n0&tab=Logs")
    log = pg.locator("aside.panel pre.log")
    pg.wait_for_function(
        "() => (document.querySelector('aside.panel pre.log')?.textContent || '').includes('woke')"
    )
    assert "OUT      napping 1.0" in log.inner_text()
    assert "WARNING  nap: woke after 1.0" in log.inner_text()
    # the level filter asks the server for WARNING and above: the print goes
    pg.select_option('aside.panel select[name="level"]', "WARNING")
    pg.wait_for_function(f"() => !({LOG_TEXT}).includes('napping')")
    assert "nap: woke after 1.0" in log.inner_text()
    pg.select_option('aside.panel select[name="level"]', "ERROR")
    pg.wait_for_function(
        "() => (document.querySelector('aside.panel pre.log')?.textContent || '')"
        ".includes('no entries at ERROR')"
    )
    pg.select_option('aside.panel select[name="level"]', "")
    pg.wait_for_function(f"() => ({LOG_TEXT}).includes('napping')")
    # the search box highlights the matches (case-insensitive)
    pg.fill('aside.panel input[name="log-search"]', "WOKE")
    assert pg.locator("aside.panel .log-found").get_attribute("data-found") == "1"
    assert log.locator("mark").all_inner_texts() == ["woke"]
    pg.check('aside.panel input[name="only-matching"]')
    assert log.inner_text().strip().endswith("nap: woke after 1.0")
    assert "napping" not in log.inner_text()
    pg.fill('aside.panel input[name="log-search"]', "no such text")
    assert pg.locator("aside.panel .log-found").get_attribute("data-found") == "0"
    pg.fill('aside.panel input[name="log-search"]', "napping")
    pg.locator("aside.panel a.across-runs").click()
    # across runs: every attempt of every run that printed it, newest run first
    pg.wait_for_url("**/projects/default/logs?text=napping*")
    found = pg.locator("p[data-matches]")
    found.wait_for()
    assert found.get_attribute("data-matches") == "13"
    assert found.get_attribute("data-complete") == "true"
    rows = pg.locator("table.log-matches tbody tr")
    assert rows.first.get_attribute("data-execution") == "slow-1"
    assert rows.locator("mark").first.inner_text() == "napping"
    assert {r.get_attribute("data-level") for r in rows.all()} == {"OUT"}
    pg.screenshot(path=str(DOCS_IMG / "log-search.png"), full_page=True)
    # with a level, the server keeps only lines at it: no print is a WARNING
    pg.select_option('select[name="level"]', "WARNING")
    pg.wait_for_function(f"() => {MATCHES} === '0'")
    pg.fill('input[name="text"]', "woke after")
    pg.click('button[type="submit"]')
    pg.wait_for_function(f"() => {MATCHES} === '13'")
    rows.first.locator("a").click()
    pg.wait_for_url("**/executions/slow-1?node=n0&tab=Logs&domain=development")
    pg.locator("aside.panel pre.log").wait_for()

    # a search matching more than the view highlights: all counted, the first 2,000 marked
    pg.goto(f"{server.url}/projects/default/executions/talk-1?node=n0&tab=Logs")
    pg.wait_for_function(f"() => ({LOG_TEXT}).includes('line 2499 xx')")
    pg.fill('aside.panel input[name="log-search"]', "XX")
    found = pg.locator("aside.panel .log-found")
    assert found.get_attribute("data-found") == "2500"
    assert "the first 2000 highlighted" in found.inner_text()
    assert pg.locator("aside.panel pre.log mark").count() == 2000
    assert "line 2499 xx" in pg.locator("aside.panel pre.log").inner_text()  # text kept
