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

import contextlib
import json
import time
from typing import Any

import httpx
import pytest
from test_tenancy import Keyed, keyed  # noqa: F401 (its server, on SQLite and PostgreSQL)

from airfoil.core.errors import ConflictError, NotFoundError
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
    # published naming its run: by name and domain (main: no execution_domain; the bare
    # name is the 409 that says how to pick one)
    with twins.keyed.client("alpha_runner", "alpha") as c:
        arts = c.artifacts()
        by_name = arts.publish(
            "twin-model-2", b"m2", execution_id="twin-ok", execution_domain="staging"
        )
        assert by_name.version.execution_id == staged
        with pytest.raises(ConflictError, match="execution_domain"):
            arts.publish("twin-model-3", b"m3", execution_id="twin-ok")
        with pytest.raises(NotFoundError, match="production"):
            arts.publish(
                "twin-model-3", b"m3", execution_id="twin-ok", execution_domain="production"
            )


def test_cache_entries_open_the_run_that_wrote_them(twins: Twins) -> None:
    entries = twins.get("/projects/alpha/cache").json()["items"]
    mine = [e for e in entries if e["execution_name"] == "twin-ok"]
    assert {e["execution_domain"] for e in mine} == set(DOMAINS)
    for e in mine:
        assert twins.opened(e["execution_name"], e["execution_domain"]) == e["execution_id"]
    assert not twins.others() & {e["execution_id"] for e in entries}


# --- what takes a run: the experiment table, compare, and the remote commands -------------


def test_the_experiment_table_opens_each_row_in_its_domain(twins: Twins) -> None:
    """Each row carries its domain (main: none, so the console linked, selected and compared
    the bare name, the 409); ``?domain=`` lists one domain's runs; beta's never shows."""
    table = twins.get("/projects/alpha/workflows/flow.broken/runs").json()
    rows = {(r["id"], r["domain"]): r for r in table["rows"]}
    assert set(rows) == {("twin", d) for d in DOMAINS}, table["rows"]
    for (name, domain), row in rows.items():
        assert twins.opened(name, domain) == twins.ids["alpha", name, domain]
        assert row["input_values"]["x"] == 21 + DOMAINS.index(domain)  # that run's own
    staged = twins.get("/projects/alpha/workflows/flow.broken/runs", domain="staging").json()
    assert [(r["id"], r["domain"]) for r in staged["rows"]] == [("twin", "staging")]
    assert staged["total"] == 1
    bad = twins.get("/projects/alpha/workflows/flow.broken/runs", domain="nowhere")
    assert bad.status_code == 422 and "unknown domain 'nowhere'" in bad.text


def test_compare_takes_each_sides_domain(twins: Twins) -> None:
    ids = twins.ids
    c = twins.get(
        "/projects/alpha/compare",
        a="twin-ok",
        domain_a="staging",
        b="twin-ok",
        domain_b="development",
    )
    assert c.status_code == 200, c.text
    body = c.json()
    assert (body["a"], body["b"]) == (
        ids["alpha", "twin-ok", "staging"],
        ids["alpha", "twin-ok", "development"],
    )
    assert (body["name_a"], body["domain_a"]) == ("twin-ok", "staging")
    assert (body["name_b"], body["domain_b"]) == ("twin-ok", "development")
    (x,) = [v for v in body["inputs"] if v["name"] == "x"]
    assert (x["a"], x["b"]) == ("22", "21")  # each side is the run asked for
    # one side named bare: the 409 says which parameter picks it
    bare = twins.get("/projects/alpha/compare", a="twin-ok", domain_a="staging", b="twin-ok")
    assert bare.status_code == 409 and "?domain_b=" in bare.text, bare.text
    # beta's twin, by its id, is not alpha's to compare (as one that does not exist)
    beta = twins.get(
        "/projects/alpha/compare",
        a=ids["beta", "twin", "development"],
        b="twin",
        domain_b="staging",
    )
    assert beta.status_code == 404, beta.text
    wrong = twins.get("/projects/alpha/compare", a="twin", domain_a="production", b="twin-ok")
    assert wrong.status_code == 404 and "production" in wrong.text


