"""Intra-task checkpoints (flytekit's ``current_context().checkpoint``): what an attempt
writes, the next attempt of the node reads, so a retried task resumes where it failed."""

from __future__ import annotations

import pytest

from airfoil.compat.flytekit import current_context, task, workflow
from airfoil.compat.flytekit._checkpoint import Checkpoint
from airfoil.compat.flytekit.exceptions.user import FlyteRecoverableException

RETRIES = 3


@task(retries=RETRIES)
def use_checkpoint(n_iterations: int) -> str:
    cp = current_context().checkpoint
    prev = cp.read()
    start = int(prev.decode()) if prev else 0
    failure_interval = n_iterations // RETRIES
    index = 0
    for index in range(start, n_iterations):
        if index > start and index % failure_interval == 0:
            raise FlyteRecoverableException(f"Failed at iteration {index}")
        cp.write(f"{index + 1}".encode())
    return f"{index} after {current_context().attempt_number} retries, started at {start}"


@workflow
def checkpointing_example(n_iterations: int) -> str:
    return use_checkpoint(n_iterations=n_iterations)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_retried_task_resumes_from_its_checkpoint(
    executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFOIL_EXECUTOR", executor)
    assert checkpointing_example(n_iterations=10) == "9 after 3 retries, started at 9"


def test_without_a_run_nothing_was_saved(tmp_path: object) -> None:
    cp = Checkpoint(None, "e", "n0")
    assert cp.read() is None and not cp.prev_exists()
    with pytest.raises(RuntimeError, match="running task"):
        cp.write(b"x")


def test_save_and_restore_files(tmp_path: object) -> None:
    from pathlib import Path

    from airfoil.store.blob import LocalBlobStore

    base = Path(str(tmp_path))
    cp = Checkpoint(LocalBlobStore(str(base / "blobs")), "e1", "n0")
    (base / "state.bin").write_bytes(b"model-weights")
    cp.save(base / "state.bin")
    (base / "restore").mkdir()
    restored = cp.restore(base / "restore")
    assert restored is not None and Path(restored).read_bytes() == b"model-weights"
    assert Checkpoint(cp._blobs, "e1", "n1").read() is None  # per node
    with pytest.raises(TypeError, match="holds bytes"):
        cp.write("text")  # type: ignore[arg-type]
