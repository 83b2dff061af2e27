"""Who may call a model service: its key, or, with none, the API server's ``Host`` rule.

A model service (``airfoil models serve``, a deployment's replica) answers ``/predict``,
``/metadata``, ``/drift`` and ``/metrics`` to whoever reaches it. Two guards, as the API
server's (docs/server.md, "Trust model"):

- **A key** (``AIRFOIL_MODEL_KEY`` in the service's environment): every route but
  ``/health`` (the probes) then needs ``Authorization: Bearer <key>`` or ``X-API-Key:
  <key>``, else 401. A server with a model key gives each replica its *deployment's* key,
  derived from the server's (:func:`~airfoil.core.worker_env.deployment_key`); the replica
  takes either. So a model's own code, which can read its replica's key, cannot call another
  project's (or deployment's) replicas. Keys are compared in constant time, never logged,
  printed or shown in a ``repr``.
- **No key**: a request whose ``Host`` names neither ``localhost``, an IP address nor one of
  the allowed hosts (``--allowed-host``, ``AIRFOIL_ALLOWED_HOSTS``) is refused, 403, on every
  path: a page whose DNS name is rebound to 127.0.0.1 (DNS rebinding) reaches the service as
  its own origin, and says so only in ``Host`` (the rule: :mod:`airfoil.wire._hosts`). With
  a key the check is off, as the server's: a rebinding page has no key, and a keyed service
  may be reached under names (a proxy's) nobody listed.

Every answer says ``X-Content-Type-Options: nosniff``: a browser never reads a JSON answer
(a ``/metadata`` that echoes a model's metrics) as a page or a script.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airfoil.core.worker_env import MODEL_KEY, MODEL_KEY_SCOPE, deployment_key
from airfoil.wire._hosts import checked_hosts, host_allowed
from airfoil.wire._nosniff import NOSNIFF, with_nosniff

__all__ = ["KEY_VARIABLE", "NOSNIFF", "ServiceGuard", "key_from_environment"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The environment variable holding a model service's key.
KEY_VARIABLE = MODEL_KEY
#: The routes that answer without a key (the probes).
_OPEN_PATHS = frozenset({"/health"})


def key_from_environment(
    environ: MutableMapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """The service's key and what it was derived for (a server's replica: its deployment,
    see :func:`~airfoil.core.worker_env.deployment_key`), taken out of the environment
    (``os.environ`` by default) so what the model's own code starts does not inherit them.
    ``(None, None)``: no key (unset or empty)."""
    env = os.environ if environ is None else environ
    key = (env.pop(MODEL_KEY, None) or "").strip() or None
    scope = env.pop(MODEL_KEY_SCOPE, None) or None
    return key, scope if key else None


def _route(scope: Scope) -> str:
    """The request's path within the service (Ray Serve mounts it under a prefix)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class ServiceGuard:
    """The ASGI middleware of a model service (see the module's text).

    Args:
        app: the service's app.
        key: the key callers must send; None: none (the ``Host`` check instead).
        key_scope: what ``key`` was derived for, if it was (a server's replica): a caller
            may then send the key it was derived from (the server's) too.
        allowed_hosts: the names besides ``localhost`` and addresses it answers under
            while it has no key.

    Raises:
        ConfigError: an allowed host that is no host name.
    """

    def __init__(
        self,
        app: App,
        *,
        key: str | None = None,
        key_scope: str | None = None,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self._key = key.encode() if key else None
        self._scope = key_scope
        self.allowed = checked_hosts(allowed_hosts)
        self.any_host = "*" in self.allowed

    def __repr__(self) -> str:
        keyed = "a key" if self._key is not None else "no key"
        return f"ServiceGuard({keyed}, allowed_hosts={self.allowed!r})"

    @property
    def keyed(self) -> bool:
        return self._key is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_nosniff(send)
        headers = scope.get("headers", ())
        if self._key is not None:
            if _route(scope) in _OPEN_PATHS or self._key_sent(headers):
                await self.app(scope, receive, send)
                return
            await _answer(
                send,
                401,
                "this model service needs its key: send 'Authorization: Bearer <key>' "
                f"(or X-API-Key), the value of {KEY_VARIABLE} where the service (or the "
                "server that started it) runs",
                ((b"www-authenticate", b"Bearer"),),
            )
            return
        host = next((v for k, v in headers if k == b"host"), None)
        if self.any_host or host is None or host_allowed(host.decode("latin-1"), self.allowed):
            await self.app(scope, receive, send)
            return
        shown = host.decode("latin-1").encode("unicode_escape").decode("ascii")[:200]
        await _answer(
            send,
            403,
            f"Host {shown!r} is not a name of this model service: with no key it answers "
            "requests addressed to localhost or an IP address (127.0.0.1) only (a page whose "
            "DNS name points here must not use it); allow the name (`airfoil models serve "
            f"--allowed-host NAME`, AIRFOIL_ALLOWED_HOSTS) or give the service a key "
            f"({KEY_VARIABLE})",
        )

    def _key_sent(self, headers: Any) -> bool:
        assert self._key is not None
        sent: bytes | None = None
        for k, v in headers:
            if k == b"authorization":
                scheme, _, token = v.partition(b" ")
                if scheme.lower() != b"bearer":
                    return False
                sent = token.strip()
                break
            if k == b"x-api-key":
                sent = v.strip()
        if sent is None:
            return False
        if hmac.compare_digest(sent, self._key):
            return True
        if self._scope is None:
            return False
        try:  # the server's key, from which this one was derived
            derived = deployment_key(sent.decode("ascii"), self._scope).encode()
        except UnicodeDecodeError:
            return False
        return hmac.compare_digest(derived, self._key)


async def _answer(
    send: Send, status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})
