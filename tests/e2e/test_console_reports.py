"""Reports end to end (issue 15): a task attaches markdown, a table and a matplotlib figure
(``af.current_context().report``) in runs made locally and on the server's own workers;
``airfoil report`` writes them as HTML files locally and with ``--remote``; the console's
node panel shows one in its Report tab, in a sandboxed frame, in real headless Chromium, and
each attempt's OpenTelemetry trace and span ids (API and Attempts tab)."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airfoil.core.trace_ids import traceparent

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    import airfoil as af


    @af.task
    def evaluate(n: int) -> float:
        losses = [1.0 / (i + 1) for i in range(n)]
        rep = af.current_context().report
        rep.markdown(f"# Evaluation\\n\\nfinal loss **{losses[-1]:.3f}** after {n} steps")
        rep.table(pd.DataFrame({"step": range(n), "loss": losses}), title="losses")
        fig, ax = plt.subplots(figsize=(4, 2.5))
        ax.plot(losses)
        ax.set_title("loss")
        rep.figure(fig, title="curve")
        plt.close(fig)
        return losses[-1]


    @af.task
    def quiet(x: float) -> float:
        return x


    @af.workflow
    def evaluation(n: int = 6) -> float:
        return quiet(x=evaluate(n=n))
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    run = ("run", "--name", "rep-a", "flow.py", "evaluation")
    with served(tmp_path_factory, "console-reports", FLOW, runs=(run,)) as srv:
        yield srv


def test_report_cli_locally_and_remotely(server: Server) -> None:
    out = server.work / "a.html"
    local = server.cli("report", "rep-a", "n0", "-o", str(out))
    assert local.returncode == 0, local.stderr
    assert "attempt 1" in local.stdout
    page_text = out.read_text()
    assert "<h1>Evaluation</h1>" in page_text and "<h3>losses</h3>" in page_text
    assert 'src="data:image/png;base64,' in page_text
    none = server.cli("report", "rep-a", "n1")
    assert none.returncode != 0 and "has no report" in none.stderr

    ran = server.cli(
        "run", "--remote", "--server", server.url, "--json", "flow.py", "evaluation", "--n", "3"
    )
    assert ran.returncode == 0, ran.stderr
    eid = json.loads(ran.stdout)["execution_id"]
    got = server.work / "remote.html"
    remote = server.cli("report", eid, "n0", "--server", server.url, "-o", str(got))
    assert remote.returncode == 0, remote.stderr
    assert "after 3 steps" in got.read_text()
    r = httpx.get(f"{server.url}/api/v1/projects/default/executions/{eid}/nodes/n0/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-airfoil-attempt"] == "1"
    assert r.headers["content-security-policy"].startswith("sandbox allow-scripts")
    missing = server.cli("report", eid, "n1", "--server", server.url)
    assert missing.returncode != 0 and "has no report" in missing.stderr
    # the API's attempt record names the attempt's OpenTelemetry trace and span
    node = httpx.get(f"{server.url}/api/v1/projects/default/executions/{eid}/nodes/n0").json()
    (att,) = node["attempt_list"]
    assert f"00-{att['trace_id']}-{att['span_id']}-01" == traceparent(eid, "n0", 1)


def test_console_shows_the_report_in_a_sandboxed_frame(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/rep-a?node=n0&tab=Report")
    frame_el = pg.locator("iframe.report-frame")
    frame_el.wait_for()
    assert frame_el.get_attribute("sandbox") == "allow-scripts"
    frame = pg.frame_locator("iframe.report-frame")
    assert frame.locator("h1").inner_text() == "Evaluation"
    assert frame.locator("table tbody tr").count() == 6
    img = frame.locator('img[alt="curve"]')
    img.wait_for()
    assert img.evaluate("(i) => i.complete && i.naturalWidth > 100")  # the PNG decoded
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.locator("aside.panel").screenshot(path=str(DOCS_IMG / "report-node.png"))
    # a node whose task attached none says so
    pg.goto(f"{server.url}/projects/default/executions/rep-a?node=n1&tab=Report")
    pg.get_by_text("this node's task attached no report").wait_for()
    pg.goto(f"{server.url}/projects/default/executions/rep-a?node=n0&tab=Attempts")
    # trace ids derive from the execution's id (rep-a is its name in the project)
    rep_a = httpx.get(f"{server.url}/api/v1/projects/default/executions/rep-a").json()["id"]
    trace = traceparent(rep_a, "n0", 1).split("-")
    assert pg.locator(".trace-id").inner_text() == f"trace {trace[1]} · span {trace[2]}"


def test_console_names_a_damaged_reports_damage(server: Server, page: Any) -> None:  # noqa: F811
    """A report whose blob holds bytes that are not UTF-8 is shown as far as it reads, with
    the damage the API names in ``X-Airfoil-Damage`` (integ at 53332d9e showed the report
    alone, nothing said of its damage)."""
    ran = server.cli("run", "--name", "rep-dmg", "flow.py", "evaluation")
    assert ran.returncode == 0, ran.stderr
    api = f"{server.url}/api/v1/projects/default/executions/rep-dmg"
    exec_id = httpx.get(api).json()["id"]
    want = f"reports/{exec_id}/n0/1/report.html"
    (blob,) = (b for b in server.home.rglob("report.html") if b.as_posix().endswith(want))
    blob.write_bytes(blob.read_bytes().replace(b"final loss", b"final \xff\xfe loss"))
    assert httpx.get(f"{api}/nodes/n0/report").headers["x-airfoil-damage"]
    page.goto(f"{server.url}/projects/default/executions/rep-dmg?node=n0&tab=Report")
    notice = page.locator(".report-damage")
    notice.wait_for()
    said = notice.inner_text()
    assert "this report is damaged" in said and "invalid start byte at byte" in said, said
    assert "U+FFFD" in said, said  # the header's percent-encoding undone
    frame = page.frame_locator("iframe.report-frame")
    assert "final \ufffd\ufffd loss" in frame.locator("body").inner_text()
    # a whole report says nothing of damage
    page.goto(f"{server.url}/projects/default/executions/rep-a?node=n0&tab=Report")
    page.locator("iframe.report-frame").wait_for()
    assert page.locator(".report-damage").count() == 0
