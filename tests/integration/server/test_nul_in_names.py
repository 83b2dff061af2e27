"""A NUL character in a name or filter a client gives (a path segment, a query parameter, a
launch's entity or version) finds nothing (SQLite: 404, an empty list) or is the client's
error naming it (PostgreSQL, which holds no such text: 422). On main, PostgreSQL's driver
refused the text and the server answered 503 ``store_unavailable`` ("reading ... failed on
postgresql://..."), which tells a client the database is away and to retry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _srv import Running

pytestmark = pytest.mark.integration

NUL = "a\u0000b"
PATHS = [
    "/executions?workflow=a%00b",
    "/tasks/a%00b/stats",
    "/workflows/a%00b/runs",
    "/launch-plans/a%00b",
    "/artifacts/a%00b",
    "/deployments/a%00b",
]
LAUNCHES = [{"entity": NUL}, {"entity": "flow.wf", "version": NUL}]


def test_a_nul_in_a_name_or_filter_is_never_a_store_failure(server: Running, flow: Any) -> None:
    from airfoil.client import Client

    with Client(server.url, project="nul") as c:
        c.register([flow.wf])
    base = server.url + "/api/v1/projects/nul"
    answers = [httpx.get(base + path, timeout=30) for path in PATHS]
    answers += [
        httpx.post(base + "/domains/development/executions", json=body, timeout=30)
        for body in LAUNCHES
    ]
    answers.append(
        httpx.post(base + "/artifacts/m/aliases", json={"alias": "prod", "version": 1}, timeout=30)
    )  # a name found nowhere, the control: 404 on both stores
    for r in answers:
        assert r.status_code in (200, 404, 422), (r.request.url, r.text)
        if r.status_code == 422:
            assert "NUL character" in r.json()["error"]["message"], r.text
