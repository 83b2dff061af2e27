"""The console's models page in headless Chromium against a real ``airfoil server start``: a
model trained twice (two real training runs, registered in the server's database) is listed,
its versions show their metrics side by side and their lineage (dataset hash -> the training
run, linked -> version -> aliases); promote through the UI moves the alias (seen over the API
and in the audit trail), and roll back moves it back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page, shot  # noqa: E402, F401

TRAIN = textwrap.dedent(
    """
    import json
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from airfoil.ml import Dataset, Model

    dataset = Dataset("blobs", targets=["y"], test_size=0.25)
    model = Model("blobs", init=LogisticRegression, dataset=dataset)


    @dataset.reader
    def reader(n: int = 80) -> pd.DataFrame:
        rows = [{"a": float(i % 7), "b": float(i % 5), "y": int(i % 7 > 3)} for i in range(n)]
        return pd.DataFrame(rows)


    @model.trainer
    def trainer(est: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
        return est.fit(X, y)


    @model.predictor
    def predictor(est: LogisticRegression, features: pd.DataFrame) -> list[int]:
        return [int(p) for p in est.predict(features)]


    @model.evaluator
    def evaluator(est: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> float:
        return float(est.score(X, y))


    out = []
    for c in (0.001, 10.0):
        t = model.train(hyperparameters={"C": c, "max_iter": 200})
        out.append({"version": t.artifact.version, "execution": t.execution_id,
                    "metrics": t.metrics})
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[Any]]]:
    with served(tmp_path_factory, "console-models", {"train.py": TRAIN}) as srv:
        proc = subprocess.run(
            [sys.executable, "train.py"],
            env=srv.env,
            cwd=srv.work,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield srv, json.loads(proc.stdout.strip().splitlines()[-1])


def test_models_page_lineage_promote_and_rollback(
    trained: tuple[Server, list[Any]],
    page: Any,  # noqa: F811
) -> None:
    srv, runs = trained
    assert [r["version"] for r in runs] == [1, 2]
    page.goto(f"{srv.url}/projects/default/models")
    page.locator("tr[data-model='blobs']").wait_for()
    page.get_by_role("link", name="blobs").click()
    page.wait_for_selector("table.model-versions tr[data-version='2']")
    for r in runs:
        row = page.locator(f"table.model-versions tr[data-version='{r['version']}']")
        shown = row.locator("td[data-metric]").all_inner_texts()
        assert len(shown) == len(r["metrics"]) >= 1, shown
        # the lineage: the training run links to its execution page
        link = row.locator("td.lineage a")
        want = f"/projects/default/executions/{r['execution']}?domain=development"
        assert link.get_attribute("href") == want
        assert f"blobs:{r['version']}" in row.locator("td.lineage").inner_text()
    assert "no aliases yet" in page.inner_text("section.aliases")

    base = f"{srv.url}/api/v1/projects/default/artifacts/blobs"
    page.locator("button[name='promote-1']").click()
    page.wait_for_selector("section.aliases li[data-alias='production'][data-version='1']")
    page.locator("button[name='promote-2']").click()
    page.wait_for_selector("section.aliases li[data-alias='production'][data-version='2']")
    assert httpx.get(base, timeout=30).json()["aliases"] == {"production": 2}
    assert "production" in page.inner_text("table.model-versions tr[data-version='2'] td.aliases")
    trail = page.locator("table.alias-trail tr[data-seq='2']").inner_text()
    assert "promote" in trail and "console promote" in trail
    shot(page, "30-models-page-promoted")

    page.locator("button[name='rollback-production']").click()
    page.wait_for_selector("section.aliases li[data-alias='production'][data-version='1']")
    detail = httpx.get(base, timeout=30).json()
    assert detail["aliases"] == {"production": 1}
    assert [(m["action"], m["from_version"], m["to_version"]) for m in detail["moves"]] == [
        ("promote", None, 1),
        ("promote", 1, 2),
        ("rollback", 2, 1),
    ]
    page.wait_for_selector("table.alias-trail tr[data-seq='3']")

    # the lineage link opens the training run's page
    page.locator("table.model-versions tr[data-version='2'] td.lineage a").click()
    page.wait_for_url(f"**/executions/{runs[1]['execution']}?domain=development")
    page.wait_for_selector("h1 .phase[data-phase=succeeded]")


def test_a_version_stored_with_nan_metrics_is_shown_flagged(
    trained: tuple[Server, list[Any]],
    page: Any,  # noqa: F811
) -> None:
    """A model version an older Airfoil stored with a NaN metric (the store refuses them
    now): main's models page showed the API's 500 in place of every model."""
    import sqlite3
    import time

    from airfoil.store.artifacts import open_artifact_store
    from airfoil.testing.artifact_conformance import make_draft

    srv, _ = trained
    store = open_artifact_store(None, str(srv.home))
    try:
        store.add_version(make_draft("old_blobs", "h-old", project="default"), time.time())
    finally:
        store.close()
    db = sqlite3.connect(srv.home / "airfoil.db")
    try:
        where = "WHERE project = 'default' AND name = 'old_blobs'"
        (record,) = db.execute(f"SELECT record FROM server_artifact_versions {where}").fetchone()
        data = json.loads(record)
        data["metrics"] = {"accuracy": 0.5, "loss": float("nan")}  # json writes NaN as is
        with db:
            db.execute(
                f"UPDATE server_artifact_versions SET record = ? {where}", (json.dumps(data),)
            )
    finally:
        db.close()

    page.goto(f"{srv.url}/projects/default/models")
    row = page.locator("tr[data-model='old_blobs']")
    row.wait_for()
    assert page.locator("tr[data-model='blobs']").count() == 1  # the other model still lists
    flagged = row.locator("[data-invalid-metric='loss']")
    assert flagged.inner_text().strip() == "loss=NaN (invalid)"
    assert "accuracy=0.5" in row.inner_text()
    page.get_by_role("link", name="old_blobs").click()
    cell = page.locator("table.model-versions tr[data-version='1'] td[data-metric='loss']")
    cell.wait_for()
    assert cell.inner_text().strip() == "NaN (invalid)"
    assert "older version" in (cell.locator("[data-invalid-metric]").get_attribute("title") or "")
    shot(page, "31-models-page-nan-metric")
