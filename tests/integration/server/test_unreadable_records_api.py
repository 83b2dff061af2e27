"""An execution whose stored record no longer decodes (stored by an older or faulty
version) is left out of the server's listing, which still answers for the project; its
detail is a 500 naming the record (code ``unreadable_record``), not a 503 that tells the
client to retry. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration


def _spoil(url: str, execution_id: str) -> None:
    """A spec of the wrong type in the record, a phase of the wrong type in the head."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        q = sa.text("SELECT record, head FROM executions WHERE id = :id")
        record, head = conn.execute(q, {"id": execution_id}).one()
        record, head = json.loads(record), json.loads(head)
        record["spec"]["version"] = 2
        head["phase"] = 7
        q = sa.text("UPDATE executions SET record = :r, head = :h WHERE id = :id")
        conn.execute(q, {"r": json.dumps(record), "h": json.dumps(head), "id": execution_id})
    engine.dispose()


def test_an_unreadable_execution_is_left_out_of_the_list_and_its_detail_names_it(
    client: Any, flow: Any, server: Any
) -> None:
    client.register([flow.wf])
    bad, good = client.launch(flow.wf, {"x": 1}), client.launch(flow.wf, {"x": 2})
    for ex in (bad, good):
        client.wait(ex.id, poll_s=0.05)
    _spoil(server.deps.meta.url, bad.id)

    page = client.list()
    assert [e.id for e in page.items] == [good.id]
    base = f"{server.url}/api/v1/projects/{client.project}/executions"
    detail = httpx.get(f"{base}/{bad.id}")
    assert detail.status_code == 500
    error = detail.json()["error"]
    assert error["code"] == "unreadable_record"
    assert f"execution {bad.id!r} cannot be read" in error["message"]
    assert httpx.get(f"{base}/{good.id}").status_code == 200
