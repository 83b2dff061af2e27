"""(adv27) Process-executor workers end with ``os._exit`` (a multiprocessing child does, after
running multiprocessing's own exit finalizers): an ``atexit`` hook never runs there, so a
temporary directory a worker removes only at its exit would leak, one per worker. The flytekit
compatibility layer's per-process sandbox was such a directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _executor_harness import Harness, collect

pytestmark = pytest.mark.integration


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


@pytest.mark.timeout(60)
def test_the_workers_flytekit_sandboxes_are_removed_when_the_pool_closes(h: Harness) -> None:
    """Two workers each make their sandbox; after the pool's close none is left (on integ
    both were left behind: the directories still existed after the workers had exited)."""
    ex = h.executor(max_workers=2)
    for i in range(4):
        ex.submit(h.request("flytekit_sandbox", node=f"s{i}", x=i))
    dirs = {h.output(r, "flytekit_sandbox") for r in collect(ex, 4)}
    assert dirs and all(os.path.isdir(d) for d in dirs)
    assert all(os.path.basename(d).startswith("airfoil-flytekit-") for d in dirs)
    ex.close()
    assert sorted(d for d in dirs if os.path.exists(d)) == []
