"""Refusing requests that change something when a browser sends them for another site.

A browser sends a "simple" request (a POST with no body, a form's content types, or a body of
no declared type, which FastAPI reads as JSON) to any address without asking first, from any
page: a site the user visits, or a task's report, whose scripts run in a frame of an opaque
origin. The server sets no CORS headers, so such pages cannot *read* the answer, but the
request itself ran: an open server (no API keys, loopback clients as admin) relaunched,
terminated or signalled executions for them (adv19).

A request whose method may change something is refused with 403 ``cross_origin`` when the
browser says it comes from elsewhere: ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site``,
or ``Origin`` is ``null`` (a sandboxed frame, a ``data:`` page). The console's own requests
are ``same-origin``; the CLI, the client and scripts send neither header and are unchanged;
reads (GET, HEAD) stay open to every caller that may make them. A plain ASGI middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airfoil.server._auth import error_response

__all__ = ["SameOrigin"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ELSEWHERE = frozenset({b"cross-site", b"same-site"})


def from_elsewhere(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a browser says the request comes from another site or an opaque origin."""
    for name, value in headers:
        if name == b"sec-fetch-site" and value.strip().lower() in _ELSEWHERE:
            return True
        if name == b"origin" and value.strip() == b"null":
            return True
    return False


class SameOrigin:
    """Answers 403 ``cross_origin`` to a state-changing request a browser sent for another
    site (see the module's text); passes every other request on."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _SAFE_METHODS
            or not from_elsewhere(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        answer = error_response(
            403,
            "cross_origin",
            f"{scope['method']} from another site or a sandboxed page (a task's report) is "
            "refused: change things through the console, the CLI or airfoil.client",
        )
        await answer(scope, receive, send)
