"""The experiment-tracking view and frame statistics end to end (issue 15): real runs --
local, on the server's workers (``--remote``), a failed one, a map whose items each log the
metric -- listed by ``airfoil runs`` locally and remotely, drawn as the console's Runs
table in headless Chromium (sorted by a click, two runs sent to compare), and DataFrame
outputs compared column by column by ``airfoil compare`` and the console's compare view.
Screenshots go to test-output/console/, and to docs/img/ with AIRFOIL_UPDATE_DOCS_IMG=1.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = (
    ROOT / "docs" / "img"
    if os.environ.get("AIRFOIL_UPDATE_DOCS_IMG") == "1"
    else ROOT / "test-output" / "console"
)

FLOW = textwrap.dedent(
    """
    import math

    import pandas as pd

    import airfoil as af


    @af.task
    def train(steps: int, lr: float) -> float:
        ctx = af.current_context()
        loss = 1.0
        for i in range(steps):
            loss = math.exp(-lr * i)
            ctx.log_metric("loss", loss)
        if lr > 1:
            raise ValueError("diverged")
        ctx.log_metric("accuracy", 1.0 - loss, step=steps)
        return loss


    @af.workflow
    def training(steps: int = 20, lr: float = 0.1) -> float:
        return train(steps=steps, lr=lr)


    @af.task
    def item(lr: float) -> float:
        af.current_context().log_metric("loss", lr)
        return lr


    @af.workflow
    def sweep(lrs: list[float]) -> list[float]:
        return af.map_task(item)(lr=lrs)


    @af.task
    def table(n: int, drift: bool) -> pd.DataFrame:
        xs, tags = [float(i) for i in range(n)], [f"t{i % 3}" for i in range(n)]
        df = pd.DataFrame({"x": xs, "tag": tags})
        df.loc[0, "x"] = None
        if drift:
            df["extra"] = range(n)
            df["tag"] = df["tag"].str.len()
        return df


    @af.workflow
    def frames(n: int = 10, drift: bool = False) -> pd.DataFrame:
        return table(n=n, drift=drift)
    """
)
LRS = {"lr-a": 0.05, "lr-b": 0.3, "lr-c": 0.15}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-exp", FLOW) as srv:
        for name, lr in LRS.items():
            srv.must("run", "--name", name, "flow.py", "training", "--lr", str(lr))
        bad = srv.cli("run", "--name", "lr-bad", "flow.py", "training", "--lr", "2")
        assert bad.returncode != 0  # failed, after logging 20 points of loss
        srv.must("run", "--name", "sw", "flow.py", "sweep", "--lrs", "[0.5, 0.25, 0.75]")
        for name, args in (("fr-a", []), ("fr-b", ["--n", "2000", "--drift", "true"])):
            srv.must("run", "--name", name, "flow.py", "frames", *args)
        yield srv


def _final(lr: float, steps: int = 20) -> float:
    return math.exp(-lr * (steps - 1))


class Said:
    """What one ``airfoil`` command did: its exit code and its two streams."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = code, stdout, stderr


