"""A launch with an ``Idempotency-Key`` launches once: on integ a retry of a launch whose
answer was lost (a timeout, a dropped connection) launched a second execution, and the client
never retried at all. The same key with the same request is answered with the same execution
(200, ``Idempotent-Replayed``); with another request it is a 422 naming the key; keys are per
project; two launches racing with one key get one execution; past the retention window the
key launches anew. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from airfoil.core.errors import InvalidInputError

pytestmark = pytest.mark.integration


def _post(client: Any, body: dict[str, Any], key: str | None, project: str = "") -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    path = f"/api/v1/projects/{project or client.project}/domains/development/executions"
    return client._http.post(path, json=body, headers=headers)


def _count(client: Any, project: str | None = None) -> int:
    return int(client.list(project=project).total)


def test_the_same_key_and_request_get_the_same_execution(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 4}, "labels": {"try": "1"}}
    first = _post(client, body, "job-42:attempt")
    again = _post(client, body, "job-42:attempt")
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json()["id"] == first.json()["id"]
    assert _count(client) == 1
    client.wait(first.json()["id"], timeout=60)
    ended = _post(client, body, "job-42:attempt")  # an ended run is still the answer
    assert (ended.status_code, ended.json()["id"]) == (200, first.json()["id"])
    assert ended.json()["phase"] == "succeeded"
    # no key: a new execution each time, as before
    assert _post(client, body, None).json()["id"] != first.json()["id"]
    assert _count(client) == 2


def test_the_same_key_with_another_request_is_a_422_naming_it(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 1}}
    first = _post(client, body, "k-1")
    assert first.status_code == 201, first.text
    for other, domain in (({"inputs": {"x": 2}}, ""), ({"name": "nightly"}, ""), ({}, "staging")):
        path = f"/api/v1/projects/{client.project}/domains/{domain or 'development'}/executions"
        r = client._http.post(path, json=body | other, headers={"Idempotency-Key": "k-1"})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "'k-1'" in error["message"] and first.json()["name"] in error["message"]
    assert _count(client) == 1
    with pytest.raises(InvalidInputError, match="k-1"):
        client.launch(flow.wf, {"x": 3}, idempotency_key="k-1")


def test_keys_are_per_project(client: Any, flow: Any) -> None:
    other = client.project + "b"
    client.register([flow.wf])
    client.register([flow.wf], project=other)
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 1}}
    mine = _post(client, body, "shared-key")
    theirs = _post(client, body, "shared-key", project=other)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    changed = _post(client, body | {"inputs": {"x": 9}}, "shared-key", project=other + "c")
    assert changed.status_code == 404  # a project with no such entity; no word of the key


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_bad_key_is_a_422_naming_the_header(client: Any, flow: Any, key: str) -> None:
    client.register([flow.wf])
    r = client._http.post(
        f"/api/v1/projects/{client.project}/domains/development/executions",
        json={"entity": flow.wf.spec.name, "inputs": {"x": 1}},
        headers=[("Idempotency-Key", key.encode())],
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("header.Idempotency-Key:"), r.text
    assert _count(client) == 0


def test_launches_racing_with_one_key_get_one_execution(client: Any, flow: Any) -> None:
    client.register([flow.wf])
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 5}}
    answers: list[Any] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        answers.append(_post(client, body, "race"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert _count(client) == 1


def test_past_the_window_the_key_launches_anew(
    client: Any, flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airfoil.server import _idempotency

    client.register([flow.wf])
    body = {"entity": flow.wf.spec.name, "inputs": {"x": 1}}
    first = _post(client, body, "daily")
    monkeypatch.setattr(_idempotency, "IDEMPOTENCY_WINDOW_S", -1.0)  # every key past it
    later = _post(client, body | {"inputs": {"x": 2}}, "daily")
    assert later.status_code == 201, later.text
    monkeypatch.undo()
    again = _post(client, body | {"inputs": {"x": 2}}, "daily")
    assert (again.status_code, again.json()["id"]) == (200, later.json()["id"])
    assert first.json()["id"] != later.json()["id"]


class _LoseFirstAnswer(httpx.BaseTransport):
    """Sends each request; the first launch's answer is lost on the way back (as a client's
    read timeout after the server launched)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.launches: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/executions"):
            self.launches.append(request.headers.get("Idempotency-Key"))
            if len(self.launches) == 1:
                response.read()
                response.close()
                raise httpx.ReadTimeout("timed out reading the answer", request=request)
        return response


def test_the_client_retries_a_lost_launch_without_launching_twice(server: Any, flow: Any) -> None:
    from airfoil.client import Client

    lossy = _LoseFirstAnswer()
    project = f"retry{id(lossy) % 100000}"
    with Client(server.url, project=project, transport=lossy) as c:
        c.register([flow.wf])
        ex = c.launch(flow.wf, {"x": 2})
        assert len(lossy.launches) == 2 and lossy.launches[0] == lossy.launches[1]
        assert lossy.launches[0]  # one key, made by the client
        assert [e.id for e in c.list().items] == [ex.id]
        assert c.launch(flow.wf, {"x": 2}).id != ex.id  # a new call: a new key, a new run
