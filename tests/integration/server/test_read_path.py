"""What the console's and the CLI's reads cost the API process beyond their answer: hops
to the thread pool (each a wait for a thread and then for the event loop, under the
engine's load) and objects kept for the garbage collector to walk (a full collection holds
the GIL while every request waits)."""

from __future__ import annotations

from typing import Any

import pytest

from airfoil.server import _services as svc

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the name of each function the server hands to its thread pool (the
    server runs in a thread of this process, so patching anyio here counts its hops)."""
    import anyio.to_thread

    hops: list[str] = []
    original = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        inner = getattr(func, "keywords", {}).get("function") or getattr(func, "func", func)
        hops.append(getattr(inner, "__qualname__", repr(type(inner))))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return hops


def test_the_detail_and_the_list_go_to_the_thread_pool_once(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    client.wait(ex.id, poll_s=0.05)
    hops = _count_hops(monkeypatch)
    detail = client.get(ex.id)
    assert detail.phase == "succeeded"
    # one hop (the fast lane's) for the caller's key, the execution's resolution and the
    # route (through FastAPI: one for the key's dependency, one for the route)
    assert hops == ["FastLane.answer.<locals>.call"], hops
    hops.clear()
    page = client.list()
    assert [e.id for e in page.items] == [ex.id]
    assert page.total == 1
    assert hops == ["FastLane.answer.<locals>.call"], hops  # none to validate the page


def test_a_page_of_events_goes_to_the_thread_pool_once(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    client.wait(ex.id, poll_s=0.05)
    url = f"{server.url}/api/v1/projects/{client.project}/executions/{ex.id}/events"
    hops = _count_hops(monkeypatch)
    whole = httpx.get(url, params={"after": 0})
    assert whole.status_code == 200
    page = whole.json()
    assert page["phase"] == "succeeded"
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs) and len(seqs) >= 4
    assert {"seq", "at", "kind", "to_phase", "cause", "node_id", "attempt"} <= set(page["items"][0])
    # the caller's key and the route on one hop; none to validate the page it returned
    assert hops == ["FastLane.answer.<locals>.call"], hops
    rest = httpx.get(url, params={"after": seqs[1]}).json()
    assert [e["seq"] for e in rest["items"]] == seqs[2:]
    assert rest["items"] == page["items"][2:]


def test_details_of_executions_of_one_version_hold_one_copy_of_its_spec(
    client: Any, flow: Any, server: Any
) -> None:
    client.register([flow.wf])
    ids = [client.launch(flow.wf, {"x": i}).id for i in range(3)]
    for i in ids:
        client.wait(i, poll_s=0.05)
        client.get(i)  # its detail: built and kept
    d: svc.Deps = server.deps
    with d.detail_lock:
        kept = [d.detail_cache[i][4] for i in ids]
    assert len({id(rec.spec) for rec in kept}) == 1
    assert kept[0].spec == d.meta.get_execution(ids[0]).spec


def test_a_page_of_the_execution_list_and_its_total_are_one_read(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.register([flow.wf])
    ids = [client.launch(flow.wf, {"x": i}).id for i in range(3)]
    for i in ids:
        client.wait(i, poll_s=0.05)
    meta = server.deps.meta
    counted: list[dict[str, Any]] = []
    count = meta.count_executions

    def counting(**filters: Any) -> int:
        counted.append(filters)
        return int(count(**filters))

    monkeypatch.setattr(meta, "count_executions", counting)
    page = client.list(limit=2)
    assert [e.id for e in page.items] == ids[::-1][:2]
    assert page.total == 3
    assert counted == []  # the total came with the page's rows
    past = client.list(limit=2, offset=5)  # no row to carry it: counted on its own
    assert (past.items, past.total) == ([], 3)
    assert len(counted) == 1


def test_a_client_waiting_for_an_execution_reads_its_phase_not_its_event_log(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.register([flow.wf])
    ex = client.launch(flow.wf, {"x": 2})
    client.wait(ex.id, poll_s=0.05)  # ended: its event log is whole
    meta = server.deps.meta
    reads: list[int] = []
    get_events = meta.get_events

    def counting(execution_id: str, after_seq: int = 0, **how: Any) -> Any:
        reads.append(after_seq)
        return get_events(execution_id, after_seq=after_seq, **how)

    monkeypatch.setattr(meta, "get_events", counting)
    pages: list[dict[str, Any]] = []

    def read(response: Any) -> None:
        if response.request.url.path.endswith("/events"):
            response.read()
            pages.append(response.json())

    client._http.event_hooks = {"response": [read]}
    try:
        detail = client.wait(ex.id, poll_s=0.05)
    finally:
        client._http.event_hooks = {"response": []}
    assert detail.phase == "succeeded"
    assert [p["phase"] for p in pages] == ["succeeded"]
    assert pages[0]["items"] == []  # main: the whole log, every entry encoded and sent
    assert reads == []  # the page past the last possible event reads no events at all
    log = client._http.get(
        f"/api/v1/projects/{client.project}/executions/{ex.id}/events", params={"after": 0}
    )
    assert len(log.json()["items"]) >= 4  # which is there to be read


def test_a_launch_goes_to_the_thread_pool_for_its_key_and_its_route_only(
    client: Any, flow: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.register([flow.wf])
    hops = _count_hops(monkeypatch)
    ex = client.launch(flow.wf, {"x": 2}, labels={"team": "ünïcode"})
    # the key's dependency and the route; none to validate the summary it returned
    assert hops == ["_caller.<locals>.dependency", "launch"], hops
    assert (ex.workflow, ex.labels["team"], ex.phase) == ("flow.wf", "ünïcode", "queued")
    client.wait(ex.id, poll_s=0.05)
