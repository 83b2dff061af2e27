"""Named cache scopes of a server, through a :class:`~airfoil.client.Client`:
``CacheScopes(client).list()``, ``.create(name)``, ``.grant(name, project, access)``,
``.revoke(name, project)``, ``.delete(name)`` (a key that is admin of every project), and
``.mine()`` (the scopes the client's project may use, with its access)."""

from __future__ import annotations

from airfoil.client._client import Client
from airfoil.wire._cache_scopes import CacheScopeIn, CacheScopeList, CacheScopeOut

__all__ = ["CacheScopes"]


class CacheScopes:
    """The server's cache scopes and their members."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def list(self) -> CacheScopeList:
        """Every scope with its members (admin of every project)."""
        return CacheScopeList.model_validate(self.client._call("GET", "/cache-scopes").json())

    def mine(self, project: str | None = None) -> CacheScopeList:
        """The scopes the client's project (or ``project``) may use, with its access only."""
        path = f"/projects/{project or self.client.project}/cache-scopes"
        return CacheScopeList.model_validate(self.client._call("GET", path).json())

    def create(self, name: str, description: str = "") -> CacheScopeOut:
        """Declare a scope, with no members."""
        body = CacheScopeIn(name=name, description=description).model_dump(mode="json")
        r = self.client._call("POST", "/cache-scopes", json=body)
        return CacheScopeOut.model_validate(r.json())

    def grant(self, name: str, project: str, access: str = "write") -> CacheScopeOut:
        """Make ``project`` (``*``: every project) a member with ``read`` or ``write``."""
        r = self.client._call(
            "PUT", f"/cache-scopes/{name}/members/{project}", json={"access": access}
        )
        return CacheScopeOut.model_validate(r.json())

    def revoke(self, name: str, project: str) -> CacheScopeOut:
        """End ``project``'s membership."""
        r = self.client._call("DELETE", f"/cache-scopes/{name}/members/{project}")
        return CacheScopeOut.model_validate(r.json())

    def delete(self, name: str) -> CacheScopeOut:
        """Remove a scope and its members (the scope as it was)."""
        return CacheScopeOut.model_validate(
            self.client._call("DELETE", f"/cache-scopes/{name}").json()
        )
