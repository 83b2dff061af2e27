"""The console's projects, in real headless Chromium: a project that only has local runs
(``AIRFOIL_PROJECT=gamma airfoil run`` in the server's home, never registered) is in the
project picker beside a registered one, and a project in the URL that does not exist is said
to be so, naming the projects there are (main listed registered projects only, and showed an
unknown project as an empty one: "no executions match", the name added to the picker)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

FLOW = """
from airfoil import task, workflow

@task
def double(x: int) -> int:
    return 2 * x

@workflow
def twice(x: int = 1) -> int:
    return double(x=x)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-projects", FLOW, register=True) as srv:
        # a local run in the server's home
        srv.must("run", "flow.py", "twice", "--x", "3", env={"AIRFOIL_PROJECT": "gamma"})
        yield srv


def _picker(pg: Any) -> Any:
    """The picker's projects, to assert with Playwright's retrying ``expect``: the page fills
    the picker when its projects list comes, which can be after the executions list."""
    return pg.locator("select[name=project] option:not([disabled])")


def _picks(pg: Any, projects: list[str]) -> None:
    playwright_api.expect(_picker(pg)).to_have_text(projects, timeout=30_000)


def test_a_project_with_local_runs_only_is_in_the_picker(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/gamma/executions")
    pg.locator("tr[data-execution]").first.wait_for()
    _picks(pg, ["default", "gamma"])  # registered (by `register`), and local-only
    assert pg.locator(".unknown-project").count() == 0


def test_an_unknown_project_is_said_not_to_exist(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/other/executions")
    notice = pg.locator(".unknown-project")
    notice.wait_for()
    text = notice.inner_text()
    assert "Project other does not exist" in text, text
    assert "Projects here: default, gamma." in text, text
    _picks(pg, ["default", "gamma"])  # "other" is not offered as a project
    assert "does not exist" in pg.locator("select[name=project] option[disabled]").inner_text()
    notice.get_by_role("link", name="gamma").click()
    pg.locator("tr[data-execution]").first.wait_for()
    assert pg.url.endswith("/projects/gamma/executions")
    assert pg.locator(".unknown-project").count() == 0


def test_the_unknown_project_notice_goes_once_the_project_has_a_run(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    """A page open on a project before its first execution: the notice said "does not exist"
    for as long as the page stayed open (the project list was read only when the page opened),
    while the executions list below it, refreshed every 2 s, showed the new run."""
    pg = page
    pg.goto(f"{server.url}/projects/delta/executions")
    pg.locator(".unknown-project").wait_for()
    server.must("run", "flow.py", "twice", "--x", "4", env={"AIRFOIL_PROJECT": "delta"})
    pg.locator("tr[data-execution]").first.wait_for(timeout=30_000)
    pg.locator(".unknown-project").wait_for(state="detached", timeout=30_000)
    delta = _picker(pg).filter(has_text=re.compile(r"^delta$"))
    playwright_api.expect(delta).to_have_count(1, timeout=30_000)
    assert pg.locator("select[name=project] option[disabled]").count() == 0
