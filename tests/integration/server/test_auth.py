"""Auth: every operation of the OpenAPI spec for every kind of caller (no key, a bad key, a
revoked key, viewer, runner and admin of the project, a key of another project, a global
admin), allowed and denied, and the open loopback mode. The matrix is generated from the
spec, so a route added without a declared role fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import Running, start_server

pytestmark = pytest.mark.integration

PROJECT = "alpha"
ROLES = ("viewer", "runner", "admin")
RANK = {"viewer": 0, "runner": 1, "admin": 2}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, str]]]:
    """A server (API only) with keys of every role in PROJECT, one of another project, and a
    global admin."""
    home: Path = tmp_path_factory.mktemp("auth-home")
    running = start_server(home, None, run_engine=False)
    reg = running.deps.registry
    keys = {role: reg.create_key(PROJECT, role)[1] for role in ROLES}
    keys["other"] = reg.create_key("beta", "admin")[1]
    keys["global"] = reg.create_key("*", "admin")[1]
    revoked_id, revoked = reg.create_key(PROJECT, "admin")
    reg.revoke_key(revoked_id)
    keys["revoked"] = revoked
    keys["bad"] = "af_" + keys["viewer"].split("_", 2)[1] + "_not-the-secret"  # a live id
    reg.ensure_project(PROJECT)
    yield running, keys
    running.stop()


def _spec_operations() -> list[tuple[str, str]]:
    """Every operation of the server's OpenAPI spec (the app is built, not started)."""
    import tempfile

    from airfoil.server import ServerConfig, create_app

    with tempfile.TemporaryDirectory() as home:
        spec = create_app(ServerConfig(home=home, run_engine=False)).openapi()
    methods = ("get", "put", "post", "delete", "patch")
    return sorted(
        (m.upper(), path) for path, ops in spec["paths"].items() for m in ops if m in methods
    )


_OPERATIONS = _spec_operations()


def _routes() -> list[tuple[str, str, str]]:
    """The API's operations, from the OpenAPI spec, with the role each declares (``?`` for
    none: the test of that operation fails, so a new route cannot ship untested)."""
    from airfoil.server._routes import ROUTE_ROLES

    return [(m, p, ROUTE_ROLES.get((m, p), "?")) for m, p in _OPERATIONS if p.startswith("/api/")]


def test_the_matrix_covers_every_route_of_the_spec() -> None:
    from airfoil.server._routes import ROUTE_ROLES

    api = {(m, p) for m, p in _OPERATIONS if p.startswith("/api/")}
    assert len(api) >= 25
    assert set(ROUTE_ROLES) == api, set(ROUTE_ROLES) ^ api
    outside = {p for _, p in _OPERATIONS if not p.startswith("/api/")}
    assert outside <= {"/healthz", "/readyz", "/metrics", "/", "/{path}"}, outside


