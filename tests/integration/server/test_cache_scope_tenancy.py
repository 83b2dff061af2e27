"""Named cache scopes on a server, tested as another tenant would (SQLite and PostgreSQL).

A task's ``cache_scope="team"`` reads and writes the entries of ``shared:team``. Before
revision 0020 any project that named the scope did both: beta could read alpha's results and
write its own under alpha's keys. Now an admin of every project declares a scope and grants
its members; these tests fail on main (no ``/cache-scopes`` routes, no members: every launch
below that must be refused ran, and beta's reads and writes went through).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _srv import Running, server_on

from airfoil.client import CacheScopeForbidden

pytestmark = pytest.mark.integration


class Tenants:
    """A server with keys: runners of alpha, beta and gamma, beta's own admin, a viewer of
    alpha, and a global admin."""

    def __init__(self, running: Running) -> None:
        self.running = running
        reg = running.deps.registry
        self.keys = {
            "alpha": reg.create_key("alpha", "runner")[1],
            "alpha_viewer": reg.create_key("alpha", "viewer")[1],
            "beta": reg.create_key("beta", "runner")[1],
            "beta_admin": reg.create_key("beta", "admin")[1],
            "gamma": reg.create_key("gamma", "runner")[1],
            "global": reg.create_key("*", "admin")[1],
        }

    def client(self, who: str) -> Any:
        from airfoil.client import Client

        project = who.split("_")[0] if who != "global" else "alpha"
        return Client(self.running.url, self.keys[who], project=project)

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        url = self.running.url + "/api/v1" + path
        return httpx.request(method, url, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tenants(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenants]:
    home = tmp_path_factory.mktemp(f"scopes-{request.param}")
    pg = request.getfixturevalue("pg_schema_factory") if request.param == "postgres" else None
    with server_on(request.param, home, pg) as running:
        yield Tenants(running)


@pytest.fixture
def team(tenants: Tenants) -> Iterator[Tenants]:
    """Scope ``team`` declared (no members) for one test, removed after it with its entries."""
    meta = tenants.running.deps.meta
    meta.delete_cache_scope("team")
    meta.delete_cache()
    r = tenants.call("global", "POST", "/cache-scopes", json={"name": "team"})
    assert r.status_code == 201, r.text
    yield tenants
    meta.delete_cache_scope("team")
    meta.delete_cache()


def _run(t: Tenants, who: str, flow: Any, x: int) -> Any:
    with t.client(who) as c:
        c.register([flow.team_wf])
        ex = c.launch(flow.team_wf, {"x": x})
        detail = c.wait(ex.id, timeout=120)
    assert detail.phase == "succeeded", detail
    return next(n for n in detail.nodes if n.id == "n0")


def test_only_global_admins_keep_the_members(team: Tenants) -> None:
    t = team
    grant = {"json": {"access": "write"}}
    # another tenant's keys, even an admin of its own project, cannot grant themselves in
    for who in ("beta", "beta_admin", "alpha_viewer"):
        r = t.call(who, "PUT", "/cache-scopes/team/members/beta", **grant)
        assert r.status_code == 403, (who, r.text)
        assert t.call(who, "GET", "/cache-scopes").status_code == 403
        assert t.call(who, "POST", "/cache-scopes", json={"name": "mine"}).status_code == 403
        assert t.call(who, "DELETE", "/cache-scopes/team").status_code == 403
    r = t.call("global", "PUT", "/cache-scopes/team/members/alpha", **grant)
    assert r.status_code == 200 and r.json()["members"] == {"alpha": "write"}
    r = t.call("global", "PUT", "/cache-scopes/team/members/beta", json={"access": "read"})
    assert r.json()["members"] == {"alpha": "write", "beta": "read"}
    listed = t.call("global", "GET", "/cache-scopes").json()["scopes"]
    assert [(s["name"], s["members"]) for s in listed] == [
        ("team", {"alpha": "write", "beta": "read"})
    ]
    # a project sees its own access to the scopes it may use, never the other members
    mine = t.call("beta", "GET", "/projects/beta/cache-scopes").json()["scopes"]
    assert [(s["name"], s["members"]) for s in mine] == [("team", {"beta": "read"})]
    assert t.call("gamma", "GET", "/projects/gamma/cache-scopes").json()["scopes"] == []
    assert t.call("beta", "GET", "/projects/alpha/cache-scopes").status_code == 403
    # the admin's mistakes are clear answers
    assert t.call("global", "POST", "/cache-scopes", json={"name": "team"}).status_code == 409
    r = t.call("global", "PUT", "/cache-scopes/teem/members/alpha", **grant)
    assert r.status_code == 404 and "airfoil cache scopes create teem" in r.text
    r = t.call("global", "PUT", "/cache-scopes/team/members/alpha", json={"access": "own"})
    assert r.status_code == 422
    for bad in ("a%20b", "..", "x" * 101):
        r = t.call("global", "PUT", f"/cache-scopes/team/members/{bad}", **grant)
        assert r.status_code in (404, 422), (bad, r.status_code)
    r = t.call("global", "DELETE", "/cache-scopes/team/members/gamma")
    assert r.status_code == 404


def test_a_non_member_is_refused_at_launch_and_nothing_runs(team: Tenants, flow: Any) -> None:
    t = team
    t.call("global", "PUT", "/cache-scopes/team/members/alpha", json={"access": "write"})
    _run(t, "alpha", flow, 21)
    with t.client("gamma") as c:
        c.register([flow.team_wf])
        with pytest.raises(CacheScopeForbidden) as err:
            c.launch(flow.team_wf, {"x": 21})
        assert err.value.code == "cache_scope_forbidden" and err.value.status == 403
        message = str(err.value)
        assert "project 'gamma' may not use cache scope 'team'" in message
        assert "airfoil cache scopes grant team gamma" in message
        assert "alpha" not in message  # the members are not named
        assert c.list().items == []  # nothing recorded


def test_an_undeclared_scope_is_refused_like_a_closed_one(tenants: Tenants, flow: Any) -> None:
    tenants.running.deps.meta.delete_cache_scope("team")
    with tenants.client("alpha") as c:
        c.register([flow.team_wf])
        with pytest.raises(CacheScopeForbidden, match="may not use cache scope 'team'"):
            c.launch(flow.team_wf, {"x": 1})


def test_a_reader_hits_and_never_writes(team: Tenants, flow: Any) -> None:
    t = team
    t.call("global", "PUT", "/cache-scopes/team/members/alpha", json={"access": "write"})
    t.call("global", "PUT", "/cache-scopes/team/members/beta", json={"access": "read"})
    assert _run(t, "alpha", flow, 21).cache_status == "put"
    assert _run(t, "beta", flow, 21).cache_status == "hit"
    miss = _run(t, "beta", flow, 22)
    assert miss.cache_status == "miss"
    assert "may only read cache scope 'team'" in miss.cache_reason
    assert _run(t, "alpha", flow, 22).cache_status == "put"  # beta wrote nothing


def test_a_revoked_member_loses_access(team: Tenants, flow: Any) -> None:
    t = team
    t.call("global", "PUT", "/cache-scopes/team/members/beta", json={"access": "write"})
    assert _run(t, "beta", flow, 5).cache_status == "put"
    r = t.call("global", "DELETE", "/cache-scopes/team/members/beta")
    assert r.status_code == 200 and r.json()["members"] == {}
    with t.client("beta") as c, pytest.raises(CacheScopeForbidden):
        c.launch(flow.team_wf, {"x": 5})


def test_a_former_members_explain_shows_nothing_of_the_scope(team: Tenants, flow: Any) -> None:
    """``cache explain --remote`` of beta's old run after beta was revoked: none of the
    scope's entries (main: ``entry_now`` named the entry there, as for a member)."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    t = team
    t.call("global", "PUT", "/cache-scopes/team/members/alpha", json={"access": "write"})
    t.call("global", "PUT", "/cache-scopes/team/members/beta", json={"access": "write"})
    with t.client("beta") as c:
        c.register([flow.team_wf])
        ex = c.launch(flow.team_wf, {"x": 7})
        assert c.wait(ex.id, timeout=120).phase == "succeeded"
        assert c.cache_explanation(ex.id, "n0").entry_now is not None
        assert _run(t, "alpha", flow, 7).cache_status == "hit"  # the entry alpha reads
        t.call("global", "DELETE", "/cache-scopes/team/members/beta")
        why = c.cache_explanation(ex.id, "n0")
    assert why.entry_now is None and why.miss_now is None and why.code_changes is None
    assert why.scope_closed is not None
    assert "project 'beta' may not read cache scope 'team' now" in why.scope_closed
    env = {"AIRFOIL_SERVER_URL": t.running.url, "AIRFOIL_API_KEY": t.keys["beta"]}
    told = CliRunner().invoke(
        app, ["cache", "explain", ex.id, "n0", "--remote", "--project", "beta"], env=env
    )
    assert told.exit_code == 0, told.output
    assert "today: project 'beta' may not read cache scope 'team' now" in told.output
    assert "an entry exists" not in told.output and "no entry" not in told.output
