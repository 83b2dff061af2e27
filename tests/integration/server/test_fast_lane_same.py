"""The fast lane answers as FastAPI does: two servers on one store, one answering the hot
routes on its fast lane and one with every request through FastAPI (``fast_lane=False``),
asked the same requests (valid and invalid parameters, every kind of caller, entity tags),
give the same status, headers and bytes, and count the same API latency series."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _srv import Running, start_server

from airfoil.server import _fast_lane

pytestmark = pytest.mark.integration

PROJECT = "lane"
SEQ_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, flow: Any) -> Iterator[dict[str, Any]]:
    """Server ``a`` (with the engine and the fast lane) and ``b`` (API only, no fast lane)
    on one SQLite store holding ended executions: two named, one in each of two domains."""
    from airfoil.client import Client

    home: Path = tmp_path_factory.mktemp("lane-home")
    a = start_server(home, None)
    b = start_server(home, None, run_engine=False, fast_lane=False)
    b.deps.detail_tag = a.deps.detail_tag  # the entity tags' process part alike
    with Client(a.url, project=PROJECT) as c:
        c.register([flow.wf])
        first = c.launch(flow.wf, {"x": 2}, name="twice")
        other = c.launch(flow.wf, {"x": 3}, name="twice", domain="staging")
        plain = c.launch(flow.wf, {"x": 4})
        for ex in (first, other, plain):
            c.wait(ex.id, poll_s=0.05, timeout=60)
    with Client(a.url, project="elsewhere") as c:
        c.register([flow.wf])
        foreign = c.launch(flow.wf, {"x": 5})
        c.wait(foreign.id, poll_s=0.05, timeout=60)
    yield {"a": a, "b": b, "ids": [first.id, other.id, plain.id], "foreign": foreign.id}
    a.stop()
    b.stop()


def _requests(ids: list[str], foreign: str) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path with query, headers) of the hot routes, valid and not."""
    base = f"/api/v1/projects/{PROJECT}/executions"
    refs = [*ids, "twice", "nope", foreign, "x" * 100, "x" * 101, "a%00b", "%C3%A9t%C3%A9"]
    events_q = [
        "", "?after=0", "?after=3", f"?after={SEQ_MAX}", f"?after={SEQ_MAX + 1}", "?after=-1",
        "?after=abc", "?after=", "?after=%205", "?after=05", "?after=%2B5", "?after=1.0",
        "?after=1&after=2", "?domain=staging", "?domain=", f"?domain={'d' * 51}",
        "?domain=development&after=1", "?unknown=1",
    ]  # fmt: skip
    list_q = [
        "", "?limit=1", "?limit=0", "?limit=500", "?limit=501", "?limit=abc", "?offset=1",
        "?offset=10000001", "?phase=succeeded", "?phase=bogus", "?phase=succeeded%0A",
        "?q=twice", f"?q={'q' * 201}", "?workflow=flow.wf", "?domain=staging",
        "?since=0", "?until=1e11", "?since=abc", "?limit=2&limit=3", "?limit=%2010",
    ]  # fmt: skip
    out: list[tuple[str, str, dict[str, str]]] = []
    for ref in refs:
        out += [("GET", f"{base}/{ref}/events{q}", {}) for q in events_q]
        out += [("GET", f"{base}/{ref}{q}", {}) for q in ("", "?domain=staging", "?after=1")]
    out += [("GET", f"{base}{q}", {}) for q in list_q]
    for project in ("-bad", "a" * 101, "a" * 100, "ok%0A", "elsewhere", "none.such"):
        out += [
            ("GET", f"/api/v1/projects/{project}/executions", {}),
            ("GET", f"/api/v1/projects/{project}/executions/{ids[0]}", {}),
            ("GET", f"/api/v1/projects/{project}/executions/{ids[0]}/events", {}),
        ]
    out += [
        ("HEAD", f"{base}/{ids[0]}", {}),
        ("POST", f"{base}/{ids[0]}/events", {}),
        ("GET", f"{base}/{ids[0]}/events/", {}),
        ("GET", f"{base}/", {}),
    ]
    return out


