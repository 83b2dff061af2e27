"""The launch form and inputs stored as pickles (a ``datetime.time``, a ``Decimal``: types no
converter writes as JSON), in real headless Chromium. A server takes such values from no one
(it never unpickles what it is sent: ``values of type ... cannot be given as JSON``), yet the
form offered a JSON box for them, and the launch was refused after the user had typed a
value. The form now says so in the box's place: an input with a default is left to its
default, and a workflow with one that has none cannot be launched from the page."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page, shot  # noqa: E402, F401

FLOW = textwrap.dedent(
    """
    import datetime as dt
    from decimal import Decimal

    import airfoil as af


    @af.task
    def price_of(n: int, amount: Decimal) -> str:
        return str(n * amount)


    @af.workflow
    def price(n: int, amount: Decimal = Decimal("2.5")) -> str:
        return price_of(n=n, amount=amount)


    @af.task
    def at(when: dt.time, n: int) -> str:
        return f"{when} x{n}"


    @af.workflow
    def book(when: dt.time, n: int) -> str:
        return at(when=when, n=n)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-pickled", FLOW, register=True) as srv:
        yield srv


def test_a_pickled_input_with_a_default_is_left_to_it(server: Server, page: Any) -> None:  # noqa: F811
    """Fails before the fix: ``#in-amount`` was a JSON box."""
    pg = page
    pg.goto(f"{server.url}/projects/default/entities/flow.price")
    pg.wait_for_selector("form.launch")
    field = pg.locator("[data-input=amount]")
    assert field.locator("textarea, input").count() == 0  # no box to type a value into
    note = field.locator("[data-not-givable]").inner_text()
    assert "Decimal" in note and "pickle" in note and "default is used" in note, note
    assert "add_converter" in note, note  # the way to give one
    pg.fill("#in-n", "4")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url("**/executions/*")
    run = pg.url.rsplit("/", 1)[1].split("?")[0]
    pg.wait_for_selector("h1 .phase[data-phase=succeeded]", timeout=60_000)
    out = httpx.get(f"{server.url}/api/v1/projects/default/executions/{run}").json()
    assert out["outputs"][0]["preview"] == "10.0"  # 4 x the default 2.5


def test_a_required_pickled_input_cannot_be_launched_from_the_page(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    """Fails before the fix: a JSON box for ``when``, and a launch refused by the server."""
    pg = page
    pg.goto(f"{server.url}/projects/default/entities/flow.book")
    pg.wait_for_selector("form.launch")
    field = pg.locator("[data-input=when]")
    assert field.locator("textarea, input").count() == 0
    note = field.locator("[data-not-givable]").inner_text()
    assert "time" in note and "pickle" in note and "default" in note, note
    assert pg.get_by_role("button", name="Launch").is_disabled()
    why = pg.locator("form.launch [data-blocked]").inner_text()
    assert "when" in why and "cannot launch" in why, why
    assert pg.locator("#in-n").is_visible()  # the other inputs are still shown
    shot(pg, "40-launch-form-pickled-input")