def _runs(server: Server, *args: str) -> Said:
    """``airfoil runs ARGS`` in this process, against the server's home (or, with
    ``--server``, the server): these tests are about what the command reads and prints, not
    about a process, and ~20 interpreters started one by one (as ``server.cli``) each paid the
    package's imports: under load 15-23 on 2 cores, past pytest-timeout's 300 s."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    env = {"AIRFOIL_HOME": str(server.home), "COLUMNS": "200", "AIRFOIL_SERVER_URL": None}
    done = CliRunner().invoke(app, ["runs", *args], env=env)  # type: ignore[arg-type]
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return Said(done.exit_code, done.stdout, done.stderr)


def test_runs_cli_locally(server: Server) -> None:
    local = _runs(server, "flow.training", "--json", "--sort", "loss:last")
    assert local.returncode == 0, local.stderr
    t = json.loads(local.stdout)
    assert t["available_metrics"] == ["accuracy", "loss"]
    assert t["inputs"] == ["lr", "steps"]
    ids = [r["id"] for r in t["rows"]]
    # ascending final loss: the bigger the rate, the lower; the failed run's loss too
    assert ids == ["lr-bad", "lr-b", "lr-c", "lr-a"]
    rows = {r["id"]: r for r in t["rows"]}
    loss = rows["lr-a"]["metrics"]["loss"]
    assert loss["last"] == pytest.approx(_final(0.05)) and loss["max"] == 1.0
    assert loss["min"] == pytest.approx(_final(0.05)) and loss["points"] == 20
    assert rows["lr-a"]["metrics"]["accuracy"]["last"] == pytest.approx(1 - _final(0.05))
    assert rows["lr-a"]["input_values"] == {"lr": 0.05, "steps": 20}
    failed = rows["lr-bad"]
    assert failed["phase"] == "failed" and "accuracy" not in failed["metrics"]
    assert failed["metrics"]["loss"]["points"] == 20

    sweep = _runs(server, "flow.sweep", "--json")
    (sw,) = json.loads(sweep.stdout)["rows"]
    s = sw["metrics"]["loss"]  # over the map's three items
    assert (s["series"], s["points"], s["min"], s["max"]) == (3, 3, 0.25, 0.75)

    text = _runs(server, "flow.training", "--metric", "loss:min", "--sort", "-lr")
    assert text.returncode == 0, text.stderr
    lines = [ln for ln in text.stdout.splitlines() if ln.startswith("lr-")]
    assert [ln.split()[0] for ln in lines] == ["lr-bad", "lr-b", "lr-c", "lr-a"]
    assert "loss:min" in text.stdout and "accuracy" not in text.stdout.split("\n")[0]
    empty = _runs(server, "flow.nothing")
    assert empty.returncode == 0 and "no runs of flow.nothing" in empty.stdout


def test_runs_cli_remotely(server: Server) -> None:
    # a run on the server's own workers (a process: it loads flow.py), listed over the API
    # with the local ones
    ran = server.cli(
        "run", "--remote", "--server", server.url, "--json", "flow.py", "training", "--lr", "0.9"
    )
    assert ran.returncode == 0, ran.stderr
    eid = json.loads(ran.stdout)["execution_id"]
    remote = _runs(
        server, "flow.training", "--server", server.url, "--json", "--metric", "loss",
        "--input", "lr", "--last", "3",
    )  # fmt: skip
    assert remote.returncode == 0, remote.stderr
    r = json.loads(remote.stdout)
    assert r["rows"][0]["id"] == eid and len(r["rows"]) == 3
    assert r["rows"][0]["metrics"]["loss"]["last"] == pytest.approx(_final(0.9))
    assert r["inputs"] == ["lr"] and r["metrics"] == ["loss"]


@pytest.mark.parametrize("where", ["local", "server"])
def test_runs_cli_filters_pages_and_refuses_bad_options(server: Server, where: str) -> None:
    """Filters by value and pages, and a bad option's message, locally and over the server
    (the same words: the server's 4xx message is the local check's)."""
    extra = ["--server", server.url] if where == "server" else []
    got = _runs(
        server, "flow.training", "--where", "loss:min<0.1", "--where", "lr<0.5", "--json", *extra
    )
    assert got.returncode == 0, got.stderr
    assert sorted(r["id"] for r in json.loads(got.stdout)["rows"]) == ["lr-b", "lr-c"]
    paged = json.loads(_runs(server, "flow.training", "--last", "2", "--json", *extra).stdout)
    older = _runs(server, "flow.training", "--last", "2", "--offset", "2", *extra)
    assert paged["next_offset"] == 2 and "read from offset 2 of" in older.stdout
    assert not {r["id"] for r in paged["rows"]} & {
        ln.split()[0] for ln in older.stdout.splitlines()
    }
    for args, says in (
        (["--where", "lr"], "KEY OP VALUE"),
        (["--where", "rate<1"], "use one of"),
        (["--sort", "lossy"], "cannot sort by 'lossy'"),
        (["--metric", "acc"], "they logged: accuracy, loss"),
        (["--input", "rate"], "inputs: lr, steps"),
        (["--last", "0"], "between 1 and 5000"),
    ):
        bad = _runs(server, "flow.training", *args, *extra)
        assert bad.returncode != 0, (args, bad.stdout)
        if where == "local":
            assert says in bad.stderr, (args, bad.stderr)


def test_console_runs_table_sorts_and_compares(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server.url}/projects/default/runs?workflow=flow.training&metrics=loss,accuracy")
    table = pg.locator("table.runs-table")
    table.wait_for()
    rows = table.locator("tbody tr")
    assert rows.count() >= 4  # (5 after the CLI test ran one on the server)
    cell = pg.locator('tr[data-execution="lr-a"] td[data-metric="loss:last"]')
    assert float(cell.inner_text()) == pytest.approx(_final(0.05), rel=1e-4)
    assert pg.locator('tr[data-execution="lr-a"] td[data-input="lr"]').inner_text() == "0.05"

    def order() -> list[str]:
        got = rows.evaluate_all("rs => rs.map(r => r.dataset.execution)")
        return [e for e in got if e.startswith("lr-")]

    # (while the sorted table loads the old one is gone: the predicates allow no table)
    pg.locator('th[data-sort="loss:min"]').click()
    pg.wait_for_url("**sort=loss%3Amin**")
    pg.wait_for_function(
        "() => document.querySelector('table.runs-table tbody tr')?.dataset.execution === 'lr-bad'"
    )
    assert order() == ["lr-bad", "lr-b", "lr-c", "lr-a"]
    pg.locator('th[data-sort="loss:min"]').click()  # again: descending
    pg.wait_for_url("**sort=-loss%3Amin**")
    pg.wait_for_function(
        "() => document.querySelector('table.runs-table tbody tr')?.dataset.execution === 'lr-a'"
    )
    assert order() == ["lr-a", "lr-c", "lr-b", "lr-bad"]
    assert "▼" in pg.locator('th[data-sort="loss:min"]').inner_text()
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS_IMG / "runs-table.png"), full_page=True)

    pg.locator('input[name="select-lr-a"]').check()
    pg.locator('input[name="select-lr-b"]').check()
    pg.locator("button.overlay-selected").click()
    pg.wait_for_url("**/metrics?runs=lr-a,lr-b&domains=development,development&name=loss")
    pg.locator('.metric-chart[data-metric="loss"] canvas').wait_for()
    assert pg.get_attribute('.metric-chart[data-metric="loss"]', "data-series") == "2"
    pg.go_back()
    pg.locator("table.runs-table").wait_for()
    pg.locator('input[name="select-lr-a"]').check()
    pg.locator('input[name="select-lr-c"]').check()
    pg.locator("button.compare-selected").click()
    pg.wait_for_url("**/compare?a=lr-a&domain_a=development&b=lr-c&domain_b=development")
    pg.locator('table.compare-inputs tr[data-name="lr"]').wait_for()


def test_console_runs_table_filters_by_value_and_pages(server: Server, page: Any) -> None:  # noqa: F811
    pg = page
    base = f"{server.url}/projects/default/runs?workflow=flow.training&metrics=loss"
    pg.goto(base)
    pg.locator("table.runs-table").wait_for()
    pg.fill('input[name="where"]', "loss:min<0.1; lr<0.5")
    pg.click(".runs-filter button[type=submit]")
    pg.wait_for_url("**where=loss%3Amin%3C0.1%3Blr%3C0.5**")
    count = pg.locator(".runs-count")
    pg.wait_for_function(
        "() => document.querySelector('.runs-count')?.textContent.includes('passing')"
    )
    ids = pg.locator("table.runs-table tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.execution)"
    )
    assert sorted(ids) == ["lr-b", "lr-c"]  # lr-a's loss stays above 0.1, lr-bad's lr is 2
    assert "passing loss:min<0.1 and lr<0.5" in count.inner_text()
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(DOCS_IMG / "runs-filtered.png"), full_page=True)
    # a filter that cannot be read: the server's message, naming the form
    pg.fill('input[name="where"]', "lr")
    pg.click(".runs-filter button[type=submit]")
    assert "KEY OP VALUE" in pg.locator(".problem").inner_text()

    # pages of two: older, then newer again; each run once
    pg.goto(base + "&last=2")
    pg.locator("table.runs-table").wait_for()
    total = int(count.get_attribute("data-total") or "0")
    assert total >= 5 and count.get_attribute("data-next") == "2"
    assert pg.locator("button.newer").is_disabled()
    seen: list[str] = []
    for start in range(0, total, 2):
        says = f"from offset {start} of"
        pg.wait_for_function(
            f"() => document.querySelector('.runs-count')?.textContent.includes('{says}')"
        )
        seen += pg.locator("table.runs-table tbody tr").evaluate_all(
            "rs => rs.map(r => r.dataset.execution)"
        )
        if start + 2 < total:
            pg.click("button.older")
    assert len(seen) == total == len(set(seen))
    assert pg.locator("button.older").is_disabled()
    pg.click("button.newer")
    pg.wait_for_url(f"**offset={(total - 1) // 2 * 2 - 2}")  # the page before the last


def test_compare_shows_frame_columns(server: Server, page: Any) -> None:  # noqa: F811
    local = server.cli("compare", "fr-a", "fr-b", "--json")
    assert local.returncode == 0, local.stderr
    (frame,) = json.loads(local.stdout)["frames"]
    assert (frame["kind"], frame["name"]) == ("output", "o0")
    assert (frame["a"]["rows"], frame["b"]["rows"], frame["b"]["rows_read"]) == (10, 2000, 2000)
    cols = {c["name"]: c for c in frame["columns"]}
    assert [(c["name"], c["change"]) for c in frame["columns"]] == [
        ("x", ""),
        ("tag", "type"),
        ("extra", "added"),
    ]
    x = cols["x"]
    assert (x["a"]["count"], x["a"]["nulls"], x["a"]["min"], x["a"]["max"]) == (9, 1, 1.0, 9.0)
    assert x["b"]["mean"] == pytest.approx(sum(range(1, 2000)) / 1999)
    assert cols["tag"]["a"]["distinct"] == 3 and cols["tag"]["b"]["max"] == 2.0
    remote = server.cli("compare", "fr-a", "fr-b", "--server", server.url, "--json")
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["frames"] == [frame]
    text = server.cli("compare", "fr-a", "fr-b")
    assert "frame output o0: A 10 rows, 2 columns  |  B 2,000 rows, 3 columns" in text.stdout
    assert "added" in text.stdout and "large_string / int64" in text.stdout

    pg = page
    pg.goto(f"{server.url}/projects/default/compare?a=fr-a&b=fr-b")
    stats = pg.locator('.compare-frame[data-frame="output:o0"] table.frame-stats')
    stats.wait_for()
    assert "added" in stats.locator('tr[data-column="extra"]').inner_text()
    assert "type" in stats.locator('tr[data-column="tag"]').inner_text()
    nulls = stats.locator('tr[data-column="x"] td[data-stat="nulls"]').inner_text()
    assert nulls == "1"
    count = stats.locator('tr[data-column="x"] td[data-stat="count"]').inner_text()
    assert count == "9 / 1999"
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    pg.locator(".compare-frame").screenshot(path=str(DOCS_IMG / "compare-frames.png"))
