"""The summary ``airfoil run`` prints reads the run's nodes: one damaged node record (one an
older or faulty version stored) must not hide the rest, nor fail a run that succeeded."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _two_incs import write_flow
from typer.testing import CliRunner

import airfoil.engine.launch_plans as launch_plans
from airfoil.cli.main import app

pytestmark = pytest.mark.integration


def _spoil_n0_after_the_drive(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Damage node n0's stored record once the drive has ended (the engine writes a local
    run's records as it goes: a task could not damage one that stays damaged)."""
    real = launch_plans.after_drive

    def after_drive(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        with sqlite3.connect(home / "airfoil.db") as conn:
            eid, record = conn.execute(
                "SELECT execution_id, record FROM nodes WHERE node_id='n0'"
            ).fetchone()
            data = json.loads(record)
            data["phase"] = 7  # what an older version stored
            conn.execute(
                "UPDATE nodes SET record=? WHERE execution_id=? AND node_id='n0'",
                (json.dumps(data), eid),
            )

    monkeypatch.setattr(launch_plans, "after_drive", after_drive)


@pytest.mark.parametrize("as_json", [False, True])
def test_the_summary_after_run_shows_the_nodes_past_a_damaged_one(
    tmp_path: Path, _airfoil_home: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    """Integ: the summary read the nodes whole; the damaged one failed ``run`` (exit 3)."""
    flow = write_flow(tmp_path / "summary_flow.py")
    monkeypatch.chdir(tmp_path)
    _spoil_n0_after_the_drive(monkeypatch, _airfoil_home)
    args = ["run", "--name", "spoilt", *(["--json"] if as_json else []), str(flow), "wf"]
    result = CliRunner().invoke(app, args)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 0, said
    assert "unreadable: node " in said and "/n0 (left out)" in said, said
    assert "older or faulty version" in said
    if as_json:
        data = json.loads(result.stdout)
        assert data["phase"] == "succeeded" and data["outputs"] == {"o0": 3}
        assert [n["id"] for n in data["nodes"]] == ["n1"]
        assert [u["kind"] for u in data["unreadable"]] == ["node"]
    else:
        assert "spoilt succeeded" in said and "n1" in said and '"o0": 3' in result.stdout
