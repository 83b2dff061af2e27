"""DNS rebinding against an open server, in real headless Chromium (adv20): a page of
``rebound.test``, whose name the browser resolves to 127.0.0.1 (``--host-resolver-rules``,
what a rebinding DNS answer does), is the same origin as the server to the browser. Its
script read the API and created a project; the server now refuses a request addressed to
a name that is not its own while it has no keys. The console at 127.0.0.1 is unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import served  # noqa: E402
from test_console import Server, chromium  # noqa: E402

FLOW = "import airfoil as af\n\n\n@af.task\ndef t() -> int:\n    return 1\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-rebinding", FLOW) as srv:
        yield srv


def test_a_rebound_page_can_neither_read_nor_write(server: Server) -> None:
    port = server.url.rsplit(":", 1)[1].strip("/")
    name = f"x{uuid.uuid4().hex[:8]}"
    with chromium("--host-resolver-rules=MAP rebound.test 127.0.0.1") as browser:
        pg: Any = browser.new_page()
        answer = pg.goto(f"http://rebound.test:{port}/")
        assert answer is not None and answer.status == 403  # not even the console
        # what the attacker's script does once the name points here (same origin)
        seen = pg.evaluate(
            """async (name) => {
                const read = await fetch('/api/v1/projects');
                const write = await fetch('/api/v1/projects', {method: 'POST',
                    headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({name})});
                return [read.status, await read.text(), write.status];
            }""",
            name,
        )
        assert seen[0] == 403 and "host_not_allowed" in seen[1], seen
        assert seen[2] == 403, seen
        # the console itself, at a loopback address, is served
        pg.goto(f"http://127.0.0.1:{port}/")
        pg.wait_for_selector("nav")
    assert name not in httpx.get(f"{server.url}/api/v1/projects").text
