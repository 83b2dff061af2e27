"""API keys and per-project roles, and the JSON error body of every failure.

Keys look like ``af_<id>_<secret>`` and are sent as ``Authorization: Bearer <key>`` (or
``X-API-Key``). A key belongs to one project (``*``: every project) with one role:

- ``viewer`` reads: projects, entities, executions, logs, values, events, cache;
- ``runner`` also registers code and launches, terminates and relaunches executions;
- ``admin`` also creates projects.

With no keys configured the server is *open* but answers loopback clients only, and treats
them as admins of every project; it says so at start. Once a key has been created the server
stays closed, even after every key is revoked, until an admin runs ``airfoil auth reopen``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from airfoil.core import errors as E
from airfoil.core.launch_plans import FixedInputError
from airfoil.server._idempotency import IdempotencyKeyReused
from airfoil.server._registry import Registry, VersionConflict
from airfoil.wire import ROLES

__all__ = [
    "ApiError",
    "Principal",
    "authenticate",
    "error_response",
    "may_read",
    "require",
    "status_of",
]


class ApiError(Exception):
    """An HTTP error with a machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id, its project (``*`` for all) and role."""

    key_id: str
    project: str
    role: str
    open_mode: bool = False


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in ("localhost", "testclient"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_from(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        raise ApiError(401, "invalid_key", "the Authorization header must be 'Bearer <key>'")
    return request.headers.get("x-api-key") or None


def authenticate(request: Request, registry: Registry, now: float) -> Principal:
    """The caller of a request.

    Raises:
        ApiError: 401 with no or a bad key; 403 for a remote client of an open server.
    """
    key = _key_from(request)
    if not registry.keys_configured():
        client = request.client.host if request.client else None
        if not _loopback(client):
            raise ApiError(
                403,
                "loopback_only",
                "this server has no API keys yet and accepts loopback clients only: create "
                "one with `airfoil auth create-key --project P --role admin`",
            )
        request.state.authenticated = True
        return Principal("open", "*", "admin", open_mode=True)
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            "an API key is required: send 'Authorization: "
            "Bearer <key>' (set AIRFOIL_API_KEY for the CLI)",
        )
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "af":
        raise ApiError(401, "invalid_key", "malformed API key: expected af_<id>_<secret>")
    found = registry.lookup_key(parts[1], parts[2])
    if found is None:
        raise ApiError(401, "invalid_key", "unknown or revoked API key")
    request.state.authenticated = True  # what a store failure may tell it (client_message)
    return Principal(found.id, found.project, found.role)


def require(principal: Principal, project: str | None, role: str) -> None:
    """Raise 403 unless the caller has ``role`` (or a stronger one) in ``project``.

    ``project=None`` asks for the role in every project (a ``*`` key).
    """
    in_project = principal.project == "*" or (project is not None and principal.project == project)
    if not in_project or ROLES.index(principal.role) < ROLES.index(role):
        where = f"project {project!r}" if project is not None else "every project"
        raise ApiError(
            403,
            "forbidden",
            f"this key ({principal.role} of {principal.project!r}) may not do this: it needs "
            f"the {role} role in {where}",
        )


def may_read(principal: Principal) -> Callable[[str], bool]:
    """Whether ``principal`` may read a given project (for references across projects)."""

    def check(project: str) -> bool:
        return principal.project in ("*", project)

    return check


def status_of(exc: BaseException) -> tuple[int, str]:
    """HTTP status and error code of an Airfoil error."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code
    table: list[tuple[type[BaseException], int, str]] = [
        (E.CacheScopeAccessError, 403, "cache_scope_forbidden"),
        (E.NotFoundError, 404, "not_found"),
        (E.CorruptVersionError, 409, "corrupt_version"),
        (E.TooLargeError, 422, "too_large"),
        (VersionConflict, 409, "version_conflict"),
        (FixedInputError, 422, "fixed_input"),
        (IdempotencyKeyReused, 422, "idempotency_key_reused"),
        (E.ConflictError, 409, "conflict"),
        (E.InvalidInputError, 422, "invalid_input"),
        (E.TypeTransformError, 422, "invalid_input"),
        (E.DefinitionError, 422, "invalid_definition"),
        (E.ConfigError, 422, "invalid_input"),
        (E.UserError, 400, "bad_request"),
        (E.UnreadableRecordError, 500, "unreadable_record"),  # retrying cannot help
        (E.StoreError, 503, "store_unavailable"),
        (E.PlatformError, 503, "unavailable"),
    ]
    for cls, status, code in table:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal"


#: What a client that sent no valid key is told of any store failure: nothing of the database.
DATABASE_DOWN = "the database does not answer; try again"


def client_message(exc: E.AirfoilError, *, authenticated: bool) -> str:
    """What a client is told of ``exc``. A store failure's own message names the database
    (user, host, database, schema; password masked): that stays in the server's log, for the
    operator. A client with a valid key is told which kind of failure it met and whether a
    retry may help; one without a key only that the database does not answer."""
    if not isinstance(exc, E.StoreError) or status_of(exc)[0] != 503:
        return str(exc)
    if not authenticated:
        return DATABASE_DOWN
    if isinstance(exc, E.CorruptBlobError):  # names a content hash, nothing of the database
        return str(exc)
    if isinstance(exc, E.TransientStoreError) and exc.outcome_unknown:
        return (
            "the database connection broke while a write was committing: whether it took "
            "effect is unknown; read it back before trying again"
        )
    if isinstance(exc, E.TransientStoreError):
        return "the database does not answer (the server retried it); try again"
    return "the store failed (the server's log has the cause); try again or tell its operator"


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)
