"""The client's HTTP edge: the errors a server's answer becomes, the server URL's check, and
the plain JSON of a launch input."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
from typing import Any

import httpx

from airfoil.core.errors import (
    AirfoilError,
    CacheScopeAccessError,
    ConfigError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PlatformError,
    TooLargeError,
    UserError,
)

__all__ = ["ApiCallError", "AuthError", "CacheScopeForbidden", "to_json"]


class ApiCallError(AirfoilError):
    """The server refused a call. ``status`` and ``code`` are the server's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(f"{message} [{status} {code}]")


class AuthError(ApiCallError, UserError):
    """No key, a bad key, or a key without the role the call needs."""


class CacheScopeForbidden(AuthError, CacheScopeAccessError):
    """The launch's project may not use a task's named cache scope (403
    ``cache_scope_forbidden``): the message names the scope and the admin's command."""


def _error_class(status: int, code: str = "") -> type[ApiCallError]:
    if code == "cache_scope_forbidden":
        return CacheScopeForbidden
    table: dict[int, type[AirfoilError]] = {
        404: NotFoundError,
        409: ConflictError,
        422: InvalidInputError,
        400: UserError,
    }
    if status in (401, 403):
        return AuthError
    base = TooLargeError if code == "too_large" else table.get(status, PlatformError)
    return type(f"Api{base.__name__}", (ApiCallError, base), {})


def to_json(obj: Any) -> Any:
    """Plain JSON of a Python input value (dataclasses, enums, dates, bytes, sets...)."""
    if isinstance(obj, float) and not math.isfinite(obj):  # JSON has no such number
        return {"$float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump"):
        return {k: to_json(getattr(obj, k)) for k in type(obj).model_fields}
    if isinstance(obj, dict):
        return {
            (k if isinstance(k, str) else json.dumps(to_json(k))): to_json(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_json(x) for x in obj]
    raise InvalidInputError(f"cannot send a {type(obj).__name__} as a launch input over the API")


def masked_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part (a server behind a proxy's
    basic auth) and a credential query parameter's value (``?token=``) shown as ``***``, for
    messages: the settings' rule (``masked_url``), imported only for a URL that may have one."""
    if "@" not in url and "=" not in url:
        return url
    from airfoil.settings import masked_url as masked

    return masked(url)


def _checked_url(url: str) -> str:
    """The server's URL, refused at once (a user's error, naming the fix) unless it is an
    ``http://`` or ``https://`` URL with a host: httpx would only fail at the first call,
    as if the server could not be reached."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        parsed, why = None, f" ({exc})"
    else:
        why = ""
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"invalid Airfoil server URL {masked_url(str(url))!r}{why}: give http://HOST:PORT or "
            "https://HOST[:PORT] (e.g. http://127.0.0.1:8080) with --server or "
            "AIRFOIL_SERVER_URL"
        )
    return url
