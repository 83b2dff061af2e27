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
    # the spec is stored apart from the record (execution_specs, revision 0021)
    with sqlite3.connect(_airfoil_home / "airfoil.db") as db:
        q = (
            "SELECT id, spec FROM executions JOIN execution_specs ON execution_id = id "
            "WHERE name='old-run'"
        )
        eid, spec = db.execute(q).fetchone()
    data = json.loads(spec)
    data["nodes"][0]["task"]["cache"]["version"] = 2  # what an older version stored
    with sqlite3.connect(_airfoil_home / "airfoil.db") as db:
        q = "UPDATE execution_specs SET spec=? WHERE execution_id=?"
        db.execute(q, (json.dumps(data), eid))

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


def _spoil_first(db: Path, table: str, eid: str) -> str:
    """The phase of the wrong type in the first ``table`` row of ``eid``; its node id."""
    with sqlite3.connect(db) as conn:
        q = f"SELECT node_id, record FROM {table} WHERE execution_id=? ORDER BY node_id"
        node_id, record = conn.execute(q, (eid,)).fetchone()
        spoilt = json.loads(record)
        spoilt["phase"] = 7  # what an older version stored
        conn.execute(
            f"UPDATE {table} SET record=? WHERE execution_id=? AND node_id=?",
            (json.dumps(spoilt), eid, node_id),
        )
    return str(node_id)


TWO_STEPS = """
import airfoil as af

@af.task
def inc(x: int) -> int:
    print("incrementing", x)
    return x + 1

@af.workflow
def wf(x: int = 1) -> int:
    return inc(x=inc(x=x))
"""


def test_compare_and_log_search_read_past_a_damaged_part(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    """Main: ``compare`` and ``logs --search`` failed whole (exit 3) on one damaged node or
    attempt record; a log that cannot be read failed the search with a traceback."""
    (tmp_path / "flow.py").write_text(TWO_STEPS)
    for run, x in (("run-a", "1"), ("run-b", "2"), ("run-c", "3")):
        r = cli("run", "--name", run, "flow.py", "wf", "--x", x)
        assert r.code == 0, r.err
    db = _airfoil_home / "airfoil.db"
    with sqlite3.connect(db) as conn:
        ids = dict(conn.execute("SELECT name, id FROM executions").fetchall())
        (log_uri,) = conn.execute(
            "SELECT json_extract(record, '$.log_uri') FROM attempts "
            "WHERE execution_id=? AND node_id='n1'",
            (ids["run-c"],),
        ).fetchone()
    a, b, c = ids["run-a"], ids["run-b"], ids["run-c"]
    node = _spoil_first(db, "nodes", a)
    tried = _spoil_first(db, "attempts", b)
    log = Path(log_uri.removeprefix("file://"))
    log.unlink()
    log.mkdir()  # there, but no longer a file to read

    compared = cli("compare", "run-a", "run-b")
    assert compared.code == 0, compared.err
    said = " ".join(compared.err.split())
    assert f"unreadable: node {a}/{node} (left out)" in said, said
    assert "n1" in compared.out
    as_json = cli("compare", "run-a", "run-b", "--json")
    assert as_json.code == 0, as_json.err
    assert [(u["kind"], u["id"]) for u in as_json.json()["unreadable"]] == [("node", f"{a}/{node}")]

    found = cli("logs", "--search", "incrementing", "--json")
    assert found.code == 0, found.err
    data = found.json()
    assert {(u["kind"], u["id"]) for u in data["unreadable"]} == {
        ("attempt", f"{b}/{tried}#1"),
        ("log", f"{c}/n1#1"),
    }
    lines = {(m["execution_id"], m["node_id"]) for m in data["matches"]}
    assert lines == {(a, "n0"), (a, "n1"), (b, "n1"), (c, "n0")}  # the rest was read
    said = " ".join(found.err.split())
    assert f"unreadable: attempt {b}/{tried}#1 (left out)" in said, said
