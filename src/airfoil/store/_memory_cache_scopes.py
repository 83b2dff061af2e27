"""The in-memory :class:`CacheScopeStore`: the reference behaviour, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: every method holds the host store's one lock (``self._lock``); what a reader gets
is a fresh record (no shared mutable state with callers).
"""

from __future__ import annotations

import threading

from airfoil.core.errors import NotFoundError
from airfoil.store._cache_scopes import (
    CacheScope,
    CacheScopeStore,
    check_access,
    check_scope_name,
    stronger,
)

__all__ = ["MemoryCacheScopeStore"]


class MemoryCacheScopeStore(CacheScopeStore):
    """Scopes (name -> (description, created_at)) and members ((scope, project) -> access)."""

    _lock: threading.Lock

    def _scopes(self) -> dict[str, tuple[str, float]]:
        """The scopes (created on first use); call with ``self._lock`` held."""
        return self.__dict__.setdefault("_cache_scopes", {})  # type: ignore[no-any-return]

    def _members(self) -> dict[tuple[str, str], str]:
        """The members (created on first use); call with ``self._lock`` held."""
        return self.__dict__.setdefault("_cache_scope_members", {})  # type: ignore[no-any-return]

    def create_cache_scope(self, name: str, now: float, description: str = "") -> bool:
        check_scope_name(name)
        with self._lock:
            if name in self._scopes():
                return False
            self._scopes()[name] = (description, now)
            return True

    def delete_cache_scope(self, name: str) -> bool:
        with self._lock:
            if self._scopes().pop(name, None) is None:
                return False
            members = self._members()
            for key in [k for k in members if k[0] == name]:
                del members[key]
            return True

    def list_cache_scopes(self) -> list[CacheScope]:
        with self._lock:
            members = sorted(self._members().items())
            return [
                CacheScope(
                    name=name,
                    description=description,
                    created_at=created_at,
                    members={p: a for (s, p), a in members if s == name},
                )
                for name, (description, created_at) in sorted(self._scopes().items())
            ]

    def grant_cache_scope(self, name: str, project: str, access: str, now: float) -> None:
        check_access(project, access)
        with self._lock:
            if name not in self._scopes():
                raise NotFoundError(f"no cache scope {name!r}")
            self._members()[(name, project)] = access

    def revoke_cache_scope(self, name: str, project: str) -> bool:
        with self._lock:
            return self._members().pop((name, project), None) is not None

    def cache_scope_access(self, name: str, project: str) -> str | None:
        with self._lock:
            if name not in self._scopes():
                return None
            members = self._members()
            return stronger(members.get((name, project), ""), members.get((name, "*"), ""))
