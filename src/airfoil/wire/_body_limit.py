"""A request body limit for an HTTP service (the API server, a model's prediction service),
as a plain ASGI middleware: FastAPI reads a route's JSON body whole, and parses it, before
anything else of the route runs, so without a limit any client could make a service hold and
parse gigabytes.

The web stack stays the caller's: it gives the exception to raise from a request's
``receive`` once the body passes the limit (one that FastAPI re-raises while reading a body:
an HTTP exception) and the answer to send instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BodyLimit"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuses a request body over ``limit`` bytes: at once when its Content-Length says so,
    else as soon as the bytes received pass it.

    Args:
        app: the ASGI app.
        limit: the most bytes a body may hold.
        error: the exception raised from ``receive`` past the limit.
        answer: the ASGI app that answers a refused request (a 413).
        exempt: requests (by scope) that keep their own limit, if any.
    """

    def __init__(
        self,
        app: App,
        *,
        limit: int,
        error: Callable[[], Exception],
        answer: Callable[[], App],
        exempt: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.error = error
        self.answer = answer
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt is not None and self.exempt(scope)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self.answer()(scope, receive, send)
            return
        size = 0
        started = False
        refused: list[Exception] = []

        async def limited() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.limit:
                    refused.append(self.error())
                    raise refused[-1]
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, sending)
        except Exception as exc:
            if started or not refused or exc is not refused[-1]:
                raise
            await self.answer()(scope, receive, send)
