"""Which addresses a server's webhooks may reach, and the sender that keeps to them.

A launch plan's webhook URL is written by whoever registers the plan, and the call is made by
the server that ended the execution: on a shared server, a URL naming ``169.254.169.254``
(a cloud's metadata service, whose answers hold the machine's credentials), the server's own
loopback or a private network would let a registrant reach what only the server can reach.
A server therefore sends webhooks through :class:`WebhookNetworks`, which checks every
address the URL's host resolves to against three lists of networks: the internal networks
(:data:`~airfoil.core.launch_plans.INTERNAL_NETWORKS`: metadata services, loopback,
private and other non-public networks), which are refused unless the operator allows them;
the networks the operator allows (``AIRFOIL_WEBHOOK_ALLOWED_NETWORKS``); and the ones the
operator denies (``AIRFOIL_WEBHOOK_DENIED_NETWORKS``). The most specific network holding the
address decides (the longest prefix, as a router picks a route); between networks of one
size the operator's denial wins, then the operator's allowance, then the internal refusal.
An address in none of them (a public one) may be reached. So ``ALLOWED=10.20.0.0/16`` opens
an internal alerting service and nothing else of 10.0.0.0/8, ``ALLOWED=0.0.0.0/0`` opens no
internal network (each is more specific), and ``DENIED=0.0.0.0/0,::/0`` with ``ALLOWED=``
some networks keeps webhooks to those alone. A local run calls anything: it is the user's
own machine (``post_json`` in :mod:`airfoil.engine.launch_plans`).

Invariants:

- The address checked is the address connected to: the connection is opened to the
  resolved, checked address (the host name is kept for TLS and the ``Host`` header), so a
  name that resolves differently a moment later (DNS rebinding) gains nothing. Through an
  HTTP(S) proxy (``HTTPS_PROXY``...), the proxy connects: the host's addresses are checked
  before the request is handed to it.
- A redirect is never followed (it would name a new, unchecked URL): a 3xx answer is a
  failed call.
- IPv4 addresses written as IPv6 (``::ffff:169.254.169.254``) are checked as IPv4.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airfoil.core.errors import ConfigError
from airfoil.core.launch_plans import INTERNAL_NETWORKS

__all__ = ["WebhookNetworks", "WebhookRefused", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_INTERNAL, _ALLOWED, _DENIED = 0, 1, 2  # at one prefix length, the later wins


class WebhookRefused(PermissionError):
    """A webhook's host resolves to an address the server's webhook networks refuse (not
    retried: the answer would be the same)."""


def parse_networks(entries: Iterable[str], setting: str) -> tuple[Network, ...]:
    """CIDR networks (``10.0.0.0/8``) or single addresses (``127.0.0.1``).

    Raises:
        ConfigError: an entry that is neither, naming the setting to fix.
    """
    out: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(
                f"bad {setting} entry {text!r}: give networks as CIDR (10.0.0.0/8, fd00::/8) "
                "or single addresses (127.0.0.1), separated by commas"
            ) from None
    return tuple(out)


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class WebhookNetworks:
    """A server's webhook sender, kept out of internal and denied networks (see the module).

    Args:
        denied: networks no webhook may reach unless a more specific allowed network holds
            the address (``AIRFOIL_WEBHOOK_DENIED_NETWORKS``; default none beyond the
            internal networks, which are always refused unless allowed).
        allowed: networks webhooks may reach, internal ones included, unless a more specific
            (or, of one size, a denied) network refuses them (``AIRFOIL_WEBHOOK_ALLOWED_NETWORKS``).
        resolve: host name -> its addresses (tests substitute it); default ``getaddrinfo``.

    Raises:
        ConfigError: an entry that is not a network or an address.
    """

    def __init__(
        self,
        denied: Iterable[str] = (),
        allowed: Iterable[str] = (),
        resolve: Any = None,
    ) -> None:
        self.denied = parse_networks(denied, "AIRFOIL_WEBHOOK_DENIED_NETWORKS")
        self.allowed = parse_networks(allowed, "AIRFOIL_WEBHOOK_ALLOWED_NETWORKS")
        self._resolve = resolve or _resolve
        # (network, rank of its list at a tie, what it is): a later rank wins a tie
        self._rules: list[tuple[Network, int, str]] = [
            (ipaddress.ip_network(net), _INTERNAL, what) for net, what in INTERNAL_NETWORKS
        ]
        self._rules += [(net, _ALLOWED, "") for net in self.allowed]
        self._rules += [(net, _DENIED, "") for net in self.denied]

    def problem(self, address: str) -> str | None:
        """Why a webhook may not connect to ``address`` (``None``: it may)."""
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        held = [
            (net.prefixlen, rank, str(net), what)
            for net, rank, what in self._rules
            if ip.version == net.version and ip in net
        ]
        if not held:
            return None
        _size, rank, net, what = max(held)
        if rank == _ALLOWED:
            return None
        if rank == _DENIED:
            return f"{ip} is in the denied network {net} (AIRFOIL_WEBHOOK_DENIED_NETWORKS)"
        return (
            f"{ip} is in {net}, a {what}, which a server's webhooks may not reach unless "
            "its operator allows it: add the receiver's network (or address) to "
            "AIRFOIL_WEBHOOK_ALLOWED_NETWORKS"
        )

    def checked_addresses(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """The ``getaddrinfo`` entries of ``host``, each one checked.

        Raises:
            WebhookRefused: one of them is refused (then none is used: a name that resolves
                to a metadata address among public ones is refused whichever comes first).
        """
        infos = self._resolve(host, port)
        for info in infos:
            why = self.problem(info[4][0])
            if why is not None:
                raise WebhookRefused(f"webhook host {host!r} refused: {why}")
        if not infos:
            raise WebhookRefused(f"webhook host {host!r} resolves to no address")
        return list(infos)

    def __call__(self, url: str, payload: dict[str, Any], timeout_s: float) -> None:
        """POST ``payload`` as JSON to ``url``; raise on a refused address, a connection
        error or a status other than 2xx (redirects included)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise WebhookRefused(f"not an http(s) URL with a host: {scheme}:")
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if _proxied(scheme, host):
            self.checked_addresses(host, port)
            _post_via_proxy(url, body, headers, timeout_s)
            return
        infos = self.checked_addresses(host, port)
        conn = _connection(scheme, host, port, timeout_s, infos)
        try:
            path = parts.path or "/"
            conn.request("POST", path + (f"?{parts.query}" if parts.query else ""), body, headers)
            status = conn.getresponse().status
        finally:
            conn.close()
        if not 200 <= status < 300:
            raise OSError(f"HTTP {status}")


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _connect_checked(infos: list[tuple[Any, ...]], timeout: float | None) -> socket.socket:
    """A socket connected to the first checked address that answers."""
    error: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to addresses checked beforehand, never to a fresh resolution of the host."""

    checked: list[tuple[Any, ...]] = []

    def connect(self) -> None:
        self.sock = _connect_checked(self.checked, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection, _PinnedHTTP):
    """TLS over a pinned connection: ``HTTPSConnection.connect`` wraps the socket that
    ``_PinnedHTTP.connect`` opened, verifying the certificate against the host's name."""


def _connection(
    scheme: str, host: str, port: int, timeout_s: float, infos: list[tuple[Any, ...]]
) -> http.client.HTTPConnection:
    conn: _PinnedHTTP
    if scheme == "https":
        conn = _PinnedHTTPS(host, port, timeout=timeout_s)
    else:
        conn = _PinnedHTTP(host, port, timeout=timeout_s)
    conn.checked = infos
    return conn


def _proxied(scheme: str, host: str) -> bool:
    import urllib.request

    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def _post_via_proxy(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # a 3xx becomes an HTTPError: the new URL is never called

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with opener.open(request, timeout=timeout_s) as response:
        status = int(response.status)
    if not 200 <= status < 300:  # pragma: no cover - the opener raises HTTPError for these
        raise OSError(f"HTTP {status}")