def _cli(twins: Twins, *args: str, domain: str = "development", who: str = "alpha_runner") -> str:
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    env = {
        "AIRFOIL_SERVER_URL": twins.keyed.running.url,
        "AIRFOIL_API_KEY": twins.keyed.keys[who],
        "AIRFOIL_PROJECT": "alpha",
        "AIRFOIL_DOMAIN": domain,
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, (args, result.output)
    return result.output


def test_the_remote_commands_read_the_run_in_the_domain_asked(twins: Twins) -> None:
    """``runs``, ``compare``, ``logs`` and ``cache explain`` with ``--remote``: a name the
    project uses in two domains is the one in ``--domain`` (or in ``AIRFOIL_DOMAIN``), never
    the 409 (main: the bare name; no --domain option)."""
    ids = twins.ids
    table = _cli(twins, "runs", "flow.wf", "--remote")
    rows = [ln.strip() for ln in table.splitlines() if ln.strip().startswith("twin-ok")]
    labels = sorted("twin-ok (staging)" if "(staging)" in ln else ln.split()[0] for ln in rows)
    assert labels == ["twin-ok", "twin-ok (staging)"], table
    for domain in DOMAINS:
        x = 21 + DOMAINS.index(domain)
        for where in (("--domain", domain), ()):
            home = "staging" if where else domain  # --domain wins over AIRFOIL_DOMAIN
            printed = _cli(twins, "logs", "twin-ok", "n0", "--remote", *where, domain=home)
            assert f"doubling {x}" in printed and f"doubling {43 - x}" not in printed
            why = json.loads(
                _cli(
                    twins,
                    "cache",
                    "explain",
                    "twin-ok",
                    "n2",
                    "--remote",
                    "--json",
                    *where,
                    domain=home,
                )
            )
            assert why["execution_id"] == ids["alpha", "twin-ok", domain]
    # compare: A named in staging, B bare (the one in AIRFOIL_DOMAIN)
    c = json.loads(
        _cli(twins, "compare", "twin-ok", "twin-ok", "--remote", "--domain-a", "staging", "--json")
    )
    assert (c["a"], c["b"]) == (
        ids["alpha", "twin-ok", "staging"],
        ids["alpha", "twin-ok", "development"],
    )
    printed = _cli(twins, "compare", "twin-ok", "twin-ok", "--remote", "--domain-b", "staging")
    assert "A twin-ok (flow.wf" in printed and "B twin-ok (staging) (flow.wf" in printed


def _launch_pair(twins: Twins, entity: Any, name: str, inputs: dict[str, Any]) -> dict[str, str]:
    """``name`` launched in development and staging of alpha, and in beta's development:
    ids by domain (beta's as ``beta``)."""
    out = {}
    with twins.keyed.client("alpha_runner", "alpha") as c:
        c.register([entity])
        for domain in DOMAINS:
            out[domain] = c.launch(entity, inputs, name=name, domain=domain).id
    with twins.keyed.client("beta_runner", "beta") as c:
        c.register([entity])
        out["beta"] = c.launch(entity, inputs, name=name).id
    return out


def _phase(twins: Twins, project: str, eid: str) -> str:
    who = "alpha_viewer" if project == "alpha" else "beta_runner"
    r = twins.keyed.get(who, f"/api/v1/projects/{project}/executions/{eid}")
    return str(r.json()["phase"])


def test_terminate_stops_the_run_in_the_domain_asked_only(twins: Twins, flow: Any) -> None:
    ids = _launch_pair(twins, flow.sleepy, "nap", {"seconds": 120.0})
    try:
        said = _cli(twins, "executions", "abort", "nap", "--remote", "--domain", "staging")
        assert "nap (staging)" in said, said
        with twins.keyed.client("alpha_viewer", "alpha") as c:
            assert c.wait(ids["staging"], timeout=60).phase == "aborted"
        assert _phase(twins, "alpha", ids["development"]) in ("queued", "running")
        assert _phase(twins, "beta", ids["beta"]) in ("queued", "running")
        # the bare name: the run in AIRFOIL_DOMAIN (main: the 409 naming both ids)
        said = _cli(twins, "executions", "abort", "nap", "--remote")
        assert "execution nap: " in said, said
        with twins.keyed.client("alpha_viewer", "alpha") as c:
            assert c.wait(ids["development"], timeout=60).phase == "aborted"
        assert _phase(twins, "beta", ids["beta"]) in ("queued", "running")  # never alpha's
    finally:
        with twins.keyed.client("beta_runner", "beta") as c:
            c.terminate(ids["beta"])
        with twins.keyed.client("alpha_runner", "alpha") as c:
            for domain in DOMAINS:
                with contextlib.suppress(Exception):
                    c.terminate("nap", domain=domain)


def test_a_signal_answers_the_gate_of_the_run_in_the_domain_asked(twins: Twins, flow: Any) -> None:
    ids = _launch_pair(twins, flow.gated, "gate-twin", {"x": 5})
    try:
        for domain in DOMAINS:  # both wait for their threshold
            _until(lambda d=domain: _gates(twins, ids[d]).get("threshold") == "running")
        said = _cli(
            twins, "signal", "gate-twin", "threshold", "2.5", "--remote", "--domain", "staging"
        )
        assert "gate-twin (staging)" in said, said
        _until(lambda: _gates(twins, ids["staging"])["threshold"] == "succeeded")
        assert _gates(twins, ids["development"])["threshold"] == "running"
        # the bare name: the run in AIRFOIL_DOMAIN (main: the 409 naming both ids)
        _cli(twins, "signal", "gate-twin", "threshold", "0.5", "--remote")
        _until(lambda: _gates(twins, ids["development"])["threshold"] == "succeeded")
        assert _gates(twins, ids["beta"], "beta")["threshold"] == "running"  # never alpha's
    finally:
        with twins.keyed.client("alpha_runner", "alpha") as c:
            for domain in DOMAINS:
                with contextlib.suppress(Exception):
                    c.terminate(ids[domain])
        with twins.keyed.client("beta_runner", "beta") as c, contextlib.suppress(Exception):
            c.terminate(ids["beta"])


def _gates(twins: Twins, eid: str, project: str = "alpha") -> dict[str, str]:
    """The phase of each gate of an execution, by the gate's name."""
    who, base = f"{project}_{'viewer' if project == 'alpha' else 'runner'}", "/api/v1/projects"
    graph = twins.keyed.get(who, f"{base}/{project}/executions/{eid}/graph").json()
    names = {n["id"]: n["gate"]["name"] for n in graph["nodes"] if n.get("gate")}
    nodes = twins.keyed.get(who, f"{base}/{project}/executions/{eid}").json()["nodes"]
    return {names[n["id"]]: n["phase"] for n in nodes if n["id"] in names}


def _until(ok: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def test_the_client_takes_each_twin_by_name_and_domain(twins: Twins, flow: Any) -> None:
    """Every ``Client`` call that takes an execution takes ``domain=`` (main: only ``get``;
    the rest sent the bare name, the 409)."""
    with twins.keyed.client("alpha_runner", "alpha") as c:
        for domain in DOMAINS:
            eid = twins.ids["alpha", "twin-ok", domain]
            x = 21 + DOMAINS.index(domain)
            assert c.wait("twin-ok", domain=domain, timeout=30).id == eid
            assert c.raw_outputs("twin-ok", domain=domain).execution_id == eid
            assert c.outputs("twin-ok", flow.wf, domain=domain) == 4 * x
            assert c.metrics("twin-ok", domain=domain).execution_id == eid
            assert c.anomalies("twin-ok", domain=domain).execution_id == eid
            assert c.logs("twin-ok", "n0", domain=domain).text.strip().endswith(f"doubling {x}")
            assert c.cache_explanation("twin-ok", "n2", domain=domain).execution_id == eid
            events = list(c.watch("twin-ok", domain=domain))  # the bare name: the 409
            assert ("execution", "succeeded") in {(e.kind, e.to_phase) for e in events}
        with pytest.raises(ConflictError, match="several domains"):
            c.raw_outputs("twin-ok")
        with pytest.raises(NotFoundError):  # beta's twin, by name or id, is not alpha's
            c.raw_outputs(twins.ids["beta", "twin", "development"], domain="development")


def test_relaunch_repeats_the_run_in_the_domain_asked(twins: Twins) -> None:
    """``executions relaunch NAME --remote --domain staging`` repeats staging's run, in
    staging, with its inputs (main: no --domain; the bare name was the 409)."""
    out = json.loads(
        _cli(
            twins, "executions", "relaunch", "twin-ok", "--remote", "--domain", "staging", "--json"
        )
    )
    again = twins.get(f"/projects/alpha/executions/{out['execution_id']}").json()
    assert again["domain"] == "staging" and out["phase"] == "succeeded"
    assert again["labels"]["relaunch_of"] == twins.ids["alpha", "twin-ok", "staging"]
    assert out["outputs"] == {"o0": 4 * 22}  # staging's x


def _listed(twins: Twins, *args: str) -> dict[str, str]:
    """``executions list --remote`` (filtered by ``args``): each row's phase by the
    execution it prints."""
    table = _cli(twins, "executions", "list", "--remote", "--limit", "1000", *args)
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in table.splitlines() if "│" in ln]
    return {r[0]: r[2] for r in rows if r and r[0]}  # (the header's bars are ┃)


def _addressed(printed: str) -> list[str]:
    """The arguments that name the run ``executions list`` printed as ``printed``."""
    name, _, domain = printed.partition(" (")
    return [name, "--domain", domain.rstrip(")")] if domain else [name]


def test_the_remote_list_prints_what_the_other_commands_take(twins: Twins, flow: Any) -> None:
    """``executions list --remote`` prints a run as the local list and the other commands
    print and take it: its name, with ``(domain)`` outside AIRFOIL_DOMAIN; ``show``, ``logs``
    and ``abort`` given what it printed (with ``--domain``) act on that very run (main: it
    printed global ids, and each twin's name was nowhere)."""
    ids = twins.ids
    listed = _listed(twins)
    assert {"twin-ok", "twin-ok (staging)", "twin", "twin (staging)"} <= set(listed), listed
    assert not set(ids.values()) & set(listed), listed  # names, not global ids
    for domain in DOMAINS:
        printed = "twin-ok" if domain == "development" else f"twin-ok ({domain})"
        shown = json.loads(
            _cli(twins, "executions", "show", *_addressed(printed), "--remote", "--json")
        )
        assert shown["execution_id"] == ids["alpha", "twin-ok", domain]
        # the JSON says where the run is (main: no domain, so same-named runs looked alike)
        assert (shown["project"], shown["domain"]) == ("alpha", domain)
        x = 21 + DOMAINS.index(domain)
        logs = _cli(twins, "logs", *_addressed(printed), "n0", "--remote")
        assert f"doubling {x}" in logs and f"doubling {43 - x}" not in logs
    # the other way round: from staging, development's run is the one with the domain
    home = _cli(twins, "executions", "list", "--remote", domain="staging")
    as_json = json.loads(_cli(twins, "executions", "list", "--remote", "--json"))
    twin_ok = {(e["domain"], e["project"]) for e in as_json if e["name"] == "twin-ok"}
    assert twin_ok == {(d, "alpha") for d in DOMAINS}, twin_ok
    assert "twin-ok (development)" in home and "twin-ok (staging)" not in home
    naps = _launch_pair(twins, flow.sleepy, "nap-listed", {"seconds": 120.0})
    try:
        running = {k: v for k, v in _listed(twins, "--workflow", "flow.sleepy").items()
                   if k.startswith("nap-listed")}  # fmt: skip
        assert set(running) == {"nap-listed", "nap-listed (staging)"}, running
        said = _cli(twins, "executions", "abort", *_addressed("nap-listed (staging)"), "--remote")
        assert "nap-listed (staging)" in said, said
        with twins.keyed.client("alpha_viewer", "alpha") as c:
            assert c.wait(naps["staging"], timeout=60).phase == "aborted"
        assert _phase(twins, "alpha", naps["development"]) in ("queued", "running")
        _cli(twins, "executions", "abort", *_addressed("nap-listed"), "--remote")
        with twins.keyed.client("alpha_viewer", "alpha") as c:
            assert c.wait(naps["development"], timeout=60).phase == "aborted"
    finally:
        with twins.keyed.client("beta_runner", "beta") as c:
            c.terminate(naps["beta"])
        with twins.keyed.client("alpha_runner", "alpha") as c:
            for domain in DOMAINS:
                with contextlib.suppress(Exception):
                    c.terminate(naps[domain])


def test_logs_follow_reads_the_run_in_the_domain_asked(twins: Twins, flow: Any) -> None:
    """``logs NAME -f --remote --domain staging`` follows staging's run while it runs, to
    its end, and never development's of the same name (waiting at its gate meanwhile)."""
    import threading

    ids = {}
    with twins.keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.gated])
        for x, domain in enumerate(DOMAINS, start=31):
            ids[domain] = c.launch(flow.gated, {"x": x}, name="follow-twin", domain=domain).id
    try:
        for domain in DOMAINS:
            _until(lambda d=domain: _gates(twins, ids[d]).get("threshold") == "running")
        printed: list[str] = []
        following = threading.Thread(
            target=lambda: printed.append(
                _cli(twins, "logs", "follow-twin", "-f", "--remote", "--domain", "staging")
            )
        )
        following.start()
        time.sleep(1.0)  # following a running run
        assert following.is_alive() and not printed
        with twins.keyed.client("alpha_runner", "alpha") as c:
            c.signal("follow-twin", "threshold", 1.0, domain="staging")
            _until(lambda: _gates(twins, ids["staging"]).get("ship") == "running")
            c.signal("follow-twin", "ship", True, domain="staging")
        following.join(60)
        assert not following.is_alive(), "still following an ended run"
        (out,) = printed
        assert "doubling 32" in out and "doubling 31" not in out, out
        assert out.rstrip().endswith("execution follow-twin (staging) succeeded"), out
        assert _phase(twins, "alpha", ids["development"]) == "running"
    finally:
        with twins.keyed.client("alpha_runner", "alpha") as c:
            for domain in DOMAINS:
                with contextlib.suppress(Exception):
                    c.terminate(ids[domain])


