"""The launch form and a TypedDict's keys it does not require (``NotRequired``,
``total=False``), in real headless Chromium (adv20). The CLI and the API took a launch
without them (the spec names them ``optional``); the form asked for every key and refused
to launch until each was typed. Such a key is now left out unless the user gives it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import served  # noqa: E402
from test_console import Server, browser, page, shot  # noqa: E402, F401

FLOW = textwrap.dedent(
    """
    from typing import NotRequired, TypedDict

    import airfoil as af


    class Opts(TypedDict):
        n: int
        tag: NotRequired[str]


    @af.task
    def show(o: Opts) -> str:
        return f"{o['n']}:{o.get('tag', '-')}:{sorted(o)}"


    @af.workflow
    def opts(o: Opts) -> str:
        return show(o=o)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-typeddict", FLOW, register=True) as srv:
        yield srv


def _launch(server: Server, pg: Any) -> str:
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url("**/executions/*")
    run = pg.url.rsplit("/", 1)[1].split("?")[0]
    pg.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{run}").json()
    return str(out["outputs"][0]["preview"])


def test_a_key_the_typeddict_does_not_require_may_be_left_out(server: Server, page: Any) -> None:  # noqa: F811
    """Fails before the fix: ``tag`` had a box of its own, and an empty one blocked the launch."""
    pg = page
    pg.goto(f"{server.url}/projects/default/entities/flow.opts")
    pg.wait_for_selector("form.launch")
    assert pg.locator("[data-may-leave-out]").count() == 1  # tag, not n
    pg.fill("[id='in-o.n']", "3")
    shot(pg, "41-launch-form-typeddict-optional-key")
    assert "3:-:['n']" in _launch(server, pg)
    # given, it is sent
    pg.goto(f"{server.url}/projects/default/entities/flow.opts")
    pg.wait_for_selector("form.launch")
    pg.fill("[id='in-o.n']", "4")
    pg.locator("[data-may-leave-out] input[type=checkbox]").uncheck()
    pg.fill("[id='in-o.tag']", "x")
    assert "4:x:['n', 'tag']" in _launch(server, pg)
