"""The in-memory store passes the scheduling store conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._scheduling import SchedulingStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.scheduling_conformance import SchedulingStoreConformance

pytestmark = pytest.mark.unit


class TestMemorySchedulingStore(SchedulingStoreConformance):
    @pytest.fixture
    def scheduling_store(self) -> Iterator[SchedulingStore]:
        s = MemoryMetaStore()
        yield s
        s.close()
