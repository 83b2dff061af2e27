"""The map item journal: under ``durability=power`` every append is fsynced, and records
round-trip (a torn last line is skipped)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airfoil.core.records import AttemptRecord
from airfoil.engine._journal import ItemJournal
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration


def _attempt(i: int) -> AttemptRecord:
    return AttemptRecord(
        execution_id="e1", node_id=f"n0[{i}]", attempt=1, phase="succeeded", started_at=1.0
    )


@pytest.mark.parametrize("durability", ["process", "power"])
def test_the_engine_journal_syncs_only_under_power(tmp_path: Path, durability: str) -> None:
    settings = AirfoilSettings(home=str(tmp_path / "home"), durability=durability)
    rt = LocalRuntime(settings)
    try:
        journal = rt.engine().journal
        assert journal is not None
        assert journal.sync is (durability == "power")
    finally:
        rt.close()


def test_synced_journal_round_trips_and_skips_a_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    journal = ItemJournal(str(tmp_path / "j"), sync=True)
    journal.append("e1", [_attempt(0)])
    journal.append("e1", [_attempt(1), _attempt(2)])
    assert len(synced) == 3  # the new file's directory, then each append
    with open(tmp_path / "j" / "e1.items", "ab") as fh:
        fh.write(b'{"execution_id": "e1", "node_')  # a kill mid-write
    assert [a.node_id for a in journal.read("e1")] == ["n0[0]", "n0[1]", "n0[2]"]
    journal.clear("e1")
    assert journal.read("e1") == []
