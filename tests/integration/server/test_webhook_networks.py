"""A shared server's webhooks keep away from the networks its operator denies (by default the
link-local ranges and cloud metadata addresses) and to the ones it allows: a launch plan's
webhook URL is written by whoever registers the plan, but the server makes the call.

Every address here is 127.0.0.1 (a real receiver) or a substituted name resolution: no test
reaches another machine.
"""

from __future__ import annotations

import json
import socket
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _srv import start_server

from airfoil.core.errors import ConfigError
from airfoil.engine.webhooks import WebhookNetworks, WebhookRefused

pytestmark = pytest.mark.integration


class _Receiver:
    def __init__(self, status: int = 200, location: str = "") -> None:
        self.paths: list[str] = []
        self.texts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                receiver.paths.append(f"{self.command} {self.path}")
                size = int(self.headers.get("Content-Length") or 0)
                if size:
                    receiver.texts.append(json.loads(self.rfile.read(size))["text"])
                self.send_response(status if self.path != "/moved" else 200)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def test_the_default_networks_let_a_server_post_to_a_normal_address(receiver: _Receiver) -> None:
    WebhookNetworks()(receiver.url + "/hook?x=1", {"text": "hello"}, 5.0)
    assert receiver.paths == ["POST /hook?x=1"] and receiver.texts == ["hello"]


def test_a_denied_network_is_never_connected_to(receiver: _Receiver) -> None:
    post = WebhookNetworks(denied=["127.0.0.0/8"])
    with pytest.raises(WebhookRefused, match=r"127.0.0.1 is in the denied network 127.0.0.0/8"):
        post(receiver.url + "/hook", {"text": "x"}, 5.0)
    with pytest.raises(WebhookRefused, match="denied network"):  # the name, resolved
        post(f"http://localhost:{receiver.http.server_port}/hook", {"text": "x"}, 5.0)
    allowed_elsewhere = WebhookNetworks(allowed=["10.0.0.0/8", "192.168.0.0/16"])
    with pytest.raises(WebhookRefused, match=r"in none of the allowed networks 10\.0\.0\.0/8"):
        allowed_elsewhere(receiver.url + "/hook", {"text": "x"}, 5.0)
    assert receiver.paths == [], "nothing reached the receiver"
    WebhookNetworks(allowed=["127.0.0.1"])(receiver.url + "/ok", {"text": "y"}, 5.0)
    assert receiver.paths == ["POST /ok"]


def test_metadata_addresses_are_denied_by_default_whatever_the_name_or_form() -> None:
    networks = WebhookNetworks()
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "fe80::1"):
        assert networks.problem(address) is not None, address
    for address in ("127.0.0.1", "10.1.2.3", "2001:db8::1", "93.184.216.34"):
        assert networks.problem(address) is None, address

    def resolve(host: str, port: int) -> list[tuple[Any, ...]]:  # a name an attacker owns
        stream = socket.SOCK_STREAM
        return [
            (socket.AF_INET, stream, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, stream, 6, "", ("169.254.169.254", port)),
        ]

    rebinding = WebhookNetworks(resolve=resolve)
    with pytest.raises(WebhookRefused, match=r"169\.254\.169\.254 is in the denied network"):
        rebinding("http://metadata.attacker.example/latest", {"text": "x"}, 1.0)


def test_a_redirect_is_not_followed() -> None:
    target = _Receiver()
    mover = _Receiver(status=302, location=target.url + "/moved")
    try:
        with pytest.raises(OSError, match="HTTP 302"):
            WebhookNetworks()(mover.url + "/hook", {"text": "x"}, 5.0)
        assert mover.paths == ["POST /hook"] and target.paths == []
    finally:
        mover.close()
        target.close()


def test_a_bad_network_setting_is_a_config_error_naming_it(tmp_path: Path) -> None:
    from airfoil.server import ServerConfig

    with pytest.raises(ConfigError, match=r"AIRFOIL_WEBHOOK_DENIED_NETWORKS entry '10\.0\.0/33'"):
        ServerConfig(home=str(tmp_path), webhook_denied_networks=("10.0.0/33",))
    with pytest.raises(ConfigError, match="AIRFOIL_WEBHOOK_ALLOWED_NETWORKS entry 'intranet'"):
        ServerConfig(home=str(tmp_path), webhook_allowed_networks=("intranet",))


PLAN = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def inc(n: int) -> int:
        return n + 1

    @af.workflow
    def bumped(n: int) -> int:
        return inc(n=n)

    hooked = af.LaunchPlan.get_or_create(
        bumped, "hooked", notifications=[af.Webhook("HOOK_URL", phases=["succeeded"])]
    )
    """
)


def test_a_server_sends_no_webhook_into_a_denied_network(
    tmp_path: Path, receiver: _Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """On main a server posted every registered plan's webhook wherever its URL pointed:
    its own loopback, its private networks, the cloud's metadata service."""
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    name = f"wh_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(PLAN.replace("HOOK_URL", receiver.url + "/hook"))
    load_entity(str(path), "hooked")
    mod = sys.modules[name]
    running = start_server(tmp_path / "home", None, webhook_denied_networks=("127.0.0.0/8",))
    try:
        with Client(running.url, project="hooks") as client:
            client.register([mod.hooked])
            run = client.launch_plan("hooked", {"n": 1})
            assert client.wait(run.id, timeout=60).phase == "succeeded"
    finally:
        running.stop()
    assert receiver.paths == []
    refused = [r.getMessage() for r in caplog.records if r.name == "airfoil.notifications"]
    assert any("127.0.0.1 is in the denied network 127.0.0.0/8" in m for m in refused), refused
    assert all("/hook" not in m for m in refused), "the URL's path (a Slack secret) is not logged"
