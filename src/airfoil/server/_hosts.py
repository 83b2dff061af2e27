"""Refusing requests addressed to a name that is not this server's, while it has no API keys.

With no keys the server trusts its loopback callers as admins of every project (``_auth``).
A browser is such a caller for any page it shows: a page on ``evil.example`` whose DNS name
is made to point at 127.0.0.1 once loaded (DNS rebinding) reaches the server as the *same
origin* as itself, so the browser lets it read every answer, and its requests carry no
``Origin`` or ``Sec-Fetch-Site`` that says "another site" (``_origin``): it could read, launch
and terminate. Such a request still names the page's host in its ``Host`` header; while the
server is open, a request whose ``Host`` is a name other than ``localhost`` and the ones the
operator allowed (``--allowed-host``, ``AIRFOIL_ALLOWED_HOSTS``) is refused with 403
``host_not_allowed`` on every path: the API, its fast lane, the console's pages,
``/metrics`` and the probes. An IP address (``127.0.0.1``, ``[::1]``, ``0.0.0.0`` as the
start line prints it) passes: a page whose origin is an address was served from that
address, which rebinding cannot change; a caller that is not on loopback is refused by the
key check anyway. A request without a ``Host`` (HTTP/1.0; no browser sends one) passes.

Once a key exists the check is off: every API route then needs a key, which a rebinding
page does not have (the console keeps it in the storage of the origin it was typed into,
and the server sets no cookie), and what answers without one (the console's files, the
same for everyone; ``/healthz``, ``/readyz``, ``/metrics``) answers any client that reaches
the server anyway; a keyed server is reached under names (proxies, DNS) the operator need
not list. Allowed names extend the loopback ones: ``name`` (any port), ``.example.com`` (it
and its subdomains), or ``*`` (any: the check is off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airfoil.wire._hosts import checked_hosts, host_allowed
from airfoil.wire._nosniff import with_nosniff

if TYPE_CHECKING:  # the engine process checks its config's hosts without the API's modules
    from airfoil.server._origin import App, Receive, Scope, Send

__all__ = ["AllowedHosts", "checked_hosts", "host_allowed"]


class AllowedHosts:
    """Answers 403 ``host_not_allowed`` to a request whose ``Host`` is not the server's while
    the server has no keys (see the module's text); passes every other request on. As the
    outermost middleware, it also marks every answer ``X-Content-Type-Options: nosniff``
    (:mod:`airfoil.wire._nosniff`)."""

    def __init__(self, app: App, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = checked_hosts(allowed)
        self.off = "*" in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_nosniff(send)  # every answer, this one's too (the outermost middleware)
        if self.off:
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        if host is None or host_allowed(host.decode("latin-1"), self.allowed):
            await self.app(scope, receive, send)
            return
        if await self._keys_configured(scope):
            await self.app(scope, receive, send)
            return
        from airfoil.server._auth import error_response

        shown = host.decode("latin-1").encode("unicode_escape").decode("ascii")[:200]
        answer = error_response(
            403,
            "host_not_allowed",
            f"Host {shown!r} is not a name of this server: with no API keys it answers "
            "requests addressed to localhost or an IP address (127.0.0.1) only (a page whose "
            "DNS name points here must not use it); add the name with `airfoil server start "
            "--allowed-host NAME` (AIRFOIL_ALLOWED_HOSTS), or create an API key",
        )
        await answer(scope, receive, send)

    @staticmethod
    async def _keys_configured(scope: Scope) -> bool:
        deps = getattr(getattr(scope.get("app"), "state", None), "deps", None)
        if deps is None:  # not started: nothing to protect yet, nothing to let through
            return False
        known = deps.registry.keys_configured_known()
        if known is None:  # the keys' read is stale: reading them may wait on the database
            import anyio.to_thread

            known = await anyio.to_thread.run_sync(deps.registry.keys_configured)
        return bool(known)
