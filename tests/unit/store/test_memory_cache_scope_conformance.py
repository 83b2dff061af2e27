"""The in-memory store passes the cache scope store conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._cache_scopes import CacheScopeStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.cache_scope_conformance import CacheScopeStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryCacheScopeStore(CacheScopeStoreConformance):
    @pytest.fixture
    def scope_store(self) -> Iterator[CacheScopeStore]:
        s = MemoryMetaStore()
        yield s
        s.close()
