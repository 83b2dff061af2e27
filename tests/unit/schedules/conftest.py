"""Show assertion details from the schedule conformance suite; the tests' local runtime."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings

pytest.register_assert_rewrite(
    "airfoil.testing.conformance", "airfoil.testing.schedule_conformance"
)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[LocalRuntime]:
    """A local runtime on an in-memory store, blobs under the test's folder."""
    runtime = LocalRuntime(
        AirfoilSettings(home=str(tmp_path), database_url="memory://", blob_url=str(tmp_path / "b"))
    )
    yield runtime
    runtime.close()
