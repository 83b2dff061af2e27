"""``airfoil deploy`` against a real ``airfoil server start``: the server supervises the
``airfoil serve`` processes of a deployment. A replica killed with SIGKILL is restarted and
answers again (its restart count shown); an alias move under a steady client loop against a
deployed replica loses no request while every replica rolls to the new version; a restarted
server re-adopts the running replicas; ``stop`` removes the processes; bad input is a typed
error naming the problem; another project sees none of it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import alive, ready_in_api, until

from airfoil.store.sql import SqlArtifactStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server  # noqa: E402
from test_console import browser, page, shot  # noqa: E402, F401

TRAIN = textwrap.dedent(
    """
    import json
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from airfoil.ml import Dataset, Model, local_registry

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


    if __name__ == "__main__":
        refs = [model.train(hyperparameters={"C": c}).ref for c in (0.001, 10.0)]
        local_registry().promote(refs[0], "production")
        print(json.dumps(refs))
    """
)
ROW = {"features": [{"a": 6.0, "b": 1.0}]}


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    work = tmp_path_factory.mktemp("deploy")
    home = tmp_path_factory.mktemp("home")
    (work / "blobs_model.py").write_text(TRAIN)
    env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PACKAGE_CACHE=str(work / "pkgs"))
    proc = subprocess.run(
        [sys.executable, "blobs_model.py"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["blobs:1", "blobs:2"]
    yield home, work, env


def _ready(srv: Server, n: int, version: int | None = None) -> Callable[[], Any]:
    url = f"{srv.url}/api/v1/projects/default/deployments/blobs"
    return lambda: ready_in_api(url, n, version)


def test_deploy_supervises_restarts_rolls_readopts_and_stops(
    trained: tuple[Path, Path, dict[str, str]],
) -> None:
    home, work, _ = trained
    srv = Server(home, work)
    pids: list[int] = []
    try:
        out = srv.cli(
            "deploy", "blobs@production", "--replicas", "2", "--json", "--server", srv.url
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["replicas"] == 2
        d = until("two ready replicas", _ready(srv, 2, version=1))
        pids = [m["pid"] for m in d["members"]]
        urls = [m["url"] for m in d["members"]]
        for url in urls:
            r = httpx.post(url + "/predict", json=ROW, timeout=10)
            assert r.status_code == 200 and r.json()["version"] == 1, r.text

        # A replica killed with SIGKILL is restarted (backoff, restart count) and answers.
        os.kill(pids[0], signal.SIGKILL)
        d = until(
            "the killed replica back",
            lambda: (x := _ready(srv, 2)()) and x["members"][0]["restarts"] == 1 and x,
        )
        first = d["members"][0]
        assert first["pid"] != pids[0] and first["last_exit"] == -signal.SIGKILL
        assert d["members"][1]["restarts"] == 0 and d["members"][1]["pid"] == pids[1]
        assert httpx.post(first["url"] + "/predict", json=ROW, timeout=10).status_code == 200
        listed = srv.cli("deploy", "list", "--server", srv.url)
        assert listed.returncode == 0 and "2/2 ready" in listed.stdout, listed.stdout

        # An alias move under a steady client loop: every replica rolls, no request fails.
        failures: list[str] = []
        versions: set[int] = set()
        stop = threading.Event()

        def loop(url: str) -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/predict", json=ROW)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if r.status_code != 200:
                        failures.append(r.text)
                    else:
                        versions.add(r.json()["version"])

        d = _ready(srv, 2)()
        threads = [threading.Thread(target=loop, args=(m["url"],)) for m in d["members"]]
        for t in threads:
            t.start()
        time.sleep(0.5)
        moved = srv.cli("models", "promote", "blobs:2", "production")
        assert moved.returncode == 0, moved.stderr
        d = until("both replicas on version 2", _ready(srv, 2, version=2))
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert failures == [] and versions == {1, 2}
        pids = [m["pid"] for m in d["members"]]

        # A restarted server re-adopts the running replicas (same processes, still ready).
        srv.stop()
        assert all(alive(p) for p in pids)
        srv = Server(home, work)
        d = until("the replicas re-adopted", _ready(srv, 2, version=2))
        assert [m["pid"] for m in d["members"]] == pids
        assert [m["restarts"] for m in d["members"]] == [1, 0]

        # Another project sees no deployment of this one.
        other = httpx.get(f"{srv.url}/api/v1/projects/other/deployments", timeout=10).json()
        assert other == {"items": []}

        stopped = srv.cli("deploy", "stop", "blobs", "--server", srv.url)
        assert stopped.returncode == 0, stopped.stderr
        until("the processes gone", lambda: not any(alive(p) for p in pids), timeout=15)
        listed = httpx.get(f"{srv.url}/api/v1/projects/default/deployments", timeout=10).json()
        assert listed == {"items": []}
    finally:
        # Never leave services behind, whatever failed: stop the deployment (its record would
        # make the next test's server start its replicas again) and kill every replica this
        # test saw or the record names now (a restarted replica has a new pid).
        with contextlib.suppress(Exception):
            now = httpx.get(f"{srv.url}/api/v1/projects/default/deployments/blobs", timeout=10)
            if now.status_code == 200:
                pids += [m["pid"] for m in now.json()["members"] if m.get("pid")]
                srv.cli("deploy", "stop", "blobs", "--server", srv.url)
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        srv.stop()


def test_bad_deploys_are_typed_errors_that_name_the_fix(
    trained: tuple[Path, Path, dict[str, str]],
) -> None:
    home, work, _ = trained
    srv = Server(home, work)
    try:
        base = f"{srv.url}/api/v1/projects/default/deployments"
        cases = [
            ({"ref": "nosuch@production"}, 404, "nosuch"),
            ({"ref": "blobs@staging"}, 404, "staging"),
            ({"ref": "blobs:9"}, 404, "9"),
            ({"ref": "bl:obs:1"}, 422, "invalid model reference"),
            ({"ref": "blobs:1", "replicas": 0}, 422, "replicas"),
            ({"ref": "blobs:1", "file": "/nowhere/model.py"}, 422, "--file"),
            # the server's resource queue: more GPUs or CPUs than this machine could give
            ({"ref": "blobs:1", "gpus": 64}, 422, "--gpus"),
            ({"ref": "blobs:1", "cpus": 1000}, 422, "asks for cpu=1000"),
            ({"ref": "blobs:1", "memory": "lots"}, 422, "invalid memory"),
        ]
        for body, status, needle in cases:
            r = httpx.post(base, json=body, timeout=10)
            assert r.status_code == status, (body, r.text)
            assert needle in r.json()["error"]["message"], (body, r.text)
        bad = srv.cli("deploy", "blobs:1", "--memory", "lots", "--server", srv.url)
        assert bad.returncode != 0 and "invalid memory" in bad.stderr + bad.stdout
        big = srv.cli("deploy", "blobs:1", "--gpus", "64", "--server", srv.url)
        assert big.returncode != 0 and "--gpus" in big.stderr + big.stdout, big.stderr
        out = srv.cli("deploy", "stop", "blobs", "--server", srv.url)
        assert out.returncode != 0 and "no deployment 'blobs'" in out.stderr + out.stdout
        assert httpx.get(base, timeout=10).json() == {"items": []}
    finally:
        srv.stop()


def test_console_shows_the_deployment_and_its_drift(
    trained: tuple[Path, Path, dict[str, str]],
    page: Any,  # noqa: F811
) -> None:
    home, work, _ = trained
    srv = Server(home, work)
    pid = None
    try:
        # with replica resources: admitted through the server's resource queue (the memory
        # is enforced too: room for the service's libraries, about 250 MiB resident)
        out = srv.cli(
            "deploy", "blobs:1", "--cpus", "0.5", "--memory", "768Mi", "--server", srv.url
        )
        assert out.returncode == 0, out.stderr
        d = until("a ready replica", _ready(srv, 1, version=1))
        assert d["resources"] == {"cpu": 0.5, "mem": 768 * 2**20, "gpu": 0}
        listed = srv.cli("deploy", "list", "--server", srv.url)
        assert "cpu=0.5 mem=768Mi" in listed.stdout, listed.stdout
        pid, url = d["members"][0]["pid"], d["members"][0]["url"]
        # Served rows far from the training data in "a", one of three missing "b".
        rows = [{"a": 100.0, "b": 1.0}, {"a": 100.0, "b": 3.0}]
        r = httpx.post(url + "/predict", json={"features": rows}, timeout=10)
        assert r.status_code == 200, r.text
        # The estimator cannot take a missing value (a 422 naming it), but drift counts what
        # arrived.
        missing = {"features": [{"a": 100.0, "b": None}]}
        r = httpx.post(url + "/predict", json=missing, timeout=10)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "b", r.text
        # The API reads the deployment's record, where the server copies the replica's drift
        # at most every second.
        api = until("3 rows on the record", _drift(srv, rows=3))
        assert api["rows"] == 3 and api["version"] == 1 and api["replicas"] == 1
        b = api["features"]["b"]["serving"]
        assert b["mean"] == pytest.approx(2.0) and b["std"] == pytest.approx(1.0)
        assert b["missing_rate"] == pytest.approx(1 / 3)
        training_a = api["features"]["a"]["training"]
        assert 0 < training_a["mean"] < 7 and training_a["std"] > 0

        page.goto(f"{srv.url}/projects/default/models/blobs")
        page.wait_for_selector("section.deployment tr[data-replica='0'][data-status='ready']")
        assert "1/1 ready" in page.inner_text("section.deployment h2")
        assert "each 0.5 CPU, 768 MiB" in page.inner_text("section.deployment h2")
        lineage = page.inner_text("table.model-versions tr[data-version='1'] td.lineage")
        assert "deployed (1 replica)" in lineage
        row_a = page.locator("table.drift-table tr[data-feature='a']")
        row_a.wait_for()
        assert row_a.get_attribute("class") == "drifted"
        assert row_a.locator("td[data-stat='serving-mean']").inner_text() == "100"
        shown = float(row_a.locator("td[data-stat='training-mean']").inner_text())
        assert shown == pytest.approx(training_a["mean"], rel=1e-3)
        row_b = page.locator("table.drift-table tr[data-feature='b']")
        assert row_b.locator("td[data-stat='serving-missing']").inner_text() == "33.3%"
        assert row_b.locator("td[data-stat='serving-std']").inner_text() == "1"
        assert "3 rows served by 1 replica of version 1" in page.inner_text(".drift-summary")
        # More rows: once the API has them, the refresh button shows the new count.
        httpx.post(url + "/predict", json={"features": rows[:1]}, timeout=10)
        until("4 rows on the record", _drift(srv, rows=4))
        page.locator("button[name='refresh-drift']").click()
        page.wait_for_selector(".drift-summary:has-text('4 rows served')")
        shot(page, "40-model-deployment-drift")

        # The replica restarts (SIGKILL) once the server recorded its rows: the API's drift
        # still counts the 4 rows it served (it said 0 when read from live counters only).
        store = SqlArtifactStore(f"sqlite:///{home / 'airfoil.db'}")
        try:
            until("the rows on the record", lambda: _recorded_rows(store) == 4, timeout=30)
        finally:
            store.close()
        os.kill(pid, signal.SIGKILL)
        back = until(
            "the replica back",
            lambda: (x := _ready(srv, 1)()) and x["members"][0]["restarts"] == 1 and x,
        )
        pid = back["members"][0]["pid"]
        # Its new process counts as the replica once the server read it (at once, normally).
        api = until("the new process on the record", _drift(srv, rows=4, replicas=1))
        assert (api["rows"], api["replicas"], api["version"]) == (4, 1, 1)
        told = srv.cli("deploy", "drift", "blobs", "--server", srv.url)
        assert told.returncode == 0, told.stderr
        assert "blobs: 4 rows served by 1 replica of version 1" in told.stdout, told.stdout
        assert "drifted" in told.stdout  # feature a, as the console's table marks it
        page.locator("button[name='refresh-drift']").click()
        page.wait_for_selector(".drift-summary:has-text('4 rows served by 1 replica')")
        stopped = srv.cli("deploy", "stop", "blobs", "--server", srv.url)
        assert stopped.returncode == 0, stopped.stderr
        page.reload()
        page.wait_for_selector("section.deployment .muted:has-text('not deployed')")
    finally:
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)
        srv.stop()


def _drift(srv: Server, rows: int, replicas: int = 1) -> Callable[[], Any]:
    """The API's drift of ``blobs`` once it counts ``rows`` rows by ``replicas`` replicas."""

    def check() -> Any:
        got = httpx.get(
            f"{srv.url}/api/v1/projects/default/deployments/blobs/drift", timeout=10
        ).json()
        return got if (got["rows"], got["replicas"]) == (rows, replicas) else None

    return check


def _recorded_rows(store: SqlArtifactStore) -> int:
    found = store.get_deployment("default", "blobs")
    return sum(int(e.report["rows"]) for e in found.drift) if found is not None else 0
