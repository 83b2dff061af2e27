"""A map item's log in the console (real headless Chromium): the item's panel links its log,
the map node's Logs tab shows the picked item's tries (each attempt of a retried item), and
without an item it says to pick one. Before, a map node's Logs tab asked the API for the map
node's own log (it runs nothing: "has not run yet"), so a failed item's output could be read
only with ``airfoil logs EXEC 'n0[2]'``."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(retries=1)
    def check(x: int) -> int:
        print(f"checking {x}")
        if x == 3:
            raise ValueError(f"bad item {x}")
        return x


    @af.workflow
    def checks(xs: list[int]) -> list[int | None]:
        return af.map_task(check, min_success_ratio=0.5)(x=xs)
    """
)

LOG = "document.querySelector('aside.panel pre.log')?.textContent || ''"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    run = ("run", "--name", "m1", "flow.py", "checks", "--xs", "[1, 2, 3, 4]")
    with served(tmp_path_factory, "console-item-logs", FLOW, runs=(run,)) as srv:  # 3 of 4 pass
        yield srv


def test_a_map_items_log_is_one_click_from_the_item(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/m1?node=n0&tab=Logs")
    pg.wait_for_selector("[data-map-logs=pick]")  # no item picked: where to pick one

    pg.goto(f"{server.url}/projects/default/executions/m1?node=n0&tab=Items")
    pg.click(".items-grid [data-item='2']")
    pg.click("[data-item-log='2']")
    pg.wait_for_selector("[data-map-logs='2']")
    pg.wait_for_function(f"({LOG}).includes('checking 3')")
    log = pg.evaluate(LOG)
    assert "bad item 3" in log and "checking 1" not in log  # item 2's, not another's
    select = "[data-map-logs='2'] .logs-bar select[name=attempt]"
    assert pg.locator(f"{select} option").all_inner_texts() == ["attempt 1", "attempt 2"]
    assert pg.input_value(select) == "2"  # the newest try first
    pg.select_option(select, "1")
    pg.wait_for_function(f"({LOG}).includes('checking 3')")

    pg.click("aside.panel .tabs button:text-is('Items')")  # another item: its own log
    pg.click(".items-grid [data-item='0']")
    pg.click("[data-item-log='0']")
    pg.wait_for_function(f"({LOG}).includes('checking 1')")
    assert "bad item" not in pg.evaluate(LOG)
