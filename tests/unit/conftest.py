"""Fixtures of the unit tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[LocalRuntime]:
    """A local runtime on the in-memory metadata store (blobs in the test's folder): a test
    module's own ``rt`` fixture, where it has one, takes its place."""
    runtime = LocalRuntime(
        AirfoilSettings(
            home=str(tmp_path / "home"), database_url="memory://", blob_url=str(tmp_path / "b")
        )
    )
    yield runtime
    runtime.close()
