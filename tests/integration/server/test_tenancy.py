"""Tenants and secrets, tested as an adversarial tenant would: a secret put in an exception and
printed is read back through every endpoint (generated from the OpenAPI spec) with a viewer key,
through ``airfoil logs --remote``, and from every database row and stored blob; another
project's executions, packages and uploads named by id or hash."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _srv import SECRETS_KEY, Running, server_on, start_server

pytestmark = pytest.mark.integration

SECRET = "tok-" + uuid.uuid4().hex  # a value no page, row or file may hold


class Keyed:
    """A server with keys: runner and viewer of alpha, runner of beta, a global admin."""

    def __init__(self, running: Running) -> None:
        self.running = running
        reg = running.deps.registry
        self.keys = {
            "alpha_runner": reg.create_key("alpha", "runner")[1],
            "alpha_viewer": reg.create_key("alpha", "viewer")[1],
            "beta_runner": reg.create_key("beta", "runner")[1],
            "beta_viewer": reg.create_key("beta", "viewer")[1],
            "global": reg.create_key("*", "admin")[1],
        }

    def client(self, who: str, project: str) -> Any:
        from airfoil.client import Client

        return Client(self.running.url, self.keys[who], project=project)

    def get(self, who: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.get(self.running.url + path, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Keyed]:
    home = tmp_path_factory.mktemp(f"tenancy-{request.param}")
    pg = request.getfixturevalue("pg_schema_factory") if request.param == "postgres" else None
    with server_on(request.param, home, pg) as running:
        yield Keyed(running)


@pytest.fixture(scope="module")
def leaked(keyed: Keyed, flow: Any) -> tuple[str, str]:
    """A failed execution of alpha whose task printed the context and the secret and raised an
    error holding both; and a succeeded execution of beta. Returns their ids."""
    from airfoil.server._secrets import SecretBox

    SecretBox(keyed.running.deps.registry, SECRETS_KEY).set("alpha", "token", SECRET)
    with keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.leaky_wf, flow.wf])
        ex = c.launch(flow.leaky_wf, {"x": 7})
        detail = c.wait(ex.id, timeout=120)
    assert detail.phase == "failed"
    with keyed.client("beta_runner", "beta") as c:
        c.register([flow.wf])
        other = c.launch(flow.wf, {"x": 2})
        assert c.wait(other.id, timeout=120).phase == "succeeded"
    return ex.id, other.id


def _openapi(keyed: Keyed) -> dict[str, Any]:
    # 60 s: a wait (the first request builds the schema: past httpx's 5 s on a loaded machine)
    spec: dict[str, Any] = httpx.get(keyed.running.url + "/openapi.json", timeout=60).json()
    return spec


def _get_paths(keyed: Keyed) -> list[str]:
    return sorted(
        p for p, ops in _openapi(keyed)["paths"].items() if "get" in ops and "{project}" in p
    )


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_the_task_really_saw_and_printed_the_secret(keyed: Keyed, leaked: tuple[str, str]) -> None:
    ex, _ = leaked
    r = keyed.get("alpha_viewer", f"/api/v1/projects/alpha/executions/{ex}/nodes/n0/logs")
    text = r.json()["text"]
    # The lines are there, the value is not: printed, logged, in the traceback.
    assert "context: ExecutionContext(" in text and "'token': '***'" in text, text
    assert "explicit: ***" in text and "logged ***" in text, text
    assert "on stderr: ***" in text and "on fd 2: ***" in text, text  # the worker's stderr
    assert "RuntimeError: failed in ExecutionContext(" in text and "token='***'" in text, text
    assert SECRET not in text


def test_no_endpoint_shows_the_secret_to_a_viewer(keyed: Keyed, leaked: tuple[str, str]) -> None:
    """Every GET route of the spec (the console reads the same API), for the failed execution
    and its node, as alpha's viewer: none shows the value; the error is there, redacted."""
    ex, _ = leaked
    values = {
        "project": "alpha",
        "domain": "development",
        "execution_id": ex,
        "node_id": "n0",
        "name": "flow.leaky_wf",
        "task": "flow.leaky_wf",
        "version": "x",
        "value_hash": "0" * 64,
    }
    # the failure group the leaky attempt made (issue 15): its drill-down is read too
    groups = keyed.get("alpha_viewer", "/api/v1/projects/alpha/failures").json()["items"]
    assert groups and "***" in groups[0]["example"]["message"]
    values["signature"] = groups[0]["signature"]
    seen = 0
    for path in _get_paths(keyed):
        url = _fill(path, values)
        r = keyed.get("alpha_viewer", url)
        assert r.status_code < 500, (url, r.text[:300])
        assert SECRET not in r.text, url
        seen += r.status_code == 200
    assert seen >= 10
    detail = keyed.get("alpha_viewer", f"/api/v1/projects/alpha/executions/{ex}").json()
    assert "token=" in detail["error"]["message"] and "'***'" in detail["error"]["message"]
    listing = keyed.get("alpha_viewer", "/api/v1/projects/alpha/executions").text
    assert ex in listing and SECRET not in listing
    node = keyed.get("alpha_viewer", f"/api/v1/projects/alpha/executions/{ex}/nodes/n0").json()
    assert "***" in node["error"]["message"] and SECRET not in node["error"]["traceback"]