def _fill(path: str) -> str:
    values = {
        "project": PROJECT,
        "domain": "development",
        "execution_id": "nope",
        "node_id": "n0",
        "name": "flow.wf",
        "task": "flow.t",
        "version": "v1",
        "sha256": "0" * 64,
        "value_hash": "0" * 64,
        "signature": "0" * 16,
        "scope": "team",
        "member": PROJECT,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(running: Running, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: Any = None
    if method in ("POST", "PUT"):
        body = {}
    return httpx.request(method, running.url + _fill(path), headers=headers, json=body, timeout=30)


def _allowed(role_key: str, needed: str) -> bool:
    if needed == "any":
        return role_key not in ("none", "bad", "revoked")
    if role_key in ("none", "bad", "revoked"):
        return False
    if role_key == "global":
        return True
    if role_key == "other":
        return False
    if needed == "admin*":  # every-project admin only
        return False
    return RANK[role_key] >= RANK[needed]


@pytest.mark.parametrize("who", ["none", "bad", "revoked", "other", "global", *ROLES])
@pytest.mark.parametrize(("method", "path", "needed"), _routes())
def test_every_endpoint_every_role(
    keyed: tuple[Running, dict[str, str]], who: str, method: str, path: str, needed: str
) -> None:
    running, keys = keyed
    assert needed in ("any", "admin*", *ROLES), f"{method} {path} declares no role"
    r = _call(running, method, path, keys.get(who))
    assert r.status_code < 500, (who, method, path, r.text[:300])
    code = r.json()["error"]["code"] if r.status_code >= 400 else None
    if _allowed(who, needed):
        assert r.status_code not in (401, 403), (who, method, path, r.text)
    elif who in ("none", "bad", "revoked"):
        assert r.status_code == 401 and code in ("unauthenticated", "invalid_key"), r.text
    else:
        assert r.status_code == 403 and code == "forbidden", r.text


def test_malformed_authorization(keyed: tuple[Running, dict[str, str]]) -> None:
    running, _ = keyed
    for header in ("Basic abc", "Bearer af_nope", "Bearer af_x_y_z", "Token"):
        r = httpx.get(
            running.url + f"/api/v1/projects/{PROJECT}/executions",
            headers={"Authorization": header},
        )
        assert r.status_code == 401, header
        assert r.json()["error"]["code"] in ("invalid_key", "unauthenticated")


def test_ops_endpoints_need_no_key(keyed: tuple[Running, dict[str, str]]) -> None:
    running, _ = keyed
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        # A wait, not a bound: the first /openapi.json builds the schema (seconds of CPU under
        # a loaded machine's two test workers, past httpx's default 5 s)
        assert httpx.get(running.url + path, timeout=60).status_code == 200, path


def test_projects_listed_per_key(keyed: tuple[Running, dict[str, str]]) -> None:
    running, keys = keyed
    r = httpx.get(
        running.url + "/api/v1/projects", headers={"Authorization": f"Bearer {keys['other']}"}
    )
    assert [p["name"] for p in r.json()["items"]] == []
    r = httpx.get(
        running.url + "/api/v1/projects", headers={"Authorization": f"Bearer {keys['viewer']}"}
    )
    assert [p["name"] for p in r.json()["items"]] == [PROJECT]
    r = httpx.get(
        running.url + "/api/v1/auth/whoami", headers={"Authorization": f"Bearer {keys['runner']}"}
    )
    assert r.json()["role"] == "runner" and r.json()["project"] == PROJECT


def test_projects_that_only_have_executions_are_listed_to_keys_that_may_see_them(
    keyed: tuple[Running, dict[str, str]],
) -> None:
    """A local run's project (``AIRFOIL_PROJECT=gamma airfoil run`` in the server's home) is
    never registered: it is listed for the keys that may read it, and never named to others."""
    from airfoil.core.records import StoreBatch
    from airfoil.testing.records import make_execution

    running, keys = keyed
    for eid, project in (("g1", "gamma"), ("g2", "gamma"), ("a1", PROJECT)):
        run = make_execution(eid, project=project, phase="succeeded")
        running.deps.meta.write(StoreBatch(execution=run))

    def listed(key: str) -> list[str]:
        headers = {"Authorization": f"Bearer {keys[key]}"}
        r = httpx.get(running.url + "/api/v1/projects", headers=headers)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]]

    assert listed("global") == [PROJECT, "gamma"]  # each once, registered or not
    assert listed("viewer") == [PROJECT]
    assert listed("other") == []  # beta's key learns no other tenant's project


def test_open_server_refuses_non_loopback_clients() -> None:
    from starlette.requests import Request

    from airfoil.server._auth import ApiError, authenticate

    class NoKeys:
        def keys_configured(self) -> bool:
            return False

    def request(host: str) -> Request:
        return Request({"type": "http", "headers": [], "client": (host, 1234)})

    assert authenticate(request("127.0.0.1"), NoKeys(), 0.0).open_mode  # type: ignore[arg-type]
    assert authenticate(request("::1"), NoKeys(), 0.0).role == "admin"  # type: ignore[arg-type]
    with pytest.raises(ApiError) as err:
        authenticate(request("10.1.2.3"), NoKeys(), 0.0)  # type: ignore[arg-type]
    assert err.value.status == 403 and err.value.code == "loopback_only"


def test_keys_are_stored_hashed(keyed: tuple[Running, dict[str, str]]) -> None:
    import sqlalchemy as sa

    running, keys = keyed
    with running.deps.registry.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash FROM server_api_keys")).all()
    secrets = {k.split("_", 2)[2] for k in keys.values()}
    assert stored and not any(row[0] in secrets for row in stored)
