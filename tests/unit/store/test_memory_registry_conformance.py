"""The in-memory registry store passes the registry store conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store.memory_registry import MemoryRegistryStore
from airfoil.store.registry import RegistryStore
from airfoil.testing.registry_conformance import RegistryStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryRegistryStore(RegistryStoreConformance):
    @pytest.fixture
    def registry_store(self) -> Iterator[RegistryStore]:
        s = MemoryRegistryStore()
        yield s
        s.close()
