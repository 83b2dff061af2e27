"""``GET .../events`` answers in pages (on integ it read, decoded and sent the whole log at
once, ~6 entries a task): a ``limit`` (1,000 by default, at most 10,000) and a full page's
``next_after``, the ``after`` of the next. A client that follows them reads the whole log,
each event once; a bad limit or cursor is a 422 naming it. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_following_next_after_reads_the_whole_log_once(client: Any, flow: Any, server: Any) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    client.wait(ex.id, poll_s=0.05)
    url = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}/events"
    whole = httpx.get(url).json()
    assert len(whole["items"]) >= 4 and whole["next_after"] is None  # under the default page
    seen: list[dict[str, Any]] = []
    after: int | None = 0
    pages = 0
    while after is not None:
        page = httpx.get(url, params={"after": after, "limit": 2}).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        after = page["next_after"]
        pages += 1
        assert pages < 100
    assert seen == whole["items"]
    assert pages == len(whole["items"]) // 2 + 1  # a full last page is followed by an empty one
    followed = [e.model_dump() for e in client.events(ex.id, page=3)]
    assert followed == whole["items"]
    assert [e.seq for e in client.events(ex.id, after=seen[-2]["seq"])] == [seen[-1]["seq"]]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 10_001}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"after": -1}, "query.after"),
        ({"after": "tail"}, "query.after"),
    ],
)
def test_a_bad_limit_or_cursor_is_a_422_naming_it(
    client: Any, flow: Any, server: Any, params: dict[str, Any], named: str
) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 3})
    url = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}/events"
    r = httpx.get(url, params=params)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(named + ":"), error
