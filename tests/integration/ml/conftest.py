"""Fixtures of the model-layer integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _replica_home import ReplicaHome

from airfoil.ml import ModelRegistry
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    """A model registry on a fresh SQLite file and blob folder (project ``p``)."""
    store = SqlArtifactStore(f"sqlite:///{tmp_path / 'artifacts.db'}")
    try:
        yield ModelRegistry(store, open_blob_store(str(tmp_path / "blobs")), "p")
    finally:
        store.close()


@pytest.fixture
def replica_home(tmp_path: Path) -> Iterator[ReplicaHome]:
    """A server's home (``tmp_path/home``) whose supervisors are closed and replicas killed
    after the test, also when it fails."""
    home = ReplicaHome(tmp_path / "home")
    try:
        yield home
    finally:
        home.close()
