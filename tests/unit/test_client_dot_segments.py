"""(adv23) The client put names into request paths as they came: httpx resolves ``.`` and
``..`` segments (RFC 3986), so ``Deployments(client, "alpha").key("../../beta/deployments/
tiny")`` asked for project beta's deployment key, and ``.stop`` of such a name stopped
another project's deployment (where the caller's key may: a ``*`` key, a name taken from
user input). Now a path with such a segment is refused before anything is sent, and a
deployment's name is one path segment (no ``/``; quoted: ``?`` and ``#`` stay in it).
No server: a transport that records what would be sent."""

from __future__ import annotations

import httpx
import pytest

from airfoil.client import Client
from airfoil.client._deployments import Deployments
from airfoil.core.errors import ConfigError

pytestmark = pytest.mark.unit


def _client() -> tuple[Client, list[str]]:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.raw_path.decode())
        body = {"project": "alpha", "name": "x", "key": "afm_k", "urls": []}
        return httpx.Response(200, json=body)

    client = Client("http://127.0.0.1:9", api_key="k", project="alpha")
    client._http = httpx.Client(base_url=client.url, transport=httpx.MockTransport(answer))
    return client, sent


@pytest.mark.parametrize("name", ["..", ".", "../../beta/deployments/tiny", "a/../../b"])
def test_a_name_that_would_climb_out_of_its_project_is_refused(name: str) -> None:
    client, sent = _client()
    deployments = Deployments(client)
    for call in (deployments.key, deployments.stop, deployments.get, deployments.drift):
        with pytest.raises(ConfigError, match="invalid deployment name"):
            call(name)
    assert sent == []


@pytest.mark.parametrize("path", ["/projects/alpha/artifacts/../../beta/x", "/projects/./a"])
def test_any_request_path_with_a_dot_segment_is_refused(path: str) -> None:
    client, sent = _client()
    with pytest.raises(ConfigError, match=r"'\.\.?' is no name"):
        client._call("GET", path)
    client._call("GET", "/projects/alpha/artifacts/a..b?q=../x")  # dots inside a name: fine
    assert sent == ["/api/v1/projects/alpha/artifacts/a..b?q=../x"]


def test_a_deployments_name_is_one_path_segment() -> None:
    client, sent = _client()
    Deployments(client).key("tiny?x=1#y")  # no deployment's name: the server says so
    assert sent == ["/api/v1/projects/alpha/deployments/tiny%3Fx%3D1%23y/key"]
