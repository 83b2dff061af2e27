"""A name used in two domains of one project, read where the run is named by its global id.

Names are unique per project and domain, so alpha may run ``twin`` in development and in
staging, and the bare name is then a 409 naming the ids. Each answer that names a run by its
name (failures and failure groups, task history, log search, the cluster's queue, a model's
lineage, cache entries) carries the run's domain beside the name, and the name with
``?domain=`` opens, under the project's path, the very run the answer was about (main: no
domain, so the link could not tell the two ``twin`` runs apart). beta's own ``twin`` is never
named to alpha.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_tenancy import Keyed, keyed  # noqa: F401 (its server, on SQLite and PostgreSQL)

from airfoil.core.resources import ResourceSpec
from airfoil.store._scheduling import QueuedItem, QueueSnapshot

pytestmark = pytest.mark.integration

DOMAINS = ("development", "staging")


class Twins:
    """Ids of the runs: alpha runs ``twin`` (a failing workflow) and ``twin-ok`` (a succeeding
    one) in development and staging, and beta runs its own ``twin``."""

    def __init__(self, server: Keyed) -> None:
        self.keyed = server
        self.running = server.running
        #: ids by (project, name, domain)
        self.ids: dict[tuple[str, str, str], str] = {}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.keyed.get("alpha_viewer", "/api/v1" + path, params=params)

    def opened(self, name: str, domain: str) -> str:
        """The id of the run alpha's path opens for ``name`` in ``domain``."""
        r = self.get(f"/projects/alpha/executions/{name}", domain=domain)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def others(self) -> set[str]:
        return {eid for (project, _, _), eid in self.ids.items() if project != "alpha"}


@pytest.fixture(scope="module")
def twins(keyed: Keyed, flow: Any) -> Twins:  # noqa: F811
    t = Twins(keyed)
    with keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.wf, flow.broken])
        for x, domain in enumerate(DOMAINS, start=21):
            for name, entity in (("twin", flow.broken), ("twin-ok", flow.wf)):
                ex = c.launch(entity, {"x": x}, name=name, domain=domain)
                t.ids["alpha", name, domain] = ex.id
        for (_, name, _), eid in t.ids.items():
            want = "failed" if name == "twin" else "succeeded"
            assert c.wait(eid, timeout=120).phase == want
    with keyed.client("beta_runner", "beta") as c:
        c.register([flow.wf, flow.broken])
        ex = c.launch(flow.broken, {"x": 21}, name="twin")
        t.ids["beta", "twin", "development"] = ex.id
        assert c.wait(ex.id, timeout=120).phase == "failed"
    # the gap closed here: the bare name cannot tell the two runs apart
    both = t.get("/projects/alpha/executions/twin")
    assert both.status_code == 409 and "several domains" in both.text
    return t


def test_failures_and_their_groups_open_the_run_in_its_domain(twins: Twins) -> None:
    groups = twins.get("/projects/alpha/failures").json()["items"]
    (group,) = [g for g in groups if g["pattern"] == "bad x <n>"]
    example = group["example"]
    assert example["execution_name"] == "twin"
    assert example["execution_domain"] in DOMAINS
    assert twins.opened("twin", example["execution_domain"]) == example["execution_id"]
    drill = twins.get(f"/projects/alpha/failures/{group['signature']}").json()["items"]
    shown = {(f["execution_name"], f["execution_domain"]): f["execution_id"] for f in drill}
    assert shown == {("twin", d): twins.ids["alpha", "twin", d] for d in DOMAINS}
    for (name, domain), eid in shown.items():
        assert twins.opened(name, domain) == eid
    assert not twins.others() & {f["execution_id"] for f in drill}


def test_task_history_opens_each_run_in_its_domain(twins: Twins, flow: Any) -> None:
    task = flow.double.spec.name
    runs = twins.get(f"/projects/alpha/tasks/{task}/stats").json()["runs"]
    assert {(r["name"], r["domain"]) for r in runs} == {("twin-ok", d) for d in DOMAINS}
    for r in runs:
        assert twins.opened(r["name"], r["domain"]) == r["execution_id"]
        assert r["execution_id"] == twins.ids["alpha", "twin-ok", r["domain"]]


def test_log_search_opens_the_run_that_logged_the_line(twins: Twins) -> None:
    found = twins.get("/projects/alpha/logs/search", text="doubling").json()["matches"]
    assert {(m["name"], m["domain"]) for m in found} == {("twin-ok", d) for d in DOMAINS}
    for m in found:
        eid = twins.opened(m["name"], m["domain"])
        assert eid == m["execution_id"]
        # the line is the one that run printed (x=21 in development, 22 in staging)
        x = 21 + DOMAINS.index(m["domain"])
        assert m["line"].strip() == f"doubling {x}", m


def test_the_queue_opens_each_attempt_in_its_domain(twins: Twins) -> None:
    """Queued and running attempts as a driver's snapshot reports them (a remote replica's,
    so it is not taken for a dead local process); beta's is counted, not named."""
    items = [
        QueuedItem(
            execution_id=twins.ids[project, name, domain],
            node_id="n0",
            project=project,
            task="flow.double",
            requests=ResourceSpec(cpu=1.0),
            state=state,
            submit_time=100.0,
            reason="no room" if state == "waiting" else "",
        )
        for project, name, domain, state in (
            ("alpha", "twin-ok", "development", "running"),
            ("alpha", "twin-ok", "staging", "waiting"),
            ("beta", "twin", "development", "waiting"),
        )
    ]
    snap = QueueSnapshot("replica-z:9:q", 1.0, "airfoil", ResourceSpec(cpu=4.0), tuple(items), ())
    meta = twins.running.deps.meta
    meta.put_queue_snapshot(snap)
    try:
        body = twins.get("/cluster").json()
    finally:
        meta.delete_queue_snapshot(snap.owner)
    queue = [q for q in body["queue"] if q["owner"] == snap.owner]
    assert {(q["execution_name"], q["execution_domain"], q["state"]) for q in queue} == {
        ("twin-ok", "development", "running"),
        ("twin-ok", "staging", "waiting"),
    }
    for q in queue:
        assert twins.opened(q["execution_name"], q["execution_domain"]) == q["execution_id"]
    assert body["hidden"] >= 1 and not twins.others() & {q["execution_id"] for q in queue}


def test_a_models_lineage_opens_its_training_run_in_its_domain(twins: Twins) -> None:
    staged = twins.ids["alpha", "twin-ok", "staging"]
    with twins.keyed.client("alpha_runner", "alpha") as c:
        published = c.artifacts().publish("twin-model", b"m", kind="model", execution_id=staged)
    v = published.version
    assert (v.execution_name, v.execution_domain) == ("twin-ok", "staging")
    detail = twins.get("/projects/alpha/artifacts/twin-model").json()
    (listed,) = detail["versions"]
    assert (listed["execution_name"], listed["execution_domain"]) == ("twin-ok", "staging")
    assert twins.opened(listed["execution_name"], listed["execution_domain"]) == staged


def test_cache_entries_open_the_run_that_wrote_them(twins: Twins) -> None:
    entries = twins.get("/projects/alpha/cache").json()["items"]
    mine = [e for e in entries if e["execution_name"] == "twin-ok"]
    assert {e["execution_domain"] for e in mine} == set(DOMAINS)
    for e in mine:
        assert twins.opened(e["execution_name"], e["execution_domain"]) == e["execution_id"]
    assert not twins.others() & {e["execution_id"] for e in entries}
