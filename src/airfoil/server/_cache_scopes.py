"""Named cache scopes over HTTP: admins of every project keep the members.

- ``GET /cache-scopes``: every scope with its members (admin of ``*``);
- ``POST /cache-scopes`` ``{"name", "description"}``: declare one, with no members (409 if
  it exists);
- ``PUT /cache-scopes/{scope}/members/{project}`` ``{"access": "read" | "write"}``: grant
  (``*``: every project; granting again replaces the access);
- ``DELETE /cache-scopes/{scope}/members/{project}``: revoke; ``DELETE /cache-scopes/{scope}``:
  remove the scope and its members (its entries stay in the store, unreachable to runs
  until the scope is declared and granted again);
- ``GET /projects/{project}/cache-scopes`` (viewer): the scopes the project may use, each
  with the project's access only: a key never learns which other projects are members.

Members are kept in the metadata store (:mod:`airfoil.store._cache_scopes`), which the engine
reads: a change applies to runs within 2 s (see :mod:`airfoil.engine._scope_gate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.server._auth import Principal, authenticate, require
from airfoil.server._deps import Deps
from airfoil.store._cache_scopes import CacheScope, stronger
from airfoil.wire import API_PREFIX
from airfoil.wire._cache_scopes import (
    MEMBER,
    SCOPE_NAME,
    CacheScopeIn,
    CacheScopeList,
    CacheScopeMemberIn,
    CacheScopeOut,
)

__all__ = ["ROLES", "scope_router"]

scope_router = APIRouter()  # included in the API's router (which has the prefix)
#: (method, path) -> role of these routes (merged into the API's matrix).
ROLES: dict[tuple[str, str], str] = {}

_Scope = Annotated[str, Path(pattern=SCOPE_NAME)]
_Member = Annotated[str, Path(pattern=MEMBER)]
_Project = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def _caller(role: str, per_project: bool) -> Callable[..., Principal]:
    def dependency(request: Request) -> Principal:
        deps = _deps(request)
        who = authenticate(request, deps.registry, deps.clock.now())
        require(who, request.path_params.get("project") if per_project else None, role)
        return who

    return dependency


def _route(method: str, path: str, role: str, **kwargs: Any) -> Callable[[Any], Any]:
    ROLES[(method, API_PREFIX + path)] = role
    return scope_router.api_route(path, methods=[method], **kwargs)


Admin = Annotated[Principal, Depends(_caller("admin", per_project=False))]
Viewer = Annotated[Principal, Depends(_caller("viewer", per_project=True))]
_Deps = Annotated[Deps, Depends(_deps)]


def _out(scope: CacheScope) -> CacheScopeOut:
    return CacheScopeOut(
        name=scope.name,
        description=scope.description,
        created_at=scope.created_at,
        members=dict(scope.members),
    )


def _scope(d: Deps, name: str) -> CacheScope:
    found = d.meta.get_cache_scope(name)
    if found is None:
        raise NotFoundError(
            f"no cache scope {name!r}: declare it with POST /cache-scopes (`airfoil cache "
            f"scopes create {name}`)"
        )
    return found


@_route("GET", "/cache-scopes", "admin*", response_model=CacheScopeList)
def list_scopes(d: _Deps, _: Admin) -> CacheScopeList:
    """Every declared scope with its members."""
    return CacheScopeList(scopes=[_out(s) for s in d.meta.list_cache_scopes()])


@_route("POST", "/cache-scopes", "admin*", response_model=CacheScopeOut, status_code=201)
def create_scope(body: CacheScopeIn, d: _Deps, _: Admin) -> CacheScopeOut:
    """Declare a scope, with no members yet."""
    if not d.meta.create_cache_scope(body.name, d.clock.now(), body.description):
        raise ConflictError(f"cache scope {body.name!r} exists already")
    return _out(_scope(d, body.name))


@_route("DELETE", "/cache-scopes/{scope}", "admin*", response_model=CacheScopeOut)
def delete_scope(scope: _Scope, d: _Deps, _: Admin) -> CacheScopeOut:
    """Remove a scope and its members (the scope as it was)."""
    found = _scope(d, scope)
    d.meta.delete_cache_scope(scope)
    return _out(found)


@_route("PUT", "/cache-scopes/{scope}/members/{member}", "admin*", response_model=CacheScopeOut)
def grant(
    scope: _Scope,
    member: _Member,
    d: _Deps,
    _: Admin,
    body: Annotated[CacheScopeMemberIn | None, Body()] = None,
) -> CacheScopeOut:
    """Make a project (``*``: every project) a member with ``read`` or ``write`` access."""
    access = body.access if body is not None else "write"
    try:
        d.meta.grant_cache_scope(scope, member, access, d.clock.now())
    except NotFoundError:
        _scope(d, scope)  # the error that says how to declare it
        raise
    return _out(_scope(d, scope))


@_route("DELETE", "/cache-scopes/{scope}/members/{member}", "admin*", response_model=CacheScopeOut)
def revoke(scope: _Scope, member: _Member, d: _Deps, _: Admin) -> CacheScopeOut:
    """End a project's membership (its runs lose access within 2 s)."""
    _scope(d, scope)
    if not d.meta.revoke_cache_scope(scope, member):
        raise NotFoundError(f"project {member!r} is no member of cache scope {scope!r}")
    return _out(_scope(d, scope))


@_route("GET", "/projects/{project}/cache-scopes", "viewer", response_model=CacheScopeList)
def project_scopes(project: _Project, d: _Deps, _: Viewer) -> CacheScopeList:
    """The scopes ``project`` may use, each with the project's own access only."""
    mine = []
    for s in d.meta.list_cache_scopes():
        access = stronger(s.members.get(project, ""), s.members.get("*", ""))
        if access:
            mine.append(
                CacheScopeOut(
                    name=s.name,
                    description=s.description,
                    created_at=s.created_at,
                    members={project: access},
                )
            )
    return CacheScopeList(scopes=mine)
