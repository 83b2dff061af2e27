"""The cache scope store conformance suite: tests every :class:`CacheScopeStore` backend passes.

Subclass :class:`CacheScopeStoreConformance` and provide the ``scope_store`` fixture (an empty
store). Invariants checked are those of :mod:`airfoil.store._cache_scopes`, the adversarial
half first: a project that is no member has no access, a revoked member loses it, a scope
deleted and declared again does not bring its old members back.
"""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.store._cache_scopes import CacheScope, CacheScopeStore

__all__ = ["CacheScopeStoreConformance"]


class CacheScopeStoreConformance:
    """Inherit and provide ``scope_store``."""

    def test_an_undeclared_scope_is_none_and_cannot_be_granted(
        self, scope_store: CacheScopeStore
    ) -> None:
        assert scope_store.cache_scope_access("features", "alpha") is None
        with pytest.raises(NotFoundError, match="no cache scope 'features'"):
            scope_store.grant_cache_scope("features", "alpha", "write", 1.0)
        assert scope_store.list_cache_scopes() == []

    def test_members_read_or_write_and_nobody_else(self, scope_store: CacheScopeStore) -> None:
        assert scope_store.create_cache_scope("features", 1.0, "shared features")
        assert not scope_store.create_cache_scope("features", 2.0)  # declared already
        assert scope_store.cache_scope_access("features", "alpha") == ""
        scope_store.grant_cache_scope("features", "alpha", "write", 3.0)
        scope_store.grant_cache_scope("features", "beta", "read", 3.0)
        assert scope_store.cache_scope_access("features", "alpha") == "write"
        assert scope_store.cache_scope_access("features", "beta") == "read"
        assert scope_store.cache_scope_access("features", "gamma") == ""
        # names are exact: no prefix, case or wildcard matching
        assert scope_store.cache_scope_access("features", "alph") == ""
        assert scope_store.cache_scope_access("features", "ALPHA") == ""
        assert scope_store.cache_scope_access("features", "%") == ""
        assert scope_store.cache_scope_access("Features", "alpha") is None
        assert scope_store.list_cache_scopes() == [
            CacheScope(
                name="features",
                description="shared features",
                created_at=1.0,
                members={"alpha": "write", "beta": "read"},
            )
        ]

    def test_a_grant_again_replaces_the_access(self, scope_store: CacheScopeStore) -> None:
        scope_store.create_cache_scope("s", 1.0)
        scope_store.grant_cache_scope("s", "alpha", "write", 2.0)
        scope_store.grant_cache_scope("s", "alpha", "read", 3.0)  # a downgrade
        assert scope_store.cache_scope_access("s", "alpha") == "read"
        assert scope_store.list_cache_scopes()[0].members == {"alpha": "read"}

    def test_a_revoked_member_loses_access(self, scope_store: CacheScopeStore) -> None:
        scope_store.create_cache_scope("s", 1.0)
        scope_store.grant_cache_scope("s", "alpha", "write", 2.0)
        scope_store.grant_cache_scope("s", "beta", "write", 2.0)
        assert scope_store.revoke_cache_scope("s", "alpha")
        assert not scope_store.revoke_cache_scope("s", "alpha")
        assert scope_store.cache_scope_access("s", "alpha") == ""
        assert scope_store.cache_scope_access("s", "beta") == "write"  # others keep theirs

    def test_star_is_every_project_and_the_stronger_access_wins(
        self, scope_store: CacheScopeStore
    ) -> None:
        scope_store.create_cache_scope("public", 1.0)
        scope_store.grant_cache_scope("public", "*", "read", 2.0)
        scope_store.grant_cache_scope("public", "alpha", "write", 2.0)
        assert scope_store.cache_scope_access("public", "anyone") == "read"
        assert scope_store.cache_scope_access("public", "alpha") == "write"
        scope_store.grant_cache_scope("public", "*", "write", 3.0)
        scope_store.grant_cache_scope("public", "beta", "read", 3.0)
        assert scope_store.cache_scope_access("public", "beta") == "write"

    def test_a_scope_deleted_and_declared_again_starts_empty(
        self, scope_store: CacheScopeStore
    ) -> None:
        scope_store.create_cache_scope("s", 1.0)
        scope_store.grant_cache_scope("s", "alpha", "write", 2.0)
        assert scope_store.delete_cache_scope("s")
        assert not scope_store.delete_cache_scope("s")
        assert scope_store.cache_scope_access("s", "alpha") is None
        assert scope_store.create_cache_scope("s", 3.0)
        assert scope_store.cache_scope_access("s", "alpha") == ""
        assert scope_store.list_cache_scopes()[0].members == {}

    def test_bad_names_and_access_levels_are_refused(self, scope_store: CacheScopeStore) -> None:
        for bad in ("", "a b", "x" * 101, "../etc", "s;drop"):
            with pytest.raises(ConfigError, match="invalid cache scope name"):
                scope_store.create_cache_scope(bad, 1.0)
        scope_store.create_cache_scope("s", 1.0)
        with pytest.raises(ConfigError, match="invalid access 'admin'"):
            scope_store.grant_cache_scope("s", "alpha", "admin", 2.0)
        for bad in ("", "a b", "al*", "x" * 101):
            with pytest.raises(ConfigError, match="invalid project"):
                scope_store.grant_cache_scope("s", bad, "read", 2.0)
        assert scope_store.list_cache_scopes()[0].members == {}

    def test_scopes_are_listed_by_name(self, scope_store: CacheScopeStore) -> None:
        for name in ("b", "a", "c"):
            scope_store.create_cache_scope(name, 1.0)
        scope_store.grant_cache_scope("c", "z", "read", 1.0)
        scope_store.grant_cache_scope("c", "y", "write", 1.0)
        listed = scope_store.list_cache_scopes()
        assert [s.name for s in listed] == ["a", "b", "c"]
        assert list(listed[2].members.items()) == [("y", "write"), ("z", "read")]