def test_the_cli_shows_no_secret(keyed: Keyed, leaked: tuple[str, str]) -> None:
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    ex, _ = leaked
    env = {
        "AIRFOIL_SERVER_URL": keyed.running.url,
        "AIRFOIL_API_KEY": keyed.keys["alpha_viewer"],
        "AIRFOIL_PROJECT": "alpha",
    }
    for args in (
        ["logs", ex, "--remote", "--project", "alpha"],
        ["executions", "show", ex, "--remote", "--project", "alpha"],
        ["executions", "list", "--remote", "--project", "alpha"],
    ):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert SECRET not in result.output, args
    result = CliRunner().invoke(app, ["logs", ex, "--remote", "--project", "alpha"], env=env)
    assert "explicit: ***" in result.output


def test_no_database_row_or_stored_file_holds_the_secret(
    keyed: Keyed, leaked: tuple[str, str]
) -> None:
    engine = keyed.running.deps.registry.engine
    rows = 0
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                rows += 1
                text = repr(tuple(row))
                assert SECRET not in text, (table, text[:300])
    assert rows > 10
    files = 0
    for path in Path(keyed.running.home).rglob("*"):
        if path.is_file():
            files += 1
            assert SECRET.encode() not in path.read_bytes(), path
    assert files > 3


# --- projects cannot see each other ---------------------------------------------------------


def test_a_viewer_of_alpha_cannot_reach_betas_execution(
    keyed: Keyed, leaked: tuple[str, str]
) -> None:
    _, beta_ex = leaked
    values = {
        "project": "alpha",
        "execution_id": beta_ex,
        "node_id": "n0",
        "value_hash": "0" * 64,
    }
    routes = [p for p in _get_paths(keyed) if "{execution_id}" in p]
    assert len(routes) >= 8
    for path in routes:
        r = keyed.get("alpha_viewer", _fill(path, values))
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
        assert beta_ex not in r.text.replace(f"execution {beta_ex!r} does not exist", "")
    for query in ({"q": beta_ex}, {"q": beta_ex[:6]}, {}):
        page = keyed.get("alpha_viewer", "/api/v1/projects/alpha/executions", params=query)
        assert beta_ex not in page.text, query
    # And beta's own path is closed to alpha's key.
    r = keyed.get("alpha_viewer", f"/api/v1/projects/beta/executions/{beta_ex}")
    assert r.status_code == 403


def test_a_shared_cache_entry_does_not_name_betas_execution_to_alpha(
    keyed: Keyed, flow: Any, leaked: tuple[str, str]
) -> None:
    """beta ran wf(x=2) first; alpha runs the same code with the same inputs. Whether or not
    the cache is shared between projects, nothing alpha reads names beta's execution."""
    _, beta_ex = leaked
    with keyed.client("alpha_runner", "alpha") as c:
        ex = c.launch(flow.wf, {"x": 2})
        assert c.wait(ex.id, timeout=120).phase == "succeeded"
    base = f"/api/v1/projects/alpha/executions/{ex.id}"
    detail = keyed.get("alpha_viewer", base).json()
    texts = [
        keyed.get("alpha_viewer", base).text,
        keyed.get("alpha_viewer", f"{base}/events").text,
        *(keyed.get("alpha_viewer", f"{base}/nodes/{n['id']}").text for n in detail["nodes"]),
        *(keyed.get("alpha_viewer", f"{base}/nodes/{n['id']}/cache").text for n in detail["nodes"]),
    ]
    assert not any(beta_ex in t for t in texts)
    hits = [n for n in detail["nodes"] if n["cache_status"] == "hit"]
    for n in hits:  # a shared entry (the cache's own scoping aside) says whose it is not
        assert "another project" in n["cache_reason"], n["cache_reason"]


