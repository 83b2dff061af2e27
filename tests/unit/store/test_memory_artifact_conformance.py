"""The in-memory artifact store passes the artifact store conformance suite."""

from __future__ import annotations

import pytest

from airfoil.store.artifacts import ArtifactStore
from airfoil.store.memory_artifacts import MemoryArtifactStore
from airfoil.testing.artifact_conformance import ArtifactStoreConformance

pytestmark = pytest.mark.unit


class TestMemoryArtifactStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self) -> ArtifactStore:
        return MemoryArtifactStore()
