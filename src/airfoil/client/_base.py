"""What every part of the :class:`~airfoil.client.Client` stands on: the server's address
and key (read when the client is made, never at import), one ``httpx.Client``, and the call
that turns the server's error answers into Airfoil errors of the matching class (404 ->
:class:`NotFoundError`, 409 -> :class:`ConflictError`, 422 -> :class:`InvalidInputError`,
401/403 -> :class:`AuthError`), carrying the server's ``code``."""

from __future__ import annotations

import os
import time
from typing import Any, Self

import httpx

from airfoil.client._http import _checked_url, _error_class, masked_url
from airfoil.core.errors import ConfigError, PlatformError
from airfoil.wire import API_PREFIX

__all__ = ["LAUNCH_TRIES", "ClientBase"]

#: How many times a launch is sent (with one ``Idempotency-Key``) while no answer comes.
LAUNCH_TRIES = 4


class ClientBase:
    """The connection of a client (see :class:`~airfoil.client.Client` for the arguments)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        project: str = "default",
        domain: str = "development",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url or os.environ.get("AIRFOIL_SERVER_URL") or "http://127.0.0.1:8080"
        self.url = _checked_url(self.url).rstrip("/")
        #: The URL as messages show it: a ``user:password@`` part's password and a credential
        #: query parameter's value (``?token=``) as ``***``.
        self.shown_url = masked_url(self.url)
        key = api_key if api_key is not None else os.environ.get("AIRFOIL_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.project = project
        self.domain = domain
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        #: (path, domain) -> (entity tag, body) of the last details read: a poll of an
        #: unchanged execution is answered 304 and read from here
        self._details: dict[tuple[str, str | None], tuple[str, bytes]] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        _no_dot_segments(path)
        try:
            r = self._http.request(method, API_PREFIX + path, **kwargs)
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"cannot reach the Airfoil server at {self.shown_url}: {exc}"
            ) from exc
        if r.status_code >= 400:
            self._raise(r)
        return r

    def _call_once(self, key: str, path: str, **kwargs: Any) -> httpx.Response:
        """POST ``path`` with ``Idempotency-Key: key``, sent again with it (up to
        :data:`LAUNCH_TRIES` times in all, waiting 0.5, 1, 2 s) while no answer comes (a
        timeout, a dropped connection) or the server answers 503: the server answers a
        repeat with what the first launched, so a lost answer never launches twice."""
        _no_dot_segments(path)
        headers = {"Idempotency-Key": key}
        for attempt in range(LAUNCH_TRIES):
            last = attempt + 1 == LAUNCH_TRIES
            try:
                r = self._http.request("POST", API_PREFIX + path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise PlatformError(
                        f"cannot reach the Airfoil server at {self.shown_url}: {exc} (sent "
                        f"{LAUNCH_TRIES} times with Idempotency-Key {key!r}: send it again "
                        "with that key to learn whether it launched)"
                    ) from exc
            else:
                if r.status_code != 503 or last:
                    break
            time.sleep(0.5 * 2**attempt)
        if r.status_code >= 400:
            self._raise(r)
        return r

    def _p(self, project: str | None) -> str:
        return project or self.project

    def _raise(self, r: httpx.Response) -> None:
        try:
            err = r.json()["error"]
            code, message = str(err["code"]), str(err["message"])
        except Exception:
            code, message = "http_error", r.text[:500]
        raise _error_class(r.status_code, code)(r.status_code, code, message)


def _no_dot_segments(path: str) -> None:
    """Refuse a request path with a ``.`` or ``..`` segment (a name put in it as given):
    httpx resolves them, so the request would go to another path (another project's).

    Raises:
        ConfigError: naming the segment.
    """
    segments = path.partition("?")[0].split("/")
    for dots in (".", ".."):
        if dots in segments:
            raise ConfigError(
                f"{dots!r} is no name (in the request path {path!r}): an HTTP client resolves "
                "it to another path; name the resource itself"
            )


def _in(domain: str | None, key: str = "domain") -> dict[str, str]:
    """The query parameter naming the domain of an execution's name (none: not given)."""
    return {key: domain} if domain else {}
