"""Fixtures of the type engine tests: a fresh engine and a context on a temporary blob store."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.store.blob import LocalBlobStore
from airfoil.types import TypeEngine, ValueContext


@pytest.fixture
def engine() -> TypeEngine:
    return TypeEngine()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(str(tmp_path / "blobs"))


@pytest.fixture
def ctx(blobs: LocalBlobStore, tmp_path: Path) -> ValueContext:
    return ValueContext(blobs, scratch_dir=str(tmp_path / "scratch"))
