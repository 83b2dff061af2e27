"""A shared server's webhooks keep out of the networks only the server can reach (metadata
services, its loopback, private networks) unless its operator allows them, and out of the
ones it denies: a launch plan's webhook URL is written by whoever registers the plan, but
the server makes the call. The most specific network holding an address decides.

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


def test_a_server_posts_to_an_internal_receiver_only_once_its_network_is_allowed(
    receiver: _Receiver,
) -> None:
    # main: the defaults let a server post to its own loopback (and private networks).
    with pytest.raises(WebhookRefused, match=r"127\.0\.0\.1 is in 127\.0\.0\.0/8, a loopback"):
        WebhookNetworks()(receiver.url + "/hook?x=1", {"text": "hello"}, 5.0)
    assert receiver.paths == []
    WebhookNetworks(allowed=["127.0.0.1"])(receiver.url + "/hook?x=1", {"text": "hello"}, 5.0)
    assert receiver.paths == ["POST /hook?x=1"] and receiver.texts == ["hello"]


def test_a_denied_network_is_never_connected_to(receiver: _Receiver) -> None:
    post = WebhookNetworks(denied=["127.0.0.0/8"], allowed=["127.0.0.0/8"])  # deny wins a tie
    with pytest.raises(WebhookRefused, match=r"127.0.0.1 is in the denied network 127.0.0.0/8"):
        post(receiver.url + "/hook", {"text": "x"}, 5.0)
    with pytest.raises(WebhookRefused, match="denied network"):  # the name, resolved
        post(f"http://localhost:{receiver.http.server_port}/hook", {"text": "x"}, 5.0)
    allowed_elsewhere = WebhookNetworks(allowed=["10.0.0.0/8", "192.168.0.0/16"])
    with pytest.raises(WebhookRefused, match="AIRFOIL_WEBHOOK_ALLOWED_NETWORKS"):
        allowed_elsewhere(receiver.url + "/hook", {"text": "x"}, 5.0)
    assert receiver.paths == [], "nothing reached the receiver"
    WebhookNetworks(allowed=["127.0.0.1"])(receiver.url + "/ok", {"text": "y"}, 5.0)
    assert receiver.paths == ["POST /ok"]


def test_internal_addresses_are_refused_by_default_whatever_the_name_or_form() -> None:
    networks = WebhookNetworks()
    internal = (
        "169.254.169.254",  # AWS, GCP, Azure metadata
        "fd00:ec2::254",  # AWS metadata, IPv6
        "100.100.100.200",  # Alibaba metadata
        "::ffff:169.254.169.254",  # IPv4 written as IPv6
        "64:ff9b::a9fe:a9fe",  # the same through NAT64
        "fe80::1",
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "10.1.2.3",
        "172.20.0.5",
        "192.168.1.1",
        "fd12:3456::1",
        "100.64.0.1",
    )
    for address in internal:
        assert networks.problem(address) is not None, address
    for address in ("93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"):
        assert networks.problem(address) is None, address
    why = networks.problem("169.254.169.254")
    assert why is not None and "169.254.0.0/16" in why and "metadata" in why

    def resolve(host: str, port: int) -> list[tuple[Any, ...]]:  # a name an attacker owns
        stream = socket.SOCK_STREAM
        return [
            (socket.AF_INET, stream, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, stream, 6, "", ("169.254.169.254", port)),
        ]

    rebinding = WebhookNetworks(resolve=resolve)
    with pytest.raises(WebhookRefused, match=r"169\.254\.169\.254 is in 169\.254\.0\.0/16"):
        rebinding("http://metadata.attacker.example/latest", {"text": "x"}, 1.0)


def test_the_most_specific_network_decides() -> None:
    # An internal alerting service opened, and nothing else of its private network.
    one_service = WebhookNetworks(allowed=["10.20.0.0/16"])
    assert one_service.problem("10.20.3.4") is None
    assert one_service.problem("10.30.0.1") is not None
    # Allowing everything opens no internal network: each is more specific than /0.
    everything = WebhookNetworks(allowed=["0.0.0.0/0", "::/0"])
    assert everything.problem("169.254.169.254") is not None
    assert everything.problem("127.0.0.1") is not None
    assert everything.problem("93.184.216.34") is None
    # Only some networks: deny all, allow those (the operator's allowance is more specific).
    only = WebhookNetworks(denied=["0.0.0.0/0", "::/0"], allowed=["203.0.113.0/24"])
    assert only.problem("203.0.113.9") is None
    assert only.problem("93.184.216.34") is not None
    assert only.problem("2606:2800:220:1::1") is not None
    # A public network the operator denies, and a host in it the operator allows.
    carved = WebhookNetworks(denied=["198.51.100.0/24"], allowed=["198.51.100.7"])
    assert carved.problem("198.51.100.7") is None
    assert carved.problem("198.51.100.8") is not None
    # The metadata service only by its own address, never by a wider allowance.
    assert WebhookNetworks(allowed=["169.254.0.0/16"]).problem("169.254.169.254") is None
    assert WebhookNetworks(allowed=["169.254.0.0/15"]).problem("169.254.169.254") is not None


def test_a_redirect_is_not_followed() -> None:
    target = _Receiver()
    mover = _Receiver(status=302, location=target.url + "/moved")
    try:
        with pytest.raises(OSError, match="HTTP 302"):
            WebhookNetworks(allowed=["127.0.0.1"])(mover.url + "/hook", {"text": "x"}, 5.0)
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


def test_a_server_sends_no_webhook_to_its_own_loopback_by_default(
    tmp_path: Path, receiver: _Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A server with no webhook settings refuses a plan's webhook to its loopback (on main it
    posted it: only link-local and metadata addresses were refused by default)."""
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    name = f"wh_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(PLAN.replace("HOOK_URL", receiver.url + "/hook"))
    load_entity(str(path), "hooked")
    mod = sys.modules[name]
    running = start_server(tmp_path / "home", None, webhook_allowed_networks=())  # the default
    try:
        with Client(running.url, project="hooks") as client:
            client.register([mod.hooked])
            run = client.launch_plan("hooked", {"n": 1})
            assert client.wait(run.id, timeout=60).phase == "succeeded"
    finally:
        running.stop()
    assert receiver.paths == []
    refused = [r.getMessage() for r in caplog.records if r.name == "airfoil.notifications"]
    assert any("127.0.0.1 is in 127.0.0.0/8, a loopback network" in m for m in refused), refused
    assert all("/hook" not in m for m in refused), "the URL's path (a Slack secret) is not logged"
