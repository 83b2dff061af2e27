"""Shared fixtures: every test gets its own AIRFOIL_HOME so nothing touches ~/.airfoil."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _airfoil_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "airfoil-home"
    monkeypatch.setenv("AIRFOIL_HOME", str(home))
    for var in ("AIRFOIL_DATABASE_URL", "AIRFOIL_BLOB_URL", "AIRFOIL_EXECUTOR"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test with no tier marker is a unit test by default.
    tiers = {"unit", "integration", "e2e"}
    for item in items:
        if not tiers & {m.name for m in item.iter_markers()}:
            item.add_marker(pytest.mark.unit)


os.environ.setdefault("AIRFOIL_TEST", "1")
