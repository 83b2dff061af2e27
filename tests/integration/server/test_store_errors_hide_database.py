"""A store failure's 503 names nothing of the database to a client: on integ ``/readyz``
(which needs no key) and every API route answered ``... failed on
postgresql+psycopg://user@host:port/database: connection to server at "host" ...`` to anyone
who could reach the port. The server's log keeps the masked address for the operator; a
client with a valid key learns whether a retry may help, never where the database is."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from _db_faults import Outage
from _srv import start_server

from airfoil.wire import API_PREFIX

pytestmark = pytest.mark.integration


def _names_nothing_of(body: str, url: sa.URL) -> None:
    for part in (url.host, url.username, url.database, str(url.port), "postgresql"):
        assert part and part not in body, (part, body)


def test_a_database_outage_names_no_database_to_clients(
    tmp_path: Path,
    scratch_db: tuple[str, str],
    pg_admin: sa.Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, name = scratch_db
    shown = sa.engine.make_url(url)
    running = start_server(tmp_path, url, run_engine=False, store_retry_budget_s=0.5)
    outage = Outage(pg_admin, name)
    try:
        key = running.deps.registry.create_key("alpha", "viewer")[1]
        listing = f"{running.url}{API_PREFIX}/projects/alpha/executions"
        assert httpx.get(listing, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        outage.begin()
        caplog.set_level(logging.WARNING, logger="airfoil.server")
        ready = httpx.get(running.url + "/readyz", timeout=30)
        keyed = httpx.get(listing, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        keyless = httpx.get(listing, timeout=30)
    finally:
        outage.end()
        running.stop()
    assert ready.status_code == 503, ready.text
    assert ready.json()["error"] == {
        "code": "store_unavailable",
        "message": "the database does not answer; try again",
    }
    assert keyed.status_code == 503, keyed.text
    assert keyed.json()["error"]["code"] == "store_unavailable"
    assert "the database does not answer" in keyed.json()["error"]["message"]
    assert keyless.status_code in (401, 503), keyless.text
    for r in (ready, keyed, keyless):
        _names_nothing_of(r.text, shown)
    # the operator still reads where the database is (its password masked)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert name in logged, logged
    assert shown.password is None or shown.password not in logged
