"""On a Ray node, a task reading an array from a remote blob store through the node's blob
cache maps the cache's own copy: the blob is fetched into the cache once, checked there, and
linked into the attempt's scratch folder, not copied a second time (on the session's local
Ray: one node)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.ray]

FLOW = textwrap.dedent(
    """
    import os

    import numpy as np

    import airfoil as af


    @af.task
    def make() -> np.ndarray:
        return np.arange(300_000, dtype=np.float64)


    @af.task
    def read(a: np.ndarray) -> list[float]:
        base = a
        while getattr(base, "filename", None) is None:
            base = base.base
        return [float(a.sum()), float(os.stat(base.filename).st_nlink)]


    @af.workflow
    def wf() -> list[float]:
        return read(a=make())
    """
)


@pytest.mark.timeout(300)
def test_an_array_read_on_a_node_maps_the_cache_s_copy_written_once(
    tmp_path: Path, ray_session_env: dict[str, str]
) -> None:
    """On main the task mapped a second copy of the cache's file (one link: its own); on
    integ the entry's record held a SHA-256 hashed after the value's BLAKE3 check."""
    (tmp_path / "flow.py").write_text(FLOW)
    cache = tmp_path / "cache"
    env = dict(
        ray_session_env,
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_BLOB_URL=f"local://{tmp_path / 'store'}",  # fsspec: read as a remote store
        AIRFOIL_BLOB_CACHE_DIR=str(cache),
    )
    done = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
         str(tmp_path / "flow.py"), "wf"],
        env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert data["phase"] == "succeeded", data
    total, links = data["outputs"]["o0"]
    assert total == sum(range(300_000))
    assert links == 2  # the cache's entry and the attempt's link to it
    entries = [
        p for p in cache.rglob("*") if p.is_file() and "." not in p.name and p.parent.name != "tmp"
    ]
    assert [os.path.getsize(p) for p in entries] == [300_000 * 8 + 128]
    record = json.loads(Path(f"{entries[0]}.json").read_text())
    assert set(record) == {"uri", "size", "blake3"}  # the value's check's digest, no SHA-256
