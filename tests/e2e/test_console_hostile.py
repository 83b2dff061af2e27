"""The console against a hostile task, in real headless Chromium (adv19).

A task's report is its own HTML and runs its own scripts: shown in a frame sandboxed to an
opaque origin, it reaches neither the console's page, nor its storage (where the API key is
kept), nor its cookies, nor the API as the console. HTML in a log line or an error message
is shown as text, never run."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

XSS = '<img src=x onerror="window.__xss = 1">'

PROBE = """
<div id="probe">probing</div>
<script>
  const said = [];
  const attempt = (what, fn) => {
    try { said.push(what + ":" + fn()); } catch (e) { said.push(what + ":blocked"); }
  };
  attempt("parent", () => parent.document.title);
  attempt("storage", () => localStorage.getItem("probe-secret"));
  attempt("cookie", () => document.cookie);
  attempt("origin", () => window.origin);
  fetch("/api/v1/projects").then((r) => r.text()).then(
    () => "read", () => "blocked"
  ).then((api) => {
    document.getElementById("probe").textContent = said.join("|") + "|api:" + api;
  });
</script>
"""

FLOW = textwrap.dedent(
    f"""
    import airfoil as af

    XSS = {XSS!r}
    PROBE = {PROBE!r}


    @af.task
    def reporter(n: int) -> int:
        af.current_context().report.html(PROBE)
        print("log line " + XSS)
        return n


    @af.task(retries=0)
    def breaks(x: int) -> int:
        raise ValueError("message " + XSS)


    @af.workflow
    def hostile(n: int = 1) -> int:
        return breaks(x=reporter(n=n))
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-hostile", FLOW) as srv:
        ran = srv.cli("run", "--name", "hostile-a", "flow.py", "hostile")
        assert ran.returncode == 1, ran.stderr
        yield srv


def test_a_report_reaches_nothing_of_the_console(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/hostile-a")
    pg.evaluate("() => localStorage.setItem('probe-secret', 'the key')")
    pg.goto(f"{server.url}/projects/default/executions/hostile-a?node=n0&tab=Report")
    frame = pg.frame_locator("iframe.report-frame")
    probe = frame.locator("#probe")
    probe.get_by_text("api:").wait_for()
    said = dict(part.split(":", 1) for part in probe.inner_text().split("|"))
    assert said == {
        "parent": "blocked",
        "storage": "blocked",
        "cookie": "blocked",
        "origin": "null",
        "api": "blocked",
    }


def test_html_in_logs_and_errors_is_text(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/hostile-a?node=n0&tab=Logs")
    pg.get_by_text("log line " + XSS).first.wait_for()
    pg.goto(f"{server.url}/projects/default/executions/hostile-a?node=n1&tab=Attempts")
    pg.get_by_text("message " + XSS).first.wait_for()
    pg.goto(f"{server.url}/projects/default/executions/hostile-a")
    pg.get_by_text("message " + XSS).first.wait_for()
    assert pg.evaluate("() => window.__xss") is None
    assert pg.locator("img[src='x']").count() == 0


CSRF = """
<div id="csrf">sending</div>
<script>
  // simple requests (no preflight): no Content-Type (a Blob of no type), no custom header
  const body = new Blob([JSON.stringify({ name: "pwned" })]);
  Promise.allSettled([
    fetch("/api/v1/projects", { method: "POST", body, mode: "no-cors" }),
    fetch("/api/v1/projects/default/executions/hostile-a/relaunch", {
      method: "POST", mode: "no-cors"
    }),
  ]).then(() => { document.getElementById("csrf").textContent = "sent"; });
</script>
"""


def test_a_reports_script_changes_nothing_through_the_api(server: Server, page: Any) -> None:  # noqa: F811
    """A report's script may send requests (its origin is opaque, not the console's): a
    request it can send without a CORS preflight must not change anything on the server."""
    import httpx

    before = httpx.get(f"{server.url}/api/v1/projects/default/executions").json()
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/hostile-a")
    pg.set_content(
        f'<iframe sandbox="allow-scripts" srcdoc="{CSRF.replace(chr(34), "&quot;")}"></iframe>'
    )
    pg.frame_locator("iframe").get_by_text("sent").wait_for()
    projects = httpx.get(f"{server.url}/api/v1/projects").json()
    assert "pwned" not in str(projects)
    after = httpx.get(f"{server.url}/api/v1/projects/default/executions").json()
    assert len(str(after)) == len(str(before))
