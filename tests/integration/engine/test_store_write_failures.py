"""A blob store that cannot take a task's outputs (disk full, a read-only or broken folder)
fails the attempt as a system error, retried on ``system_retries``: it is the platform's
failure, not the user's code's."""

from __future__ import annotations

from pathlib import Path

import pytest

import airfoil as af
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


@af.task(retries=0, system_retries=1)
def big() -> bytes:
    return b"x" * 200_000  # above the inline threshold: written to the blob store


@af.workflow
def wf() -> int:
    big()
    return 1


def test_an_output_the_blob_store_cannot_take_is_a_system_error(_airfoil_home: Path) -> None:
    # A file where the store's values/ folder must go: every write of an offloaded value
    # fails with an OS error, as a full or read-only disk makes it fail. Before, that error
    # reached the user as "user error OSError" and was not retried on system_retries.
    (_airfoil_home / "blobs").mkdir(parents=True)
    (_airfoil_home / "blobs" / "values").write_text("not a folder")
    with pytest.raises(af.ExecutionFailedError, match="StoreError: could not write blob"):
        wf()
    rt = get_runtime()
    execution = rt.meta.list_executions(limit=1)[0]
    attempts = rt.meta.get_attempts(execution.id, "n0")
    assert [(a.attempt, a.error.kind if a.error else None) for a in attempts] == [
        (1, "system"),
        (2, "system"),
    ]
