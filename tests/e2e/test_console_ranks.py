"""A training task's ranks in the console: the node panel's log view offers the attempt's own
log and each rank's (`GET .../logs?rank=R`), for a real two-rank gang run by `airfoil run`
and read by a server on the same home (real headless Chromium)."""

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
    import os

    import airfoil as af


    @af.training_task(workers=2, resources_per_worker=af.Resources(cpu=1), max_restarts=0)
    def fit(n: int) -> int:
        rank = os.environ["RANK"]
        for i in range(n):
            print(f"rank {rank} step {i}")
        return n


    @af.workflow
    def train(n: int = 3) -> int:
        return fit(n=n)
    """
)

LOG = "document.querySelector('aside.panel pre.log')?.textContent || ''"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    run = ("run", "--name", "train-1", "flow.py", "train")
    with served(tmp_path_factory, "console-ranks", FLOW, runs=(run,)) as srv:
        yield srv


def test_the_log_view_shows_each_rank_of_a_training_task(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/train-1?node=n0&tab=Logs")
    pg.wait_for_function(f"() => ({LOG}).includes('all ranks finished')")
    ranks = pg.locator('aside.panel select[name="rank"] option')
    assert ranks.all_inner_texts() == ["attempt log", "rank 0", "rank 1"]
    pg.select_option('aside.panel select[name="rank"]', "1")
    pg.wait_for_function(f"() => ({LOG}).includes('rank 1 step 2')")
    text = pg.locator("aside.panel pre.log").inner_text()
    assert "--- gang start 0 on " in text and "rank 0 step" not in text
    pg.select_option('aside.panel select[name="rank"]', "0")
    pg.wait_for_function(f"() => ({LOG}).includes('rank 0 step 2')")
    pg.select_option('aside.panel select[name="rank"]', "")
    pg.wait_for_function(f"() => ({LOG}).includes('all ranks finished')")
