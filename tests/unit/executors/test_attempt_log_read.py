"""An attempt's log read at the moment it ends: the worker writes the whole log, then
removes its live copy, and a reader (the server's log route, ``airfoil logs -f``) that looked
for the whole log just before and for the copy just after found neither and answered an
empty log (the console's log view flashed empty for one poll). The moment is made exact by
a blob store that runs the attempt's end between a reader's reads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from airfoil.core.blobs import BlobStore
from airfoil.executors.base import attempt_log_key, live_log_key, read_attempt_log
from airfoil.server._reading import logs
from airfoil.store.blob import LocalBlobStore

pytestmark = pytest.mark.unit

_KEY = attempt_log_key("e1", "n0", 1)
_WHOLE = "2026-01-01T00:00:00.000Z OUT tick 0\n2026-01-01T00:00:01.000Z OUT tick 1\n"


class _EndsWhileRead(LocalBlobStore):
    """Blobs whose attempt ends (whole log written, live copy removed, as the worker does)
    right after a reader found no whole log; ``created_empty``: the whole log file exists,
    its text not yet written, at that moment."""

    def __init__(self, root: Path, created_empty: bool = False) -> None:
        super().__init__(str(root))
        self.put_bytes(live_log_key(_KEY), _WHOLE[:20].encode())  # the copy so far
        if created_empty:
            self.put_bytes(_KEY, b"")
        self.ended = False

    def get_bytes(self, uri: str) -> bytes:
        if uri != self.uri(_KEY) or self.ended:
            return super().get_bytes(uri)
        self.ended = True
        try:
            return super().get_bytes(uri)  # not found (or empty): the whole log not yet in
        finally:  # ...and the attempt ends right after this read
            self.append_text(_KEY, _WHOLE)
            self.delete(self.uri(live_log_key(_KEY)))


def _deps(blobs: BlobStore) -> Any:
    head = SimpleNamespace(project="p")
    running = SimpleNamespace(attempt=1, log_uri="")  # its record names no log yet
    meta = SimpleNamespace(
        get_execution_head=lambda _id: head,
        get_attempts=lambda _id, _node, on_unreadable=None: [running],
    )
    return cast(Any, SimpleNamespace(meta=meta, blobs=blobs))


@pytest.mark.parametrize("created_empty", [False, True])
def test_the_log_route_reads_the_whole_log_of_an_attempt_ending_meanwhile(
    tmp_path: Path, created_empty: bool
) -> None:
    blobs = _EndsWhileRead(tmp_path, created_empty)
    out = logs(_deps(blobs), "p", "e1", "n0", None)
    assert blobs.ended and out.text == _WHOLE  # before: "" (neither found at its moment)


def test_a_follower_reads_the_whole_log_of_an_attempt_ending_meanwhile(tmp_path: Path) -> None:
    blobs = _EndsWhileRead(tmp_path)
    assert read_attempt_log(blobs, _KEY) == _WHOLE


def test_a_running_attempt_reads_as_its_copy_and_a_silent_one_as_none(tmp_path: Path) -> None:
    blobs = LocalBlobStore(str(tmp_path))
    assert read_attempt_log(blobs, _KEY) is None
    blobs.put_bytes(live_log_key(_KEY), b"tick 0\n")
    assert read_attempt_log(blobs, _KEY) == "tick 0\n"
    blobs.append_text(_KEY, _WHOLE)
    assert read_attempt_log(blobs, _KEY) == _WHOLE  # the whole log wins over the copy
