"""The in-memory store passes the schedule store conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airfoil.store._schedules import ScheduleStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.schedule_conformance import ScheduleStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryScheduleStore(ScheduleStoreConformance):
    @pytest.fixture
    def schedule_store(self) -> Iterator[ScheduleStore]:
        s = MemoryMetaStore()
        yield s
        s.close()
