"""The console's pages that fetch once (the models list, the task histories, a log's
search...) ask again when their request fails, in headless Chromium against a real
``airfoil server start``: the first answers are refused (a 503, as a server starting or
shedding load gives, or no answer at all) and the page shows the error, then its content
once the server answers. On integ at 53332d9e such a page showed the error for good (the
pages that poll retried; those that fetch once did not).

The console's own fetches are asked again too: the projects of the header's list, the key's
identity beside it, and the run whose inputs fill a launch form (``?from=``). On main at
85403750 each was asked once: the list stayed empty, the identity blank, and the form said
for good that the run's inputs could not be read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

FAILS = 2  # answers refused before the server's own: retried after 1 s, then 2 s


def _refuse_first(pg: Any, matches: Callable[[str], bool], failure: str) -> list[str]:
    """Refuse the first :data:`FAILS` requests ``matches`` takes (a 503 or no answer); the
    list of the URLs refused."""
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

    pg.route(matches, answer)
    return refused


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-retry") as server:
        yield server


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
    refused = _refuse_first(page, lambda url: "/api/v1/" in url and api in url, failure)
    page.goto(srv.url + path)
    problem = page.locator(".problem")
    problem.wait_for()  # the failure is shown meanwhile
    if failure == "503":
        assert "the server is starting" in problem.inner_text()
    page.get_by_text(shown).wait_for(timeout=20_000)
    assert len(refused) == FAILS
    assert problem.count() == 0  # the error is gone with the answer


AIRFOIL = (sys.executable, "-m", "airfoil.cli")
FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return inc(x=x)
    """
)


@pytest.fixture(scope="module")
def relaunchable(srv: Server) -> str:
    """Project ``relaunch`` (not ``default``, whose pages above are empty) with run ``first``
    of ``flow.wf`` (x=3), launched through the server, and project ``listed`` beside it;
    the first's name."""
    (srv.work / "flow.py").write_text(FLOW)
    ran = subprocess.run(
        [*AIRFOIL, "run", "--server", srv.url, "--name", "first", "flow.py", "wf", "--x", "3"],
        env=dict(srv.env, AIRFOIL_PROJECT="relaunch"),
        cwd=srv.work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    made = httpx.post(f"{srv.url}/api/v1/projects", json={"name": "listed"}, timeout=30)
    assert made.status_code == 201, made.text
    return "relaunch"


def _api_path(path: str) -> Callable[[str], bool]:
    return lambda url: urlsplit(url).path == "/api/v1" + path


@pytest.mark.parametrize("failure", ["503", "no answer"])
@pytest.mark.parametrize("which", ["projects", "whoami"])
def test_the_headers_fetches_recover_from_failed_requests(
    srv: Server,
    relaunchable: str,
    page: Any,  # noqa: F811
    which: str,
    failure: str,
) -> None:
    """The header's project list and the key's identity (main: asked once, so the list
    held only the page's project and the identity stayed blank after a 503 or no answer)."""
    if which == "projects":
        refused = _refuse_first(page, _api_path("/projects"), failure)
        page.goto(f"{srv.url}/projects/{relaunchable}/executions")
        option = page.locator("select[name=project] option[value=listed]")
        option.wait_for(state="attached", timeout=20_000)
    else:
        refused = _refuse_first(page, _api_path("/auth/whoami"), failure)
        page.goto(f"{srv.url}/projects/{relaunchable}/executions")
        page.locator(".who", has_text="open server (loopback)").wait_for(timeout=20_000)
    assert len(refused) == FAILS


@pytest.mark.parametrize("failure", ["503", "no answer"])
def test_a_launch_form_fills_in_its_run_after_failed_requests(
    srv: Server,
    relaunchable: str,
    page: Any,  # noqa: F811
    failure: str,
) -> None:
    """``?from=first``: the run's inputs fill the form once the server answers (main: the
    form said for good that the inputs of run first could not be read)."""
    run = f"/projects/{relaunchable}/executions/first"
    refused = _refuse_first(page, _api_path(run), failure)
    page.goto(f"{srv.url}/projects/{relaunchable}/entities/flow.wf?from=first")
    problem = page.locator("form.launch .problem")
    problem.wait_for()  # the failure is shown meanwhile
    assert "the inputs of run first could not be read" in problem.inner_text()
    page.wait_for_selector("form.launch [data-from]", timeout=20_000)
    assert page.input_value("#in-x") == "3"
    assert len(refused) == FAILS
    assert problem.count() == 0
