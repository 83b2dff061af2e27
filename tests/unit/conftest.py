"""Fixtures of the unit tier."""

from __future__ import annotations

import os
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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``AIRFOIL_*`` variable set (whatever the machine running the tests has set): the
    monkeypatch, to set the test's own."""
    for key in list(os.environ):
        if key.lower().startswith("airfoil_"):
            monkeypatch.delenv(key)
    return monkeypatch
