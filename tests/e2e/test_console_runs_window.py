"""The console's Runs table of 1,000 runs, in headless Chromium: past 200 rows only the rows
on screen are drawn (windowing), and the table still reads as a whole: the first rows show
at once, scrolling to the end shows the last run, a selection outlives its row scrolling
away, a sorted table windows the sorted rows, and the keyboard walks the rows past the
drawn ones (Ctrl+End, ArrowUp, PageUp, Space).

1,200 succeeded runs of ``w.train`` are written to the store as a run writes them
(execution records and metric series; no task runs) before the server starts; the page
asks for the newest 1,000.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

RUNS = 1200
SHOWN = 1000


def _loss(i: int) -> float:
    """Run ``i``'s lowest loss: ascending with ``i``, so sorting by it orders the runs."""
    return round(0.1 + i / 10_000, 6)


def _fill(home: Path) -> None:
    import msgspec

    from airfoil.core.metrics import MetricSeries
    from airfoil.core.records import StoreBatch, Value
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.records import make_execution

    def as_json(v: object) -> Value:
        data = json.dumps(v).encode()
        return Value(hash=f"h{v}", format="json", inline=data, size=len(data))

    store = SqlMetaStore(f"sqlite:///{home}/airfoil.db")
    start = time.time() - RUNS
    try:
        for i in range(RUNS):
            eid = f"rx{i:05d}"
            rec = make_execution(  # named as its id: the table shows a run by its name
                eid, name=eid, created_at=start + i, project="default", workflow="w.train"
            )
            rec = msgspec.structs.replace(
                rec, phase="succeeded", inputs={"lr": as_json(i / 1000), "tag": as_json(f"t{i}")}
            )
            store.write(StoreBatch(execution=rec))
            store.put_metric_series(
                [
                    MetricSeries(
                        execution_id=eid,
                        node_id="n0",
                        attempt=1,
                        task="w.step",
                        name="loss",
                        steps=[0, 1],
                        values=[1.0, _loss(i)],
                        times=[start + i, start + i + 0.5],
                    )
                ]
            )
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("home")
    _fill(home)
    with served(tmp_path_factory, "console-runs", home=home) as srv:
        yield srv


def _drawn(pg: Any) -> list[str]:
    ids: list[str] = pg.locator("table.runs-table tbody tr[data-execution]").evaluate_all(
        "rs => rs.map(r => r.dataset.execution)"
    )
    return ids


def _on_screen(pg: Any, execution: str) -> bool:
    box = pg.locator(f'tr[data-execution="{execution}"]').bounding_box()
    view = pg.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= view["height"]


def _focused(pg: Any) -> str:
    name: str = pg.evaluate("() => document.activeElement?.getAttribute('name') ?? ''")
    return name


def _focus_moves_to(pg: Any, name: str) -> None:
    """Wait until the focus is on the control ``name``: a key moves it once the row it asked
    for is drawn (an effect after the next render), not within the key press."""
    try:
        pg.wait_for_function(
            f"() => document.activeElement?.getAttribute('name') === '{name}'", timeout=10_000
        )
    except Exception:  # say where the focus is instead
        assert _focused(pg) == name
        raise


