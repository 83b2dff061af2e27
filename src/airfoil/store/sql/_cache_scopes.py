"""The SQL :class:`CacheScopeStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

Tables ``cache_scopes`` and ``cache_scope_members`` (revision 0020). A grant inserts its member
row only where the scope's row exists (one statement, which on PostgreSQL locks that row: a
grant racing the scope's delete finds no scope), and deleting a scope deletes its members in
the same transaction; declaring a scope clears any member row left under its name, so a scope
declared again always starts empty. The access check is one indexed read.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.store._cache_scopes import (
    CacheScope,
    CacheScopeStore,
    check_access,
    check_scope_name,
    stronger,
)
from airfoil.store.sql._host import SqlHost

__all__ = ["SqlCacheScopeStore"]


class SqlCacheScopeStore(SqlHost, CacheScopeStore):
    """Cache scope tables of the host :class:`SqlMetaStore`."""

    def create_cache_scope(self, name: str, now: float, description: str = "") -> bool:
        check_scope_name(name)
        s = self._s

        def body(cur: Any) -> bool:
            cur.execute(s.scope_create, {"name": name, "description": description, "now": now})
            if cur.rowcount != 1:
                return False
            cur.execute(s.scope_delete_members, {"name": name})
            return True

        return self._transaction("declaring a cache scope", body)

    def delete_cache_scope(self, name: str) -> bool:
        s = self._s

        def body(cur: Any) -> bool:
            cur.execute(s.scope_delete, {"name": name})
            found: bool = cur.rowcount == 1
            cur.execute(s.scope_delete_members, {"name": name})
            return found

        return self._transaction("deleting a cache scope", body)

    def list_cache_scopes(self) -> list[CacheScope]:
        s = self._s

        def body(cur: Any) -> tuple[list[Any], list[Any]]:
            cur.execute(s.scope_list, {})
            scopes = list(cur.fetchall())
            cur.execute(s.scope_members, {})
            return scopes, list(cur.fetchall())

        # one transaction: a scope and its members as of one moment
        scopes, members = self._transaction("listing cache scopes", body)
        by_scope: dict[str, dict[str, str]] = {}
        for scope, project, access in members:
            by_scope.setdefault(scope, {})[project] = access
        return [
            CacheScope(
                name=name,
                description=description,
                created_at=float(created_at),
                members=by_scope.get(name, {}),
            )
            for name, description, created_at in scopes
        ]

    def grant_cache_scope(self, name: str, project: str, access: str, now: float) -> None:
        check_access(project, access)
        params = {"name": name, "project": project, "access": access, "now": now}

        def body(cur: Any) -> int:
            cur.execute(self._s.scope_grant, params)
            return int(cur.rowcount)

        if self._transaction("granting a cache scope", body) < 1:
            raise NotFoundError(f"no cache scope {name!r}")

    def revoke_cache_scope(self, name: str, project: str) -> bool:
        def body(cur: Any) -> int:
            cur.execute(self._s.scope_revoke, {"name": name, "project": project})
            return int(cur.rowcount)

        return self._transaction("revoking a cache scope", body) == 1

    def cache_scope_access(self, name: str, project: str) -> str | None:
        params = {"name": name, "project": project, "star": "*"}
        rows = self._read(self._s.scope_access, params, "reading a cache scope's members")
        if not rows:
            return None
        _, own, every = rows[0]
        return stronger(own or "", every or "")
