"""Task history end to end (issue 15): a workflow's twelve runs of a task make its history,
a later run that is far slower is flagged by ``airfoil executions show`` and in the
console's node panel (real headless Chromium), and ``airfoil tasks stats`` prints the
history. The screenshot goes to test-output/console/, and to docs/img/ when
AIRFOIL_UPDATE_DOCS_IMG=1."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from test_console import STATIC, Server, browser, page  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = (
    ROOT / "docs" / "img"
    if os.environ.get("AIRFOIL_UPDATE_DOCS_IMG") == "1"
    else ROOT / "test-output" / "console"
)

FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def nap(seconds: float) -> float:
        time.sleep(seconds)
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
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not STATIC.exists():
        pytest.fail("the console is not built: run `make install` (it runs npm in ui/)")
    work = tmp_path_factory.mktemp("console-history")
    (work / "flow.py").write_text(FLOW)
    srv = Server(tmp_path_factory.mktemp("home"), work)
    try:
        for args in (
            ("--name", "warm-1", "flow.py", "warm"),
            ("--name", "slow-1", "flow.py", "once", "--seconds", "1.0"),
        ):
            ran = srv.cli("run", *args)
            assert ran.returncode == 0, ran.stderr
        yield srv
    finally:
        srv.stop()


def test_a_slow_run_is_flagged_in_the_cli_and_the_node_panel(server: Server, page: Any) -> None:  # noqa: F811
    shown = server.cli("executions", "show", "slow-1")
    assert shown.returncode == 0, shown.stderr
    assert "! n0 attempt 1 flow.nap: took 1.0 s" in shown.stdout
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
    assert box.locator('li[data-anomaly="duration"]').inner_text().startswith("took 1.0 s")
    assert "of 12 runs" in box.inner_text()
    assert box.locator('li[data-anomaly="metric"][data-metric="slept"]').count() == 1
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.locator("aside.panel").screenshot(path=str(DOCS_IMG / "anomaly-node.png"))

    # a run like its history: no box
    pg.goto(f"{server.url}/projects/default/executions/warm-1?node=n3")
    pg.locator('aside.panel[data-node="n3"] table.kv').wait_for()
    pg.wait_for_load_state("networkidle")
    assert pg.locator("aside.panel .anomalies").count() == 0