def test_cache_explain_of_a_shared_entry_hides_the_other_projects_run(
    keyed: Keyed, flow: Any
) -> None:
    """A task that opted into a shared scope hits the entry beta wrote: alpha's explanation
    says an entry exists, but not which execution of beta's wrote it. (Both are members of
    the scope, as an admin granted: a non-member's launch is refused, see
    test_cache_scope_tenancy.py.)"""
    meta = keyed.running.deps.meta
    meta.create_cache_scope("team", 1.0)
    meta.grant_cache_scope("team", "alpha", "write", 1.0)
    meta.grant_cache_scope("team", "beta", "write", 1.0)
    with keyed.client("beta_runner", "beta") as c:
        c.register([flow.team_wf])
        beta_ex = c.launch(flow.team_wf, {"x": 21})
        assert c.wait(beta_ex.id, timeout=120).phase == "succeeded"
    with keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.team_wf])
        ex = c.launch(flow.team_wf, {"x": 21})
        assert c.wait(ex.id, timeout=120).phase == "succeeded"
        why = c.cache_explanation(ex.id, "n0")
    assert why.cache == "hit" and why.parts is not None and why.parts.scope == "shared:team"
    assert why.entry_now is not None and why.entry_now.execution_id == ""
    r = keyed.get("alpha_viewer", f"/api/v1/projects/alpha/executions/{ex.id}/nodes/n0/cache")
    assert r.status_code == 200 and beta_ex.id not in r.text
    # beta's own view names its run; alpha cannot ask about beta's execution at all
    mine = keyed.get("beta_viewer", f"/api/v1/projects/beta/executions/{beta_ex.id}/nodes/n0/cache")
    assert mine.json()["entry_now"]["execution_id"] == beta_ex.id
    other = keyed.get(
        "alpha_viewer", f"/api/v1/projects/beta/executions/{beta_ex.id}/nodes/n0/cache"
    )
    assert other.status_code == 403


def test_a_package_is_usable_only_by_projects_that_uploaded_it(
    keyed: Keyed, flow: Any, flow_dir: Path
) -> None:
    from airfoil.client import Client
    from airfoil.client._package import build_package
    from airfoil.core.errors import NotFoundError

    _, sha = build_package(str(flow_dir))
    with keyed.client("beta_runner", "beta") as beta:
        beta.register([flow.double])  # uploads the package to beta
    delta = f"delta{uuid.uuid4().hex[:6]}"
    keyed.running.deps.registry.ensure_project(delta)
    key = keyed.running.deps.registry.create_key(delta, "runner")[1]
    body = {"package": sha, **_entity_body(flow.double)}
    # delta names beta's package by its hash without uploading it: as if it did not exist.
    with (
        Client(keyed.running.url, key, project=delta) as c,
        pytest.raises(NotFoundError, match="was not uploaded to project"),
    ):
        c._call("POST", f"/projects/{delta}/entities", json=body)
    with Client(keyed.running.url, keyed.keys["global"], project=delta) as admin:
        # A key that may read beta may reference it; delta is granted the package.
        admin._call("POST", f"/projects/{delta}/entities", json=body)
    with Client(keyed.running.url, key, project=delta) as c:
        c._call("POST", f"/projects/{delta}/entities", json=body)  # granted now


def _entity_body(taskdef: Any) -> dict[str, Any]:
    import msgspec

    spec = taskdef.spec
    return {
        "entities": [
            {
                "kind": "task",
                "name": spec.name,
                "version": spec.version,
                "spec": msgspec.to_builtins(spec),
            }
        ]
    }


