"""One undecodable stored execution (a run stored by an older or faulty version, with a spec
msgspec cannot decode: ``cache_version=2`` stored as a number did this) must not fail
``airfoil executions list`` for the whole home: it is listed as unreadable, once, with its id
and the decode error, and ``executions show`` of it is a clear error naming it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = """
import airfoil as af

@af.task(cache=True, cache_version="1")
def inc(x: int) -> int:
    return x + 1

@af.workflow
def wf(x: int = 1) -> int:
    return inc(x=x)
"""


def test_an_unreadable_execution_is_reported_and_the_rest_listed(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    for run, x in (("old-run", "1"), ("new-run", "2")):
        r = cli("run", "--name", run, "flow.py", "wf", "--x", x)
        assert r.code == 0, r.err
    with sqlite3.connect(_airfoil_home / "airfoil.db") as db:
        q = "SELECT id, record FROM executions WHERE name='old-run'"
        eid, record = db.execute(q).fetchone()
    data = json.loads(record)
    data["spec"]["nodes"][0]["task"]["cache"]["version"] = 2  # what an older version stored
    with sqlite3.connect(_airfoil_home / "airfoil.db") as db:
        db.execute("UPDATE executions SET record=? WHERE id=?", (json.dumps(data), eid))

    listed = cli("executions", "list")
    assert listed.code == 0, listed.err
    assert "new-run" in listed.out and "old-run" not in listed.out
    assert listed.err.count(f"unreadable: execution {eid}") == 1, listed.err
    assert "$.spec.nodes[0].task.cache.version" in listed.err
    as_json = cli("executions", "list", "--json")
    assert as_json.code == 0 and [e["name"] for e in as_json.json()] == ["new-run"]

    shown = cli("executions", "show", "old-run")
    assert shown.code != 0 and "Traceback" not in shown.err
    assert f"execution {eid!r} cannot be read" in shown.err
    assert "older or faulty version" in shown.err
    assert "internal" not in shown.err  # damaged data, not Airfoil failing


def test_show_of_a_run_with_a_damaged_node_shows_the_rest_and_names_it(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    r = cli("run", "--name", "damaged", "flow.py", "wf")
    assert r.code == 0, r.err
    db = _airfoil_home / "airfoil.db"
    with sqlite3.connect(db) as conn:
        eid = conn.execute("SELECT id FROM executions WHERE name='damaged'").fetchone()[0]
        node_id, record = conn.execute(
            "SELECT node_id, record FROM nodes WHERE execution_id=?", (eid,)
        ).fetchone()
        seq, event = conn.execute(
            "SELECT seq, record FROM events WHERE execution_id=? ORDER BY seq DESC", (eid,)
        ).fetchone()
        spoilt, spoilt_event = json.loads(record), json.loads(event)
        spoilt["phase"], spoilt_event["to_phase"] = 7, 7  # what an older version stored
        conn.execute(
            "UPDATE nodes SET record=? WHERE execution_id=? AND node_id=?",
            (json.dumps(spoilt), eid, node_id),
        )
        conn.execute(
            "UPDATE events SET record=? WHERE execution_id=? AND seq=?",
            (json.dumps(spoilt_event), eid, seq),
        )

    shown = cli("executions", "show", "damaged", "--events")
    assert shown.code == 0, shown.err
    assert "succeeded" in shown.out
    said = " ".join(shown.err.split())
    assert f"unreadable: node {eid}/{node_id} (left out)" in said, said
    assert f"unreadable: event {eid}@{seq} (left out)" in said, said
    as_json = cli("executions", "show", "damaged", "--json", "--events")
    assert as_json.code == 0, as_json.err
    data = as_json.json()
    assert {(u["kind"], u["id"]) for u in data["unreadable"]} == {
        ("node", f"{eid}/{node_id}"),
        ("event", f"{eid}@{seq}"),
    }
    assert data["phase"] == "succeeded" and seq not in {e["seq"] for e in data["events"]}
    listed = cli("executions", "list", "--json")  # a listing reads each run's nodes too
    assert listed.code == 0, listed.err
    assert [e["name"] for e in listed.json()] == ["damaged"]
    assert f"unreadable: node {eid}/{node_id} (left out)" in " ".join(listed.err.split())
