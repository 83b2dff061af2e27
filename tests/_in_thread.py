"""A uvicorn server in a thread of the test process, listening on a port the kernel picks as
it binds (``port=0``), read back from the bound socket.

Not a port chosen first and bound later: a port found free by binding and closing a probe
socket can be taken in between (by any socket's ``connect()``, which picks its local port in
the same ephemeral range: a loaded test machine makes hundreds of connections a second to
PostgreSQL and to servers), and uvicorn then exits at its start with "address already in
use"."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["InThread", "serve_in_thread"]


@dataclass
class InThread:
    """A started server: its ``uvicorn.Server``, its thread and where it listens."""

    server: Any
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def serve_in_thread(app: Any, *, timeout: float = 30.0, **config: Any) -> InThread:
    """Start ``app`` on 127.0.0.1 in a daemon thread and return once it listens.

    Args:
        app: the ASGI application.
        timeout: seconds to wait for it to start.
        **config: more ``uvicorn.Config`` options (``log_level``, ``lifespan``, ...).

    Raises:
        RuntimeError: it did not start (its thread ended, or ``timeout`` passed).
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    return InThread(server, thread, port)