def _same(a: httpx.Response, b: httpx.Response, what: str) -> None:
    def headers(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in r.headers.items() if k not in ("date", "server"))

    assert (a.status_code, headers(a), a.content) == (b.status_code, headers(b), b.content), what


def _api_series(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if re.match(r"airfoil_api_\w+_count\{", line) and "/metrics" not in line
    }


def _compare(pair: dict[str, Any], keys: dict[str, dict[str, str]]) -> int:
    a: Running = pair["a"]
    b: Running = pair["b"]
    taken = 0
    answer = _fast_lane.FastLane.answer

    async def counted(self: Any, *args: Any) -> bool:
        nonlocal taken
        took = await answer(self, *args)
        taken += took
        return took

    _fast_lane.FastLane.answer = counted  # type: ignore[method-assign]
    try:
        with httpx.Client(timeout=30) as http:
            for method, path, headers in _requests(pair["ids"], pair["foreign"]):
                for who, key in keys.items():
                    sent = {**headers, **key}
                    ra = http.request(method, a.url + path, headers=sent)
                    rb = http.request(method, b.url + path, headers=sent)
                    _same(ra, rb, f"{method} {path} as {who}")
                    etag = ra.headers.get("etag")
                    if etag is not None:  # the detail again, with its tag (304), and others
                        for match in (etag, f"W/{etag}", '"other"', f'"other", {etag}', "*"):
                            tagged = {**sent, "If-None-Match": match}
                            _same(
                                http.request(method, a.url + path, headers=tagged),
                                http.request(method, b.url + path, headers=tagged),
                                f"{method} {path} as {who}, If-None-Match {match}",
                            )
    finally:
        _fast_lane.FastLane.answer = answer  # type: ignore[method-assign]
    return taken


def test_open_server_answers_alike(pair: dict[str, Any]) -> None:
    before_a, before_b = _api_series(pair["a"].url), _api_series(pair["b"].url)
    taken = _compare(pair, {"loopback": {}})
    assert taken > 150  # the lane answered the valid ones
    after_a, after_b = _api_series(pair["a"].url), _api_series(pair["b"].url)
    grew_a = {k: v - before_a.get(k, 0) for k, v in after_a.items() if v != before_a.get(k, 0)}
    grew_b = {k: v - before_b.get(k, 0) for k, v in after_b.items() if v != before_b.get(k, 0)}
    assert grew_a == grew_b
    assert any("/events" in k and 'status="200"' in k for k in grew_a), grew_a


def test_keyed_server_answers_alike(pair: dict[str, Any]) -> None:
    registry = pair["a"].deps.registry
    keys = {role: registry.create_key(PROJECT, role)[1] for role in ("viewer", "runner")}
    keys["other"] = registry.create_key("elsewhere", "admin")[1]
    keys["global"] = registry.create_key("*", "viewer")[1]
    revoked_id, revoked = registry.create_key(PROJECT, "admin")
    registry.revoke_key(revoked_id)
    time.sleep(2.5)  # both servers' key checks see the keys (KEYS_MAX_AGE_S)
    headers = {
        "none": {},
        "viewer": {"Authorization": f"Bearer {keys['viewer']}"},
        "runner by X-API-Key": {"X-API-Key": keys["runner"]},
        "other project": {"Authorization": f"Bearer {keys['other']}"},
        "global": {"Authorization": f"bearer {keys['global']}"},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "malformed": {"Authorization": "Bearer nonsense"},
        "basic": {"Authorization": "Basic eDp5"},
    }
    assert _compare(pair, headers) > 1000


def _raw(url: str, request: bytes) -> tuple[bytes, bytes]:
    """The status line and body of a raw HTTP request's answer (the server closes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


def test_a_request_with_a_body_is_left_to_fastapi(pair: dict[str, Any]) -> None:
    """A body declared past MAX_BODY is refused (413) before any route runs, on the hot
    routes too (the lane leaves every request with a body to FastAPI's stack)."""
    path = f"/api/v1/projects/{PROJECT}/executions/{pair['ids'][0]}/events"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {64 * 2**20 + 1}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    a, b = _raw(pair["a"].url, request), _raw(pair["b"].url, request)
    assert a == b
    assert a[0].startswith(b"HTTP/1.1 413"), a