def test_an_upload_is_usable_only_in_its_project(keyed: Keyed, flow: Any, tmp_path: Path) -> None:
    import airfoil as af
    from airfoil.core.errors import InvalidInputError

    path = tmp_path / "notes.txt"
    path.write_text("x" * 5000)  # large enough to be uploaded, not inline
    with keyed.client("alpha_runner", "alpha") as alpha:
        alpha.register([flow.file_text])
        ref = alpha.upload_value(af.File(str(path)))
        assert "sha256" in ref["$airfoil"]
        ex = alpha.launch(flow.file_text, {"f": ref})
        assert alpha.wait(ex.id, timeout=120).phase == "succeeded"
    with keyed.client("beta_runner", "beta") as beta:
        beta.register([flow.file_text])
        with pytest.raises(InvalidInputError, match="no upload with SHA-256"):
            beta.launch(flow.file_text, {"f": ref})
        foreign = {"$airfoil": {**ref["$airfoil"], "project": "alpha"}}
        with pytest.raises(InvalidInputError, match="no upload with SHA-256"):
            beta.launch(flow.file_text, {"f": foreign})
    with keyed.client("global", "beta") as admin:  # may read alpha: the reference is allowed
        ex = admin.launch(flow.file_text, {"f": foreign})
        assert admin.wait(ex.id, timeout=120).phase == "succeeded"


# --- bounded inputs -------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _post(keyed: Keyed, path: str, body: Any) -> httpx.Response:
    return httpx.post(
        keyed.running.url + path,
        json=body,
        headers={"Authorization": f"Bearer {keyed.keys['alpha_runner']}"},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"entity": "flow.wf", "inputs": {"x": int("9" * 400)}}, "64-bit"),
        ({"entity": "flow.wf", "inputs": {"x": -(2**63) - 1}}, "64-bit"),
        ({"entity": "flow.wf", "labels": {f"k{i}": "v" for i in range(10_000)}}, "64"),
        ({"entity": "flow.wf", "labels": {"k" * 500: "v"}}, "100"),
        ({"entity": "flow.wf", "inputs": {"x": list(range(200_000))}}, "100000"),
        ({"entity": "flow.wf", "inputs": {"x": _nested(40)}}, "nests"),
    ],
)
def test_unbounded_launch_inputs_are_refused(
    keyed: Keyed, leaked: tuple[str, str], body: dict[str, Any], needle: str
) -> None:
    r = _post(keyed, "/api/v1/projects/alpha/domains/development/executions", body)
    assert r.status_code == 422, r.text[:300]
    assert needle in r.text, r.text[:500]


def test_int64_inputs_still_launch(keyed: Keyed, leaked: tuple[str, str]) -> None:
    r = _post(
        keyed,
        "/api/v1/projects/alpha/domains/development/executions",
        {"entity": "flow.wf", "inputs": {"x": 2**40}, "labels": {"team": "ml"}},
    )
    assert r.status_code == 201, r.text


def test_event_and_search_queries_are_bounded_and_literal(
    keyed: Keyed, leaked: tuple[str, str]
) -> None:
    ex, _ = leaked
    base = f"/api/v1/projects/alpha/executions/{ex}"
    for after in (str(2**63), str(2**64), "9" * 400):
        r = keyed.get("alpha_viewer", f"{base}/events", params={"after": after})
        assert r.status_code == 422, (after, r.text[:200])
    assert (
        keyed.get("alpha_viewer", f"{base}/events", params={"after": 2**63 - 1}).json()["items"]
        == []
    )
    with httpx.stream(
        "GET",
        keyed.running.url + f"{base}/watch",
        headers={
            "Authorization": f"Bearer {keyed.keys['alpha_viewer']}",
            "Last-Event-ID": "9" * 40,
        },
        timeout=60,
    ) as r:
        assert r.status_code == 200
        assert "event: end" in r.read().decode()
    listing: Callable[[str], Any] = lambda q: keyed.get(  # noqa: E731
        "alpha_viewer", "/api/v1/projects/alpha/executions", params={"q": q}
    ).json()
    every = keyed.get("alpha_viewer", "/api/v1/projects/alpha/executions").json()["total"]
    assert every >= 2
    assert listing("%")["total"] == 0  # a literal '%', not a wildcard
    with_underscore = listing("_")["items"]
    assert all(
        "_" in (e["id"] + e["workflow"] + e["version"] + "".join(e["labels"].values()))
        for e in with_underscore
    )
    assert listing("leaky_wf")["total"] >= 1 and listing("leaky%wf")["total"] == 0