def test_a_thousand_runs_draw_only_the_rows_on_screen(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    newest, oldest = f"rx{RUNS - 1:05d}", f"rx{RUNS - SHOWN:05d}"
    pg.goto(f"{server.url}/projects/default/runs?workflow=w.train&metrics=loss&last={SHOWN}")
    pg.locator("table.runs-table[data-painted-at]").wait_for()
    assert pg.get_attribute(".runs-count", "data-rows") == str(SHOWN)
    assert pg.get_attribute("table.runs-table", "aria-rowcount") == str(SHOWN + 2)
    drawn = _drawn(pg)
    assert drawn[0] == newest and 15 <= len(drawn) <= 100, len(drawn)  # a screen, not 1,000
    first = pg.locator(f'tr[data-execution="{newest}"]')
    assert first.locator('td[data-input="tag"]').inner_text() == f'"t{RUNS - 1}"'
    loss = float(first.locator('td[data-metric="loss:min"]').inner_text())
    assert loss == pytest.approx(_loss(RUNS - 1))
    # the page is as tall as every row: its scrollbar means the whole table
    height = pg.evaluate("() => document.documentElement.scrollHeight")
    row = first.bounding_box()["height"]
    assert height >= SHOWN * row

    pg.locator(f'input[name="select-{newest}"]').check()
    pg.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    pg.wait_for_function(
        f"() => !!document.querySelector('tr[data-execution=\"{oldest}\"]')", timeout=10_000
    )
    assert _on_screen(pg, oldest)
    drawn = _drawn(pg)
    assert drawn[-1] == oldest and newest not in drawn and len(drawn) <= 100
    # the rows drawn are the page's rows in order, with no gap
    assert drawn == [f"rx{i:05d}" for i in range(int(drawn[0][2:]), RUNS - SHOWN - 1, -1)]
    pg.locator(f'input[name="select-{oldest}"]').check()
    assert pg.locator("button.compare-selected").is_enabled()  # two selected, far apart
    pg.evaluate("() => window.scrollTo(0, 0)")
    pg.wait_for_function(f"() => !!document.querySelector('input[name=\"select-{newest}\"]')")
    assert pg.locator(f'input[name="select-{newest}"]').is_checked()
    assert "selected" in (pg.get_attribute(f'tr[data-execution="{newest}"]', "class") or "")

    # sorted by the lowest loss (ascending: the oldest shown first), still windowed
    pg.locator('th[data-sort="loss:min"]').click()
    pg.wait_for_url("**sort=loss%3Amin**")
    pg.wait_for_function(
        "() => document.querySelector('table.runs-table tbody tr[data-execution]')"
        f"?.dataset.execution === '{oldest}'"
    )
    assert len(_drawn(pg)) <= 100
    pg.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    pg.wait_for_function(f"() => !!document.querySelector('tr[data-execution=\"{newest}\"]')")
    assert _drawn(pg)[-1] == newest and _on_screen(pg, newest)


def test_the_keyboard_walks_rows_past_the_drawn_ones(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    newest, oldest = f"rx{RUNS - 1:05d}", f"rx{RUNS - SHOWN:05d}"
    pg.goto(f"{server.url}/projects/default/runs?workflow=w.train&metrics=loss&last={SHOWN}")
    pg.locator("table.runs-table[data-painted-at]").wait_for()
    pg.locator(f'input[name="select-{newest}"]').focus()
    pg.keyboard.press("ArrowDown")
    _focus_moves_to(pg, f"select-rx{RUNS - 2:05d}")
    pg.keyboard.press("Control+End")  # to the last row, 998 rows below the drawn ones
    _focus_moves_to(pg, f"select-{oldest}")
    assert _on_screen(pg, oldest)
    pg.keyboard.press("ArrowUp")
    above = f"rx{RUNS - SHOWN + 1:05d}"
    _focus_moves_to(pg, f"select-{above}")
    pg.keyboard.press("Space")  # the checkbox's own key: selects the run
    assert pg.locator(f'input[name="select-{above}"]').is_checked()
    pg.keyboard.press("PageUp")  # a screen up: still a checkbox, further up the table
    pg.wait_for_function(  # moved (once the row it asked for is drawn), to another checkbox
        "() => { const n = document.activeElement?.getAttribute('name') ?? '';"
        f" return n.startsWith('select-rx') && n !== 'select-{above}'; }}"
    )
    up = int(_focused(pg).removeprefix("select-rx"))
    assert up > RUNS - SHOWN + 10 and _on_screen(pg, f"rx{up:05d}")
    # in the execution column the keys move between the links
    pg.locator(f'tr[data-execution="rx{up:05d}"] td.mono a').focus()
    pg.keyboard.press("Control+Home")
    pg.wait_for_function(
        "() => document.activeElement?.closest('tr')?.dataset.execution === "
        f"'{newest}' && document.activeElement.tagName === 'A'"
    )
    assert _on_screen(pg, newest)
    pg.keyboard.press("Enter")  # the link: the execution's page
    pg.wait_for_url(f"**/executions/{newest}?domain=dev")  # the row's run, in its domain
