"""The in-memory admission store passes the admission store conformance suite."""

from __future__ import annotations

import pytest

from airfoil.store.admission import AdmissionStore, MemoryAdmissionStore
from airfoil.testing.admission_conformance import AdmissionStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryAdmissionStore(AdmissionStoreConformance):
    @pytest.fixture
    def admission_store(self) -> AdmissionStore:
        return MemoryAdmissionStore()