def test_oversized_bodies_are_refused_before_they_are_held(keyed: Keyed) -> None:
    import http.client
    from urllib.parse import urlsplit

    from airfoil.server._services import MAX_PACKAGE

    path = "/api/v1/projects/alpha/packages/" + "a" * 64
    auth = {"Authorization": f"Bearer {keyed.keys['alpha_runner']}"}
    # A declared size past the limit: refused at once, without reading a byte of the body.
    where = urlsplit(keyed.running.url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    try:
        conn.putrequest("PUT", path)
        for k, v in {**auth, "Content-Length": str(10**12)}.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 413 and b"too_large" in r.read()
    finally:
        conn.close()

    # No declared size (chunked): refused once the stream passes the limit.
    def chunks() -> Iterator[bytes]:
        block = b"\0" * 2**20
        for _ in range(MAX_PACKAGE // len(block) + 2):
            yield block

    r = httpx.put(keyed.running.url + path, content=chunks(), headers=auth, timeout=120)
    assert r.status_code == 413, r.text[:200]


# --- revoking the last key ------------------------------------------------------------------


def test_revoking_the_last_key_keeps_the_server_closed(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    running = start_server(tmp_path / "home", None, run_engine=False)
    try:
        reg = running.deps.registry
        url = running.url + "/api/v1/auth/whoami"
        assert httpx.get(url).json()["open_mode"] is True
        key_id, key = reg.create_key("alpha", "admin")  # changes made here: seen at once
        assert httpx.get(url).status_code == 401
        reg.revoke_key(key_id)
        for headers in ({}, {"Authorization": f"Bearer {key}"}):
            r = httpx.get(url, headers=headers)
            assert r.status_code == 401, r.text  # not open again
        env = {"AIRFOIL_HOME": str(tmp_path / "home")}
        refused = CliRunner().invoke(app, ["auth", "reopen"], env=env)
        assert refused.exit_code != 0 and "--yes" in refused.output
        live_id, _ = reg.create_key("alpha", "viewer")
        blocked = CliRunner().invoke(app, ["auth", "reopen", "--yes"], env=env)
        assert blocked.exit_code != 0 and live_id in blocked.output
        reg.revoke_key(live_id)
        done = CliRunner().invoke(app, ["auth", "reopen", "--yes"], env=env)
        assert done.exit_code == 0, done.output
        reg._forget_keys()  # the CLI's change: no waiting for keys_max_age_s in a test
        assert httpx.get(url).json()["open_mode"] is True
    finally:
        running.stop()


# --- execution names are per project (revision 0019) ------------------------------------------


def _send(keyed: Keyed, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {keyed.keys[who]}"}
    url = keyed.running.url + "/api/v1" + path
    return httpx.request(method, url, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def nightly(keyed: Keyed, flow: Any) -> dict[str, str]:
    """alpha runs ``nightly-1`` (x=2) and ``alpha-only``, then beta runs its own
    ``nightly-1`` (x=5): the ids by who ran them."""
    with keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.wf])
        a = c.launch(flow.wf, {"x": 2}, name="nightly-1")
        only = c.launch(flow.wf, {"x": 1}, name="alpha-only")
        assert c.wait("nightly-1", timeout=120).phase == "succeeded"
        assert c.wait("alpha-only", timeout=120).phase == "succeeded"
    with keyed.client("beta_runner", "beta") as c:
        c.register([flow.wf])
        b = c.launch(flow.wf, {"x": 5}, name="nightly-1")  # main: 409, the name was alpha's
        assert c.wait("nightly-1", timeout=120).phase == "succeeded"
    assert (a.name, b.name) == ("nightly-1", "nightly-1") and a.id != b.id
    return {"alpha": a.id, "beta": b.id, "alpha-only": only.id}


def test_two_projects_run_one_name_and_read_their_own(
    keyed: Keyed, flow: Any, nightly: dict[str, str]
) -> None:
    for project, x in (("alpha", 2), ("beta", 5)):
        who = f"{project}_viewer"
        base = f"/projects/{project}/executions/nightly-1"
        detail = _send(keyed, who, "GET", base).json()
        assert (detail["id"], detail["name"], detail["project"]) == (
            nightly[project],
            "nightly-1",
            project,
        )
        outputs = _send(keyed, who, "GET", base + "/outputs").json()
        assert outputs["execution_id"] == nightly[project]
        log = _send(keyed, who, "GET", base + "/nodes/n0/logs").json()
        assert f"doubling {x}" in log["text"], log
        events = _send(keyed, who, "GET", base + "/events").json()
        assert events["phase"] == "succeeded" and events["items"]
        graph = _send(keyed, who, "GET", base + "/graph").json()
        assert graph["execution_id"] == nightly[project]
        with keyed.client(who, project) as c:
            assert c.outputs("nightly-1", flow.wf) == 4 * x
        listed = _send(
            keyed, who, "GET", f"/projects/{project}/executions", params={"q": "nightly"}
        )
        assert {i["id"] for i in listed.json()["items"]} == {nightly[project]}


def test_a_name_conflicts_only_in_its_own_project_and_domain(
    keyed: Keyed, flow: Any, nightly: dict[str, str]
) -> None:
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 1}}

    def launch(who: str, project: str, name: str, domain: str = "development") -> Any:
        path = f"/projects/{project}/domains/{domain}/executions"
        return _send(keyed, who, "POST", path, json={**body, "name": name})

    again = launch("alpha_runner", "alpha", "nightly-1")
    assert again.status_code == 409, again.text
    assert "already exists in project 'alpha'" in again.json()["error"]["message"]
    # a name only alpha uses: beta may take it, and learns nothing
    taken = launch("beta_runner", "beta", "alpha-only")
    assert taken.status_code == 201, taken.text
    assert taken.json()["id"] != nightly["alpha-only"]
    # the same name in another domain of one project: addressed with ?domain=
    for domain in ("development", "staging"):
        r = launch("alpha_runner", "alpha", "twice", domain)
        assert r.status_code == 201, r.text
    both = _send(keyed, "alpha_viewer", "GET", "/projects/alpha/executions/twice")
    assert both.status_code == 409 and "several domains" in both.json()["error"]["message"]
    staged = _send(
        keyed,
        "alpha_viewer",
        "GET",
        "/projects/alpha/executions/twice",
        params={"domain": "staging"},
    )
    assert staged.status_code == 200 and staged.json()["domain"] == "staging"


def test_beta_cannot_reach_alphas_execution_by_name_or_id(
    keyed: Keyed, nightly: dict[str, str]
) -> None:
    """Under beta's paths, alpha's executions (named by their ids: alpha's names are now
    beta's too, and resolve to beta's own) are not found, for every verb; under alpha's
    paths beta's key is refused alike for names that exist and names that do not, so no
    answer tells beta which names alpha uses."""
    for ref in (nightly["alpha"], nightly["alpha-only"]):
        base = f"/projects/beta/executions/{ref}"
        for method, path, body in (
            ("GET", "", None),
            ("GET", "/outputs", None),
            ("GET", "/events", None),
            ("GET", "/nodes/n0/logs", None),
            ("POST", "/terminate", None),
            ("POST", "/relaunch", None),
            ("POST", "/recover", None),
            ("POST", "/signals/ship", {"value": True}),
        ):
            r = _send(keyed, "beta_runner", method, base + path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert "alpha" not in r.text
        r = _send(
            keyed,
            "beta_viewer",
            "GET",
            "/projects/beta/compare",
            params={"a": ref, "b": "nightly-1"},
        )
        assert r.status_code == 404, r.text
    # beta's own nightly-1 is beta's: relaunching it by name makes a run of beta's
    r = _send(keyed, "beta_runner", "POST", "/projects/beta/executions/nightly-1/relaunch")
    assert r.status_code == 201 and r.json()["labels"]["relaunch_of"] == nightly["beta"]
    assert r.json()["project"] == "beta"
    for ref in ("nightly-1", "no-such-name", nightly["alpha"]):
        r = _send(keyed, "beta_runner", "GET", f"/projects/alpha/executions/{ref}")
        assert r.status_code == 403, r.text
    assert keyed.running.deps.meta.get_execution(nightly["alpha"]).phase == "succeeded"


def test_generated_names_are_their_ids(keyed: Keyed, flow: Any) -> None:
    with keyed.client("alpha_runner", "alpha") as c:
        c.register([flow.wf])  # on its own too (it relied on an earlier test's registration)
        ex = c.launch(flow.wf, {"x": 3})
        assert ex.name == ex.id and ex.id.startswith("f")
        assert c.wait(ex.id, timeout=120).phase == "succeeded"


def test_what_names_a_run_names_it_as_its_project_does(
    keyed: Keyed, flow: Any, nightly: dict[str, str]
) -> None:
    """Failures, cache reasons and explanations, metrics and a model's lineage name a run by
    its name in the project (main: by its global id), and each name shown resolves, under the
    project's paths, to the run it was shown for; alpha and beta both run ``cache-a``,
    ``cache-b`` and ``broken-1`` and each reads its own."""
    ids: dict[str, dict[str, str]] = {}
    for project in ("alpha", "beta"):
        with keyed.client(f"{project}_runner", project) as c:
            c.register([flow.wf, flow.broken])
            ids[project] = {
                name: c.launch(entity, {"x": 11}, name=name).id
                for name, entity in (("cache-a", flow.wf), ("broken-1", flow.broken))
            }
            assert c.wait("cache-a", timeout=120).phase == "succeeded"
            ids[project]["cache-b"] = c.launch(flow.wf, {"x": 11}, name="cache-b").id
            assert c.wait("cache-b", timeout=120).phase == "succeeded"
            assert c.wait("broken-1", timeout=120).phase == "failed"

    def resolved(who: str, project: str, ref: str) -> str:
        r = _send(keyed, who, "GET", f"/projects/{project}/executions/{ref}")
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    for project, other in (("alpha", "beta"), ("beta", "alpha")):
        who, mine = f"{project}_viewer", ids[project]
        # failures: the group's example and the drill-down
        groups = _send(keyed, who, "GET", f"/projects/{project}/failures").json()["items"]
        (group,) = [g for g in groups if g["pattern"] == "bad x <n>"]
        example = group["example"]
        assert (example["execution_name"], example["execution_id"]) == (
            "broken-1",
            mine["broken-1"],
        )
        drill = _send(keyed, who, "GET", f"/projects/{project}/failures/{group['signature']}")
        for f in drill.json()["items"]:
            assert resolved(who, project, f["execution_name"]) == f["execution_id"]
        # a cache hit's reason, event cause and explanation name the run that wrote the entry
        base = f"/projects/{project}/executions/cache-b"
        node = next(
            n for n in _send(keyed, who, "GET", base).json()["nodes"] if n["cache_status"] == "hit"
        )
        assert "as execution cache-a node" in node["cache_reason"], node["cache_reason"]
        causes = [e["cause"] for e in _send(keyed, who, "GET", base + "/events").json()["items"]]
        assert any("as execution cache-a node" in c for c in causes), causes
        why = _send(keyed, who, "GET", f"{base}/nodes/{node['id']}/cache").json()
        assert why["execution_name"] == "cache-b"
        assert (why["entry_now"]["execution_name"], why["entry_now"]["execution_id"]) == (
            "cache-a",
            mine["cache-a"],
        )
        assert "execution cache-a node" in why["reason"]
        # metrics
        metrics = _send(keyed, who, "GET", f"{base}/metrics").json()
        assert (metrics["execution_name"], metrics["execution_id"]) == ("cache-b", mine["cache-b"])
        texts = (drill.text, str(groups), str(node), str(causes), str(why))
        assert not any(eid in t for t in texts for eid in ids[other].values())
    # a model's lineage, published by name
    with keyed.client("alpha_runner", "alpha") as c:
        published = c.artifacts().publish("lineage-m", b"m", kind="model", execution_id="cache-a")
    v = published.version
    assert (v.execution_name, v.execution_id) == ("cache-a", ids["alpha"]["cache-a"])
    listed = _send(keyed, "alpha_viewer", "GET", "/projects/alpha/artifacts/lineage-m").json()
    assert [x["execution_name"] for x in listed["versions"]] == ["cache-a"]


def test_a_name_that_is_another_runs_id_is_refused_in_its_project_only(
    keyed: Keyed, flow: Any, nightly: dict[str, str]
) -> None:
    """Commands resolve a name before an id, so a run named as another run of the project's
    id would hide that run from everything that names it by its id (main: launched, and the
    id then opened the new run). Another project may use the text: it learns nothing."""
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 1}, "name": nightly["alpha"]}
    for domain in ("development", "staging"):
        r = _send(
            keyed, "alpha_runner", "POST", f"/projects/alpha/domains/{domain}/executions", json=body
        )
        assert r.status_code == 409, r.text
        assert "is the id of another execution" in r.json()["error"]["message"]
    r = _send(keyed, "alpha_viewer", "GET", f"/projects/alpha/executions/{nightly['alpha']}")
    assert r.json()["name"] == "nightly-1"
    r = _send(
        keyed, "beta_runner", "POST", "/projects/beta/domains/development/executions", json=body
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == nightly["alpha"] and r.json()["id"] != nightly["alpha"]
