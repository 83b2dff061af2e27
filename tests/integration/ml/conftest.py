"""Fixtures of the model-layer integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.ml import ModelRegistry
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    """A model registry on a fresh SQLite file and blob folder (project ``p``)."""
    store = SqlArtifactStore(f"sqlite:///{tmp_path / 'artifacts.db'}")
    yield ModelRegistry(store, open_blob_store(str(tmp_path / "blobs")), "p")
    store.close()
