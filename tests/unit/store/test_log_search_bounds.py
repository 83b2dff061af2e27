"""A log search reads what its bounds let it, and answers what a client can take.

On main a log over the 8 MB bound was read whole and only then left out (a task that
printed gigabytes had every search read them into the server's memory), and a matching line
was returned whole (a line of megabytes matching in each of 1,000 runs: a response of
gigabytes)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from airfoil.core.records import StoreBatch
from airfoil.store._log_search import MAX_LINE_CHARS, MAX_LOG_BYTES, search_logs
from airfoil.store.blob import LocalBlobStore, open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.records import make_attempt, make_execution

pytestmark = pytest.mark.unit


class _CountingBlobs(LocalBlobStore):
    """A local blob store that records which blobs were read whole."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.read: list[str] = []

    def get_bytes(self, uri: str) -> bytes:
        self.read.append(uri)
        return super().get_bytes(uri)


def _run_with_log(meta: MemoryMetaStore, eid: str, uri: str, created_at: float) -> None:
    attempt = msgspec.structs.replace(
        make_attempt(eid, "n0", 1, phase="succeeded"), log_uri=uri, error=None
    )
    meta.write(
        StoreBatch(
            execution=make_execution(eid, created_at=created_at, project="p", phase="succeeded"),
            attempts=[attempt],
        )
    )


def test_a_log_over_the_bound_is_left_out_unread_and_a_long_line_comes_back_cut(
    tmp_path: Path,
) -> None:
    blobs = _CountingBlobs(str(tmp_path / "blobs"))
    meta = MemoryMetaStore()
    huge = blobs.put_bytes("logs/huge.log", b"needle " + b"x" * (MAX_LOG_BYTES + 10) + b"\n")
    # "İ" lowers to two characters: the match is found in the line as written
    long_line = "İ" * 5_000 + "a" * 300_000 + "the Needle here" + "b" * 300_000
    small = blobs.put_bytes("logs/small.log", f"short needle\n{long_line}\n".encode())
    _run_with_log(meta, "e-huge", huge, 1_700_000_100.0)
    _run_with_log(meta, "e-small", small, 1_700_000_000.0)

    found = search_logs(meta, blobs, "p", "needle")
    assert found.skipped == 1 and found.logs == 1, found
    assert huge not in blobs.read, blobs.read  # main: read whole, then skipped
    lines = [m.line for m in found.matches]
    assert lines[0] == "short needle"
    cut = lines[1]  # main: the whole 600,015 characters
    assert len(cut) <= MAX_LINE_CHARS + 2 and "the Needle here" in cut, len(cut)
    assert cut.startswith("…a") and cut.endswith("b…"), (cut[:5], cut[-5:])


def test_blob_sizes_are_known_without_reading(tmp_path: Path) -> None:
    from airfoil.core.errors import NotFoundError

    for store in (open_blob_store(str(tmp_path / "local")), open_blob_store("memory://sizes")):
        uri = store.put_bytes("a/b.log", b"12345")
        assert store.size(uri) == 5
        with pytest.raises(NotFoundError):
            store.size(store.uri("a/missing.log"))
