"""The console in headless Chromium shows no secret: a task printed its context and a secret
and raised an error holding both; the executions list, the execution page, the node's error
and its log panel show ``***`` and never the value (a real ``airfoil server start``)."""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, click_node, page, shot  # noqa: E402, F401

SECRET = "tok-" + uuid.uuid4().hex
SECRETS_KEY = "x5-0s8Zt6b8QGqAGRpJjqM3ZlLbQ1xv3Q8m1yW8T5bA="

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(secret_requests=["token"])
    def leaky(x: int) -> int:
        ctx = af.current_context()
        print("context:", ctx)
        print("explicit:", ctx.secrets["token"])
        raise RuntimeError(f"failed in {ctx} with token={ctx.secrets['token']!r}")


    @af.workflow
    def leaky_wf(x: int = 1) -> int:
        return leaky(x=x)
    """
)


@pytest.fixture(scope="module")
def leaked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    with served(
        tmp_path_factory, "console-secrets", FLOW, env={"AIRFOIL_SECRETS_KEY": SECRETS_KEY}
    ) as srv:
        srv.must("secrets", "set", "token", "--project", "default", stdin=SECRET)
        srv.must("register", "flow.py", "--server", srv.url)
        base = f"{srv.url}/api/v1/projects/default"
        r = httpx.post(
            f"{base}/domains/development/executions", json={"entity": "flow.leaky_wf"}, timeout=30
        )
        assert r.status_code == 201, r.text
        execution = r.json()["id"]
        for _ in range(600):
            phase = httpx.get(f"{base}/executions/{execution}", timeout=30).json()["phase"]
            if phase in ("failed", "succeeded", "aborted"):
                break
            time.sleep(0.2)
        assert phase == "failed"
        yield srv, execution


def test_the_console_shows_no_secret(leaked: tuple[Server, str], page: Any) -> None:  # noqa: F811
    srv, execution = leaked
    page.goto(f"{srv.url}/projects/default/executions")
    page.locator(f"tr[data-execution='{execution}']").wait_for()
    assert SECRET not in page.content()

    page.goto(f"{srv.url}/projects/default/executions/{execution}")
    page.wait_for_selector("canvas.graph[data-painted]")
    page.wait_for_selector("h1 .phase[data-phase=failed]")
    click_node(page, "n0")
    page.wait_for_selector("aside.panel[data-node='n0']")
    assert "token='***'" in page.inner_text("aside.panel")
    page.locator("aside.panel").get_by_role("tab", name="Logs").click()
    page.wait_for_function(
        "() => (document.querySelector('pre.log')?.textContent || '').includes('explicit:')"
    )
    log = page.inner_text("pre.log")
    assert "explicit: ***" in log and "'token': '***'" in log, log
    shot(page, "20-secret-redacted-in-logs")
    assert SECRET not in page.content()
