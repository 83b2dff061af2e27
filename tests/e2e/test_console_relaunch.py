"""Relaunching a run with changed inputs from the console (real headless Chromium), as
Flyte's console does: the run's page links the workflow's launch form filled with the run's
inputs and domain; changing one input launches a run with that input changed and every other
as it was. Before, the console's only relaunch ran the same inputs again at once, so trying
one other value meant typing every input anew. An input the form cannot fill (a file) is
named, and the form refuses to launch until it is given again: never the default in the
run's value's place."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
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
    def describe(n: int, lr: float, tags: list[str], scale: float) -> str:
        return f"{n} {lr} {'+'.join(tags)} {scale}"


    @af.workflow
    def train(n: int, lr: float, tags: list[str], scale: float = 2.0) -> str:
        return describe(n=n, lr=lr, tags=tags, scale=scale)


    @af.task
    def count(f: af.File, factor: int) -> int:
        return len(f.read_bytes().split()) * factor


    @af.workflow
    def words(f: af.File, factor: int = 1) -> int:
        return count(f=f, factor=factor)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-relaunch", FLOW, register=True) as srv:
        yield srv


def _run(srv: Server, run: str, domain: str) -> dict[str, Any]:
    r = httpx.get(
        f"{srv.url}/api/v1/projects/default/executions/{run}", params={"domain": domain}, timeout=30
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _wait(srv: Server, run: str, domain: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 60
    while (d := _run(srv, run, domain))["phase"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, d
        time.sleep(0.2)
    return d


def test_relaunch_with_one_input_changed(server: Server, page: Any) -> None:  # noqa: F811
    api = f"{server.url}/api/v1/projects/default"
    inputs = {"n": 3, "lr": 0.5, "tags": ["a", "b"], "scale": 3.5}
    r = httpx.post(
        f"{api}/domains/staging/executions",
        json={"entity": "flow.train", "inputs": inputs, "name": "first"},
    )
    assert r.status_code == 201, r.text
    assert _wait(server, "first", "staging")["outputs"][0]["preview"] == "3 0.5 a+b 3.5"

    pg = page
    pg.goto(f"{server.url}/projects/default/executions/first?domain=staging")
    pg.get_by_role("link", name="Relaunch with changed inputs…").click()
    pg.wait_for_selector("form.launch [data-from]")
    assert "/entities/flow.train" in pg.url
    assert pg.input_value("#in-n") == "3"
    assert pg.input_value("#in-lr") == "0.5"
    assert pg.input_value("#in-scale") == "3.5"  # given to the run: not the default 2.0
    assert pg.input_value("#in-tags").replace(" ", "") == '["a","b"]'
    assert pg.input_value("select[name=domain]") == "staging"

    pg.fill("#in-n", "7")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url("**/executions/*")
    run = pg.url.rsplit("/", 1)[1].split("?")[0]
    assert run != "first"
    done = _wait(server, run, "staging")
    assert done["outputs"][0]["preview"] == "7 0.5 a+b 3.5"  # only n changed


def test_an_input_the_form_cannot_fill_must_be_given_again(server: Server, page: Any) -> None:  # noqa: F811
    (server.work / "notes.txt").write_text("one two three")
    ran = server.cli(
        "run", "--server", server.url, "--name", "counted", "flow.py", "words",
        "--f", "notes.txt", "--factor", "2",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr + ran.stdout
    pg = page
    pg.goto(f"{server.url}/projects/default/executions/counted")
    pg.get_by_role("link", name="Relaunch with changed inputs…").click()
    pg.wait_for_selector("form.launch [data-from]")
    assert pg.input_value("#in-factor") == "2"
    note = pg.inner_text("[data-input=f] .field-error")
    assert "cannot be filled in here: give it again" in note
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_selector("form.launch .problem")
    assert "fix the inputs marked above" in pg.inner_text("form.launch .problem")
    assert "/entities/flow.words" in pg.url  # nothing launched
    assert "give it again" in pg.inner_text("[data-input=f] .field-error")