def test_recover_repeats_the_failure_in_the_domain_asked(
    twins: Twins, flow: Any, tmp_path: Any
) -> None:
    """``executions recover NAME --remote --domain staging`` runs staging's failed run again
    from its failure, in staging (its succeeded node reused); development's run of the same
    name is left as it was."""
    flags = {d: tmp_path / f"flag-{d}" for d in DOMAINS}
    ids = {}
    with twins.keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.flaky])
        for domain in DOMAINS:
            inputs = {"path": str(flags[domain]), "x": 4}
            ids[domain] = c.launch(flow.flaky, inputs, name="flaky-twin", domain=domain).id
        for domain in DOMAINS:
            assert c.wait(ids[domain], timeout=120).phase == "failed"
    flags["staging"].write_text("ok")
    out = json.loads(
        _cli(twins, "executions", "recover", "flaky-twin", "--remote", "--domain", "staging",
             "--json")
    )  # fmt: skip
    assert out["phase"] == "succeeded" and out["outputs"] == {"o0": 9}, out
    again = twins.get(f"/projects/alpha/executions/{out['execution_id']}").json()
    assert again["domain"] == "staging"
    assert again["labels"]["recovered_from"] == ids["staging"]
    assert _phase(twins, "alpha", ids["development"]) == "failed"
    from_dev = twins.get("/projects/alpha/executions", domain="development").json()["items"]
    assert not any(
        e["labels"].get("recovered_from") == ids["development"] for e in from_dev
    )  # development's run was not recovered
