"""The in-memory store passes the observability store conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store.base import MetaStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.observability_conformance import ObservabilityStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryObservabilityStore(ObservabilityStoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[MetaStore]:
        s = MemoryMetaStore()
        yield s
        s.close()
