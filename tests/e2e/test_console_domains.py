"""One name in two domains of a project, end to end: ``twin`` fails in development and in
staging (names are unique per project and domain), and the console's failures page, in real
headless Chromium, links each failed attempt to its own run (``?domain=``; main linked the
bare name, which the server answers with a 409 naming the ids); ``airfoil failures`` (and
``logs --search``, and ``tasks stats`` of ``good``, a run that succeeds in both) prints the
staging run as ``twin (staging)`` beside the development one's ``twin``, and each printed form
opens its own run, locally and with ``--remote``. The Runs page links, selects, compares and
overlays each ``good`` as its own run, as ``airfoil runs`` and ``compare`` print them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401
from test_console_observability import FLOW  # noqa: E402 (ingest: fails on a row)

ROWS = {"development": 3, "staging": 17}


def _cli(
    srv: Server, *args: str, domain: str = "development", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return srv.cli(*args, env={"AIRFOIL_DOMAIN": domain, **(env or {})})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-domains", FLOW) as srv:
        for domain, row in ROWS.items():
            ran = _cli(
                srv, "run", "--name", "twin", "flow.py", "ingest", "--row", str(row), domain=domain
            )
            assert ran.returncode != 0 and "malformed" in ran.stderr + ran.stdout
            lr = str(ROWS[domain] / 100)  # not the other's inputs: no cache hit, a run each
            ran = _cli(srv, "run", "--name", "good", "flow.py", "training", "--steps", "5",
                       "--lr", lr, domain=domain)  # fmt: skip
            assert ran.returncode == 0, ran.stderr
        yield srv


def _ids(srv: Server, name: str = "twin") -> dict[str, str]:
    """The id of ``name`` in each domain, as the API opens it with ``?domain=``."""
    out = {}
    for domain in ROWS:
        r = httpx.get(
            f"{srv.url}/api/v1/projects/default/executions/{name}", params={"domain": domain}
        )
        assert r.status_code == 200, r.text
        out[domain] = r.json()["id"]
    bare = httpx.get(f"{srv.url}/api/v1/projects/default/executions/{name}")
    assert bare.status_code == 409, bare.text  # the name alone cannot tell them apart
    return out


def test_the_failures_page_opens_each_twin_in_its_domain(server: Server, page: Any) -> None:  # noqa: F811
    ids = _ids(server)
    pg = page
    for domain in ROWS:
        pg.goto(f"{server.url}/projects/default/failures")
        group = pg.locator("tr.failure-group").first
        group.wait_for()
        group.click()
        rows = pg.locator('table.failure-attempts tr[data-execution="twin"]')
        rows.nth(1).wait_for()
        assert rows.count() == 2
        # the attempt that failed on this domain's row; its link opens its run (main: the
        # bare name, a 409 naming the two ids)
        (row,) = [
            rows.nth(i) for i in range(2) if f"row {ROWS[domain]} " in rows.nth(i).inner_text()
        ]
        shown = row.inner_text()
        row.locator("a").click()
        head = pg.locator(".exec-head")
        head.locator(f'[title="its id across the server"]:has-text("{ids[domain]}")').wait_for()
        assert domain in head.inner_text() and f"domain={domain}" in pg.url
        pg.locator(f"text=row {ROWS[domain]} of /data/part-").first.wait_for()
        assert domain in shown  # the row says which domain its run is in


def test_the_cli_prints_the_domain_that_tells_the_twins_apart(server: Server) -> None:
    ids = _ids(server)
    groups = _cli(server, "failures", "--json")
    assert groups.returncode == 0, groups.stderr
    (group,) = json.loads(groups.stdout)
    drill = _cli(server, "failures", "--signature", group["signature"])
    assert drill.returncode == 0, drill.stderr
    lines = [ln for ln in drill.stdout.splitlines() if "malformed" in ln]
    printed = {"twin (staging)" in ln: ln for ln in lines}
    assert set(printed) == {True, False}, drill.stdout  # one each, the development one bare
    assert "row 17" in printed[True] and "row 3" in printed[False]
    # each as printed opens its run: the bare name in AIRFOIL_DOMAIN, the other in its own
    for domain in ROWS:
        shown = _cli(server, "executions", "show", "twin", "--json", domain=domain)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["execution_id"] == ids[domain]
        remote = _cli(
            server, "executions", "show", "twin", "--server", server.url, "--json", domain=domain
        )
        assert remote.returncode == 0, remote.stderr
        assert json.loads(remote.stdout)["execution_id"] == ids[domain]
        # or named, from any AIRFOIL_DOMAIN (the flag the 409's message names)
        for where in ((), ("--server", server.url)):
            picked = _cli(
                server, "executions", "show", "twin", "--domain", domain, "--json", *where
            )
            assert picked.returncode == 0, picked.stderr
            assert json.loads(picked.stdout)["execution_id"] == ids[domain]
    # task history and log search print the twins apart alike
    bars = _cli(server, "tasks", "stats", "flow.train")
    assert bars.returncode == 0, bars.stderr
    labels = [ln.split(" n0 ")[0] for ln in bars.stdout.splitlines() if ln.startswith("good")]
    assert sorted(labels) == ["good", "good (staging)"], bars.stdout
    found = _cli(server, "logs", "--search", "is malformed")
    assert found.returncode == 0, found.stderr
    lines = [ln for ln in found.stdout.splitlines() if "ValueError: row" in ln]
    assert sorted(ln.split(" n0 ")[0] for ln in lines) == ["twin", "twin (staging)"], found.stdout
    # a staging user reads the development run as the one in another domain
    staged = _cli(server, "failures", "--signature", group["signature"], domain="staging")
    assert "twin (development)" in staged.stdout and "twin (staging)" not in staged.stdout
    remote = _cli(
        server, "failures", "--server", server.url, "--signature", group["signature"], "--json"
    )
    assert remote.returncode == 0, remote.stderr
    assert {(f["execution_domain"], f["execution_id"]) for f in json.loads(remote.stdout)} == {
        (d, ids[d]) for d in ROWS
    }


def test_the_runs_page_links_selects_and_compares_each_twin(server: Server, page: Any) -> None:  # noqa: F811
    """Main: the rows carried no domain, so each ``good`` linked, compared and overlaid the
    bare name (the 409 naming both ids)."""
    ids = _ids(server, "good")
    pg = page
    runs = f"{server.url}/projects/default/runs?workflow=flow.training&metrics=loss"
    row = 'table.runs-table tr[data-execution="good"][data-domain="{}"]'.format
    for domain in ROWS:
        pg.goto(runs)
        pg.locator(row(domain)).wait_for()
        assert pg.locator('table.runs-table tr[data-execution="good"]').count() == 2
        assert domain in pg.locator(row(domain)).inner_text()
        pg.locator(row(domain) + " a").click()
        head = pg.locator(".exec-head")
        head.locator(f'[title="its id across the server"]:has-text("{ids[domain]}")').wait_for()
    # select both: compare them, A and B each the run picked
    pg.goto(runs)
    for domain in ("staging", "development"):
        pg.locator(row(domain) + " input[type=checkbox]").check()
    pg.locator("button.compare-selected").click()
    pg.wait_for_url("**/compare?a=good&domain_a=staging&b=good&domain_b=development")
    lr = pg.locator('table.compare-inputs tr[data-name="lr"]')
    lr.wait_for()
    assert lr.inner_text().split()[1:3] == ["0.17", "0.03"]  # staging's lr, development's
    assert pg.get_attribute('td[data-run="a"]', "data-id") == ids["staging"]
    assert pg.get_attribute('td[data-run="b"]', "data-id") == ids["development"]
    pg.locator('td[data-run="a"] a').click()  # each side links its own run
    pg.locator(
        f'.exec-head [title="its id across the server"]:has-text("{ids["staging"]}")'
    ).wait_for()
    # and overlay their loss curves: two series, no 409
    pg.goto(runs)
    for domain in ROWS:
        pg.locator(row(domain) + " input[type=checkbox]").check()
    pg.locator("button.overlay-selected").click()
    pg.wait_for_url("**/metrics?runs=good,good&domains=development,staging&name=loss")
    chart = pg.locator('.metric-chart[data-metric="loss"]')
    chart.locator("canvas").wait_for()
    assert chart.get_attribute("data-series") == "2"
    # the compare form picks a side's domain too
    pg.goto(f"{server.url}/projects/default/compare")
    pg.fill('input[name="a"]', "good")
    pg.select_option('select[name="domain_a"]', "development")
    pg.fill('input[name="b"]', "good")
    pg.select_option('select[name="domain_b"]', "staging")
    pg.locator('form button[type="submit"]').click()
    pg.locator(f'td[data-run="b"][data-id="{ids["staging"]}"]').wait_for()
    assert pg.get_attribute('td[data-run="a"]', "data-id") == ids["development"]


def test_the_cli_lists_and_compares_each_twin(server: Server) -> None:
    """``airfoil runs`` prints the staging run as ``good (staging)``; ``compare`` and ``logs``
    take each one by ``--domain`` (``--domain-a``/``--domain-b``), locally and remotely."""
    ids = _ids(server, "good")
    for where in ((), ("--server", server.url)):
        table = _cli(server, "runs", "flow.training", *where)
        assert table.returncode == 0, table.stderr
        labels = sorted(
            "good (staging)" if "(staging)" in ln else ln.split()[0]
            for ln in table.stdout.splitlines()
            if ln.strip().startswith("good")
        )
        assert labels == ["good", "good (staging)"], table.stdout
        c = _cli(server, "compare", "good", "good", "--domain-a", "staging", "--json", *where)
        assert c.returncode == 0, c.stderr
        both = json.loads(c.stdout)
        assert (both["a"], both["b"]) == (ids["staging"], ids["development"])
        assert (both["domain_a"], both["domain_b"]) == ("staging", "development")
        for domain in ROWS:
            logs = _cli(server, "logs", "twin", "--domain", domain, *where)
            assert logs.returncode == 0, logs.stderr
            assert f"row {ROWS[domain]} " in logs.stdout
            assert f"row {ROWS[next(d for d in ROWS if d != domain)]} " not in logs.stdout


def test_a_launch_from_the_console_opens_the_run_it_made(server: Server, page: Any) -> None:  # noqa: F811
    """The launch form (and Relaunch) open the new run by its name and domain: a name used
    in another domain too was the 409 on main (the page navigated to the bare name)."""
    api = f"{server.url}/api/v1/projects/default"
    registered = _cli(server, "register", "flow.py", "--server", server.url)
    assert registered.returncode == 0, registered.stderr
    first = httpx.post(
        f"{api}/domains/development/executions",
        json={"entity": "flow.training", "inputs": {"steps": 3, "lr": 0.5}, "name": "again"},
    )
    assert first.status_code == 201, first.text
    pg = page
    pg.goto(f"{server.url}/projects/default/entities/flow.training")
    pg.wait_for_selector("form.launch")
    pg.select_option('form.launch select[name="domain"]', "staging")
    pg.fill('form.launch input[name="execution-name"]', "again")
    pg.get_by_role("button", name="Launch").click()
    pg.wait_for_url("**/executions/again?domain=staging")
    staged = httpx.get(f"{api}/executions/again", params={"domain": "staging"}).json()["id"]
    pg.locator(f'.exec-head [title="its id across the server"]:has-text("{staged}")').wait_for()


def test_the_cluster_page_opens_each_running_attempt_in_its_project_and_domain(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    """A node of the cluster page lists what runs there; each links its run as the queue and
    the Runs page do: under the run's own project, by name with its domain. Main linked the
    global id under the page's project: another project's run (beta's ``twin``) was a 404
    there, and the twins' links did not say which one they were."""
    from airfoil.core.cluster import ClusterNode
    from airfoil.core.resources import ResourceSpec
    from airfoil.store._open import open_meta_store
    from airfoil.store._scheduling import NodeUsage, QueuedItem, QueueSnapshot

    ids = {("default", d): eid for d, eid in _ids(server).items()}
    beta = _cli(server, "run", "--name", "twin", "flow.py", "ingest", "--row", "5",
                domain="staging", env={"AIRFOIL_PROJECT": "beta"})  # fmt: skip
    assert "twin" in beta.stdout + beta.stderr
    r = httpx.get(f"{server.url}/api/v1/projects/beta/executions/twin")
    assert r.status_code == 200, r.text
    ids["beta", "staging"] = r.json()["id"]
    items = tuple(
        QueuedItem(
            execution_id=eid,
            node_id="n0",
            project=project,
            task="flow.read_rows",
            requests=ResourceSpec(cpu=1.0),
            state="running",
            submit_time=float(k),
            placement=("f00dcafe0009",),
        )
        for k, ((project, _), eid) in enumerate(sorted(ids.items()))
    )
    node = ClusterNode("f00dcafe0009", "10.0.0.9", capacity=ResourceSpec(cpu=8.0))
    owner = "ray-driver-host:4242:domains"  # another host's process: never taken for dead
    snap = QueueSnapshot(
        owner, 3.0, "airfoil", ResourceSpec(cpu=8.0), items,
        (NodeUsage(node, ResourceSpec(cpu=3.0), tuple(f"{i.execution_id}/n0" for i in items)),),
    )  # fmt: skip
    meta = open_meta_store(None, str(server.home))
    meta.put_queue_snapshot(snap)
    try:
        pg = page
        for (project, domain), eid in sorted(ids.items()):
            pg.goto(f"{server.url}/projects/default/cluster")
            refs = pg.locator('tr[data-node="f00dcafe0009"] .running-ref')
            refs.nth(2).wait_for()
            assert refs.count() == 3
            ref = pg.locator(
                f'tr[data-node="f00dcafe0009"] .running-ref[data-project="{project}"]'
                f'[data-domain="{domain}"]'
            )
            assert ref.inner_text().startswith("twin/n0"), ref.inner_text()
            href = ref.locator("a").get_attribute("href")
            assert href == f"/projects/{project}/executions/twin?node=n0&domain={domain}", href
            ref.locator("a").click()
            head = pg.locator(".exec-head")
            head.locator(f'[title="its id across the server"]:has-text("{eid}")').wait_for()
            assert f"/projects/{project}/" in pg.url and domain in head.inner_text()
    finally:
        meta.delete_queue_snapshot(owner)
        meta.close()
