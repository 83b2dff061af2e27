"""The console's pages that fetch once (the models list, the task histories, a log's
search...) ask again when their request fails, in headless Chromium against a real
``airfoil server start``: the first answers are refused (a 503, as a server starting or
shedding load gives, or no answer at all) and the page shows the error, then its content
once the server answers. On integ at 53332d9e such a page showed the error for good (the
pages that poll retried; those that fetch once did not)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from test_console import STATIC, Server, browser, page  # noqa: E402, F401

FAILS = 2  # answers refused before the server's own: retried after 1 s, then 2 s


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not STATIC.exists():
        pytest.fail("the console is not built: run `make install` (it runs npm in ui/)")
    work: Path = tmp_path_factory.mktemp("console-retry")
    server = Server(tmp_path_factory.mktemp("home"), work)
    try:
        yield server
    finally:
        server.stop()


PAGES = {
    "models": ("/projects/default/models", "/artifacts?kind=model", "no registered models"),
    "tasks": ("/projects/default/tasks", "/projects/default/tasks", "no task has run"),
}


@pytest.mark.parametrize("failure", ["503", "no answer"])
@pytest.mark.parametrize("which", list(PAGES))
def test_a_page_that_fetches_once_recovers_from_failed_requests(
    srv: Server,
    page: Any,  # noqa: F811
    which: str,
    failure: str,
) -> None:
    path, api, shown = PAGES[which]
    refused: list[str] = []

    def answer(route: Any) -> None:
        if len(refused) >= FAILS:
            route.continue_()
            return
        refused.append(route.request.url)
        if failure == "503":
            body = {"error": {"code": "unavailable", "message": "the server is starting"}}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(body))
        else:
            route.abort("connectionrefused")

    page.route(lambda url: "/api/v1/" in url and api in url, answer)
    page.goto(srv.url + path)
    problem = page.locator(".problem")
    problem.wait_for()  # the failure is shown meanwhile
    if failure == "503":
        assert "the server is starting" in problem.inner_text()
    page.get_by_text(shown).wait_for(timeout=20_000)
    assert len(refused) == FAILS
    assert problem.count() == 0  # the error is gone with the answer
