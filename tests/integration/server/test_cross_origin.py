"""A browser's request for another site changes nothing (adv19): a page the user visits, or a
task's report (scripts in a frame of an opaque origin), may send a "simple" POST to the
server without asking first; on an open server (no keys: loopback callers are admin) it ran.
The browser names such a request (``Sec-Fetch-Site``, ``Origin: null``): refused with 403
``cross_origin``. The console (same-origin) and non-browser clients are unchanged."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def _create(client: Any, headers: dict[str, str]) -> tuple[httpx.Response, str]:
    name = f"x{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        f"{client.url}/api/v1/projects", content=f'{{"name": "{name}"}}', headers=headers
    )
    return r, name


def _exists(client: Any, name: str) -> bool:
    listed = httpx.get(f"{client.url}/api/v1/projects").json()
    return name in str(listed)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},  # a sandboxed frame (a report), in a browser without Sec-Fetch-*
    ],
)
def test_a_browsers_request_from_elsewhere_is_refused(client: Any, headers: dict[str, str]) -> None:
    r, name = _create(client, headers)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "cross_origin"
    assert not _exists(client, name)
    # reads stay open
    read = httpx.get(f"{client.url}/api/v1/projects", headers=headers)
    assert read.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
)
def test_the_console_and_other_clients_are_served(client: Any, headers: dict[str, str]) -> None:
    r, name = _create(client, {"Content-Type": "application/json", **headers})
    assert r.status_code in (200, 201), r.text
    assert _exists(client, name)
