"""Records that no longer decode (stored by an older or faulty version), in the console (real
headless Chromium): the executions page lists the others and says how many it left out and
which, so a short list never passes for a whole one; an execution's page shows its readable
nodes and names the damaged one. Before, the list showed a total counting a row it never
showed, and the execution's page failed whole."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def double(x: int) -> int:
        print("doubling", x)  # a log to search (and to damage)
        return 2 * x


    @af.workflow
    def twice(x: int = 1) -> int:
        return double(x=double(x=x))
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-unreadable", FLOW, register=True) as srv:
        yield srv


def _launched(srv: Server, names: list[str]) -> dict[str, str]:
    """Launch one run per name and wait for all to succeed (polling the list, not a run's
    detail: the server keeps a detail's answer until its next event); their ids by name."""
    api = f"{srv.url}/api/v1/projects/default/executions"
    launch = f"{srv.url}/api/v1/projects/default/domains/development/executions"
    for name in names:
        r = httpx.post(launch, json={"entity": "flow.twice", "inputs": {"x": 1}, "name": name})
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 60
    while True:
        items = httpx.get(api, params={"limit": 50}, timeout=30).json()["items"]
        done = {e["name"]: e for e in items if e["name"] in names}
        if len(done) == len(names) and all(e["phase"] == "succeeded" for e in done.values()):
            return {n: e["id"] for n, e in done.items()}
        assert time.monotonic() < deadline, items
        time.sleep(0.2)


def _spoil(srv: Server, sql: str, params: tuple[str, ...], field: str) -> None:
    """A field of the wrong type in the one row ``sql`` selects (``rowid, record``)."""
    with sqlite3.connect(srv.home / "airfoil.db") as db:
        rowid, record = db.execute(sql, params).fetchone()
        data = json.loads(record)
        data[field] = 7  # what an older version stored
        table = sql.split(" FROM ")[1].split()[0]
        column = sql.split(",")[1].split(" FROM ")[0].strip()
        db.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?", (json.dumps(data), rowid))


def _spoil_first(srv: Server, table: str, execution_id: str) -> None:
    """The phase of the wrong type in the first (by node) ``table`` row of the execution."""
    sql = f"SELECT rowid, record FROM {table} WHERE execution_id=? ORDER BY node_id LIMIT 1"
    _spoil(srv, sql, (execution_id,), "phase")


def test_damaged_records_are_named_and_the_rest_shown(server: Server, page: Any) -> None:  # noqa: F811
    ids = _launched(server, ["readable", "broken", "partly"])
    _spoil(server, "SELECT rowid, head FROM executions WHERE id=?", (ids["broken"],), "phase")
    _spoil_first(server, "nodes", ids["partly"])

    pg = page
    pg.goto(f"{server.url}/projects/default/executions")
    pg.wait_for_selector("tr[data-execution=readable]")
    notice = pg.inner_text(".notice.unreadable")
    assert "1 stored record could not be read and is left out" in notice
    assert ids["broken"] in notice and "$.phase" in notice
    assert pg.locator("tr[data-execution=broken]").count() == 0
    assert pg.locator("tr[data-execution=partly]").count() == 1
    assert "of 3" in pg.inner_text(".pager")  # the total counts it: the notice says where

    pg.goto(f"{server.url}/projects/default/executions/partly")
    pg.wait_for_selector(".notice.unreadable")
    notice = pg.inner_text(".notice.unreadable")
    assert "node" in notice and f"{ids['partly']}/" in notice
    assert pg.locator("h1 .phase").inner_text() == "succeeded"


def test_compare_and_log_search_name_a_damaged_part(server: Server, page: Any) -> None:  # noqa: F811
    """Main: the compare page and the log search showed the API's 500 in place of the
    whole answer when one node or attempt of a run was damaged."""
    ids = _launched(server, ["cmp-ok", "cmp-hurt"])
    _spoil_first(server, "nodes", ids["cmp-hurt"])
    _spoil_first(server, "attempts", ids["cmp-hurt"])

    pg = page
    pg.goto(f"{server.url}/projects/default/compare?a=cmp-ok&b=cmp-hurt")
    pg.wait_for_selector("table.compare-nodes, .compare-page h2")
    notice = pg.locator(".compare-page .notice.unreadable")
    notice.wait_for()
    said = notice.inner_text()
    assert "1 stored record could not be read" in said
    assert f"node {ids['cmp-hurt']}/n0" in " ".join(said.split()), said
    assert pg.locator("td[data-run=b]").get_attribute("data-id") == ids["cmp-hurt"]

    pg.goto(f"{server.url}/projects/default/logs?text=double")
    pg.wait_for_selector(".log-search-results")
    said = " ".join(pg.inner_text(".log-search-results .notice.unreadable").split())
    assert f"attempt {ids['cmp-hurt']}/n0#1" in said, said
    assert pg.locator(".log-search-results p[data-matches]").count() == 1

    # a node whose attempt is damaged: its panel shows the node and names the attempt
    _spoil(
        server,
        "SELECT rowid, record FROM attempts WHERE execution_id=? AND node_id='n1'",
        (ids["cmp-ok"],),
        "phase",
    )
    pg.goto(f"{server.url}/projects/default/executions/cmp-ok?node=n1")
    panel = pg.locator("aside.panel[data-node=n1]")
    panel.locator(".notice.unreadable").wait_for()
    said = " ".join(panel.locator(".notice.unreadable").inner_text().split())
    assert f"attempt {ids['cmp-ok']}/n1#1" in said, said


def test_a_damaged_log_is_named_as_a_damaged_blob(server: Server, page: Any) -> None:  # noqa: F811
    """Integ: the notice said every part it left out was "written by an older or faulty
    version", a log whose blob cannot be read too (the CLI says its blob is damaged)."""
    ids = _launched(server, ["log-hurt"])
    with sqlite3.connect(server.home / "airfoil.db") as db:
        q = "SELECT json_extract(record, '$.log_uri') FROM attempts WHERE execution_id=? "
        (uri,) = db.execute(q + "AND node_id='n0'", (ids["log-hurt"],)).fetchone()
    log = Path(uri.removeprefix("file://"))
    log.unlink()
    log.mkdir()  # there, but no longer a file to read

    pg = page
    pg.goto(f"{server.url}/projects/default/logs?text=double")
    notice = pg.locator(".log-search-results .notice.unreadable")
    named = notice.locator("li", has_text=f"{ids['log-hurt']}/n0#1")
    named.wait_for()
    said = " ".join(notice.inner_text().split())
    item = " ".join(named.inner_text().split())
    assert f"log {ids['log-hurt']}/n0#1" in item, said
    assert "blob is damaged or was changed by hand" in said, said
    if notice.locator("li").count() == 1:  # the log alone: its reason heads the notice
        assert said.startswith("1 stored log could not be read and is left out (its blob is")
        assert "older or faulty" not in said, said
    else:  # beside damaged records (the test above): each says its own reason
        assert "blob is damaged" in item and "older or faulty" not in item, said
