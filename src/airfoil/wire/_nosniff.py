"""``X-Content-Type-Options: nosniff`` on every answer of an HTTP service (the API server,
a model service), as a wrapper of an ASGI ``send``: a browser then reads an answer only as
the type it declares, never a JSON body (a value, a log line, a model's metadata that a
tenant wrote) or a downloaded file as a page or a script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["NOSNIFF", "with_nosniff"]

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

#: The header, as ASGI carries it.
NOSNIFF = (b"x-content-type-options", b"nosniff")


def with_nosniff(send: Send) -> Send:
    """``send``, adding :data:`NOSNIFF` to the response's headers (once)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if not any(k.lower() == NOSNIFF[0] for k, _ in headers):
                headers.append(NOSNIFF)
            message["headers"] = headers
        await send(message)

    return sending
