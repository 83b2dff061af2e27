"""An execution's detail polled while it runs: each node's JSON is built again only when
its record or attempts changed, and an unchanged detail is answered 304 to a poller that
sends its entity tag back (the console's browser, ``Client.get``)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from airfoil.server import _convert as cv
from airfoil.server import _services as svc

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for(cond: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = cond()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _fresh(d: svc.Deps, project: str, execution_id: str) -> bytes:
    """The detail as built from nothing kept."""
    with d.detail_lock:
        d.detail_cache.clear()
    return svc.execution_detail_json(d, project, execution_id)


def test_a_detail_rebuilt_after_events_builds_only_the_nodes_that_changed(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.register([flow.gated])
    ex = client.launch(flow.gated, {"x": 4})
    url = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}"

    def waiting_for_both_gates() -> Any:
        nodes = httpx.get(url).json()["nodes"]
        done = [n for n in nodes if n["task"].endswith("double") and n["phase"] == "succeeded"]
        gates = [n for n in nodes if n["kind"] == "gate" and n["phase"] == "running"]
        return done and len(gates) == 2 and done[0]["id"]

    doubled = _wait_for(waiting_for_both_gates)
    built: list[str] = []
    node_view = cv.NodeViews.node  # what builds each node's view of a detail

    def counted(views: Any, n: Any, *args: Any) -> Any:
        built.append(n.node_id)
        return node_view(views, n, *args)

    monkeypatch.setattr(cv.NodeViews, "node", counted)
    before = httpx.get(url).content  # kept since the last poll: nothing built
    assert built == []
    client.signal(ex.id, "threshold", 5.5)

    def threshold_passed() -> Any:
        body = httpx.get(url).json()
        gates = [n for n in body["nodes"] if n["kind"] == "gate" and n["phase"] == "succeeded"]
        return gates and body

    shown = threshold_passed() or _wait_for(threshold_passed)
    assert built, "the gate that passed was built again"
    assert doubled not in built  # finished before: its kept JSON was reused
    assert len(set(built)) < len(shown["nodes"])
    # what the reused nodes make is what a build from nothing makes (the execution now
    # waits for its approval: nothing changes in between)
    now = httpx.get(url).content
    assert now != before
    assert _fresh(server.deps, client.project, ex.id) == now
    client.signal(ex.id, "ship", True)
    client.wait(ex.id, poll_s=0.05)
    ended = httpx.get(url).content
    assert _fresh(server.deps, client.project, ex.id) == ended


def test_an_unchanged_detail_is_answered_304_to_its_tag(
    client: Any, flow: Any, server: Any
) -> None:
    client.register([flow.wf])
    ids = [client.launch(flow.wf, {"x": i}).id for i in (2, 3)]
    for i in ids:
        client.wait(i, poll_s=0.05)
    url = f"{server.url}/api/v1/projects/{client.project}/executions/{ids[0]}"
    first = httpx.get(url)
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = httpx.get(url, headers={"If-None-Match": sent})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    other = httpx.get(url, headers={"If-None-Match": '"not-it"'})
    assert (other.status_code, other.content) == (200, first.content)
    # another execution: another tag; the tag of one never answers for another
    second = httpx.get(f"{url[: -len(ids[0])]}{ids[1]}", headers={"If-None-Match": tag})
    assert second.status_code == 200 and second.headers["etag"] != tag
    # another project's path with the right tag: not found, not "unchanged"
    elsewhere = url.replace(f"/projects/{client.project}/", "/projects/elsewhere/")
    assert httpx.get(elsewhere, headers={"If-None-Match": tag}).status_code == 404


def test_the_client_polls_a_detail_with_its_tag(client: Any, flow: Any, server: Any) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    waited = client.wait(ex.id, poll_s=0.05)  # its last step: a get, kept with its tag
    seen: list[tuple[str | None, int]] = []

    def log(response: httpx.Response) -> None:
        seen.append((response.request.headers.get("if-none-match"), response.status_code))

    client._http.event_hooks["response"].append(log)
    again = client.get(ex.id)
    assert again == waited and again.phase == "succeeded"
    [(tag, status)] = seen
    assert tag is not None and status == 304
    other = client.launch(flow.wf, {"x": 3})
    assert client.wait(other.id, poll_s=0.05).id == other.id  # another execution: its own
