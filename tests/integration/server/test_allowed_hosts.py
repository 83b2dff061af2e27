"""A page whose DNS name rebinds to this machine cannot use an open server (adv20).

With no API keys the server trusts its loopback callers; a browser showing a page of
``evil.example`` that rebinds to 127.0.0.1 is such a caller, and its requests are the page's
*same origin* (no ``Origin``/``Sec-Fetch-Site`` saying otherwise). They still say
``Host: evil.example``: refused on every path (the API, its fast lane, the console, metrics)
while the server is open, unless the operator allowed the name. Real HTTP requests to a
real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _srv import Running, start_server

pytestmark = pytest.mark.integration

#: What a rebinding page's requests look like: its own host, same-origin by every other sign.
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
PATHS = (
    "/api/v1/projects",
    "/api/v1/projects/p/executions",  # the fast lane's
    "/api/v1/projects/p/executions/e1",  # the fast lane's too
    "/",  # the console
    "/metrics",
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Running]]:
    """An open server, and an open one that allows ``airfoil.test`` and ``.corp.test``."""
    plain = start_server(tmp_path_factory.mktemp("hosts-a"), None, run_engine=False)
    named = start_server(
        tmp_path_factory.mktemp("hosts-b"),
        None,
        run_engine=False,
        allowed_hosts=("Airfoil.test", ".corp.test"),
    )
    yield plain, named
    plain.stop()
    named.stop()


def _port(running: Running) -> str:
    return running.url.rsplit(":", 1)[1].strip("/")


@pytest.mark.parametrize(
    "host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "[::1]x"]
)
@pytest.mark.parametrize("path", PATHS)
def test_an_open_server_refuses_a_foreign_host_on_every_path(
    servers: tuple[Running, Running], path: str, host: str
) -> None:
    plain, _ = servers
    r = httpx.get(plain.url + path, headers={**SAME_ORIGIN, "Host": f"{host}:{_port(plain)}"})
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "host_not_allowed"
    assert "--allowed-host" in error["message"] and host in error["message"]


def test_a_rebinding_page_cannot_write(servers: tuple[Running, Running]) -> None:
    plain, _ = servers
    name = f"x{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        plain.url + "/api/v1/projects",
        json={"name": name},
        headers={**SAME_ORIGIN, "Host": "evil.example"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "host_not_allowed"
    assert name not in httpx.get(plain.url + "/api/v1/projects").text


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "LOCALHOST", "127.0.0.2", "[::1]", "0.0.0.0", "10.1.2.3"]
)
def test_localhost_and_addresses_are_served(servers: tuple[Running, Running], host: str) -> None:
    """An address is what the page was served from: rebinding changes names only."""
    plain, _ = servers
    for port in (f":{_port(plain)}", ""):
        r = httpx.get(plain.url + "/api/v1/projects", headers={"Host": host + port})
        assert r.status_code == 200, (host, r.text)


@pytest.mark.parametrize("host", ["airfoil.test", "AIRFOIL.TEST:80", "corp.test", "ci.corp.test"])
def test_an_allowed_name_is_served(servers: tuple[Running, Running], host: str) -> None:
    _, named = servers
    r = httpx.get(named.url + "/api/v1/projects", headers={"Host": host})
    assert r.status_code == 200, r.text
    refused = httpx.get(named.url + "/api/v1/projects", headers={"Host": "evilcorp.test"})
    assert refused.json()["error"]["code"] == "host_not_allowed"


def test_a_keyed_server_answers_any_host_by_its_key(tmp_path: Path) -> None:
    """Once a key exists the API needs it (a rebinding page has none): any name reaches the
    server, and a request without a key is refused as before."""
    running = start_server(tmp_path, None, run_engine=False)
    try:
        foreign = {"Host": "airfoil.example.com"}
        url = running.url + "/api/v1/projects"
        assert httpx.get(url, headers=foreign).json()["error"]["code"] == "host_not_allowed"
        key = running.deps.registry.create_key("*", "viewer")[1]
        r = httpx.get(url, headers={**foreign, "Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert httpx.get(url, headers=foreign).status_code == 401
    finally:
        running.stop()


@pytest.mark.parametrize(
    "path",
    [*PATHS, "/healthz", "/api/v1/projects/nope/values/e/abc", "/api/v1/openapi.json", "/x.js"],
)
def test_every_answer_says_nosniff(servers: tuple[Running, Running], path: str) -> None:
    """A browser reads no answer (a value's download, a log, an error echoing a name) as
    another type than the one declared (adv21): the API, the console, probes, errors, and
    the host check's own refusal."""
    plain, _ = servers
    for host in ("127.0.0.1", "evil.example"):
        r = httpx.get(plain.url + path, headers={"Host": host})
        assert r.headers.get("x-content-type-options") == "nosniff", (host, r.status_code)
