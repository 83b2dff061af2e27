"""Reading execution records back from the SQL store: each workflow version's spec is
decoded once and shared (it is most of a record, and frozen), the rest of the record every
time, and what comes back is always what was written; a record that no longer decodes is
left out of listings and reported, and reading it names it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

from airfoil.core.errors import UnreadableRecordError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_execution
from airfoil.testing.records import make_attempt, make_event, make_node

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlMetaStore]:
    name = "sqlite_url" if request.param == "sqlite" else "pg_empty_url"
    s = SqlMetaStore(request.getfixturevalue(name))
    yield s
    s.close()


def test_executions_of_one_version_share_one_decoded_spec(store: SqlMetaStore) -> None:
    first, second = make_execution("e1"), make_execution("e2", phase="queued")
    store.write(StoreBatch(execution=first))
    store.write(StoreBatch(execution=second))
    one, two = store.get_execution("e1"), store.get_execution("e2")
    assert one == first and two == second
    assert one.spec is two.spec  # decoded once for the version, not once per read
    assert store.get_execution("e1").spec is one.spec
    assert store.records.decoded == 1
    assert [r.spec for r in store.list_executions()] == [one.spec, one.spec]
    # the rest of a record is each read's own: changing one read changes no other
    one.labels["x"] = "y"
    one.inputs.clear()
    assert store.get_execution("e1") == first and two == second


def test_a_different_spec_under_the_same_version_is_decoded_anew(store: SqlMetaStore) -> None:
    """A spec is reused only for the very bytes it was decoded from: a record whose spec
    differs under the same workflow name and version (a hand-set version) gets its own."""
    first = make_execution("e1")
    other = make_execution("e2")
    other.spec = msgspec.structs.replace(first.spec, docs="another body, the same version")
    store.write(StoreBatch(execution=first))
    store.write(StoreBatch(execution=other))
    assert store.get_execution("e1") == first
    assert store.get_execution("e2") == other
    assert store.get_execution("e1") == first
    assert store.records.decoded == 3


def test_a_record_without_its_defaults_reads_back_whole(store: SqlMetaStore) -> None:
    """Fields left at their defaults are not stored (``omit_defaults``); they come back as
    defaults, a fresh ``labels`` dict for each read."""
    bare = make_execution("e1")
    bare.labels, bare.outputs, bare.error = {}, None, None
    bare.started_at = bare.ended_at = None
    bare.executor, bare.code_root = "inline", ""
    store.write(StoreBatch(execution=bare))
    one, two = store.get_execution("e1"), store.get_execution("e1")
    assert one == bare and two == bare
    assert one.labels is not two.labels


# --- a record that no longer decodes (stored by an older or faulty version: a setting of the
# wrong type in its spec) is left out of every listing and reported; reading it raises
# UnreadableRecordError naming it


def _spoil(store: SqlMetaStore, execution_id: str, column: str = "record") -> None:
    """Store a spec version of the wrong type (what ``cache_version=2`` did) in its spec's
    row (``record``: revision 0021 keeps it apart), or a phase of the wrong type in its
    ``head``."""
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    table, key, column = (
        ("execution_specs", "execution_id", "spec")
        if column == "record"
        else ("executions", "id", column)
    )
    with engine.begin() as conn:
        q = sa.text(f"SELECT {column} FROM {table} WHERE {key} = :id")
        data = json.loads(conn.execute(q, {"id": execution_id}).scalar_one())
        if table == "execution_specs":
            data["version"] = 2
        else:
            data["phase"] = 7
        q = sa.text(f"UPDATE {table} SET {column} = :r WHERE {key} = :id")
        conn.execute(q, {"r": json.dumps(data), "id": execution_id})
    engine.dispose()


def _three(store: SqlMetaStore) -> None:
    for i in (1, 2, 3):
        store.write(StoreBatch(execution=make_execution(f"e{i}", created_at=float(i))))


def test_a_listing_leaves_an_unreadable_record_out_and_reports_it(store: SqlMetaStore) -> None:
    _three(store)
    _spoil(store, "e2")
    reported: list[UnreadableRecordError] = []
    listed = store.list_executions(on_unreadable=reported.append)
    assert [r.id for r in listed] == ["e3", "e1"]
    assert [(e.record_id, e.kind) for e in reported] == [("e2", "execution")]
    assert "$.spec.version" in reported[0].reason
    assert [r.id for r in store.list_executions()] == ["e3", "e1"]  # no callback: logged


def test_reading_an_unreadable_record_names_it(store: SqlMetaStore) -> None:
    _three(store)
    _spoil(store, "e2")
    with pytest.raises(UnreadableRecordError, match="execution 'e2' cannot be read") as info:
        store.get_execution("e2")
    assert "older or faulty version" in str(info.value)
    with pytest.raises(UnreadableRecordError, match="'e2'"):
        store.view_execution("e2")
    assert store.get_execution("e1").id == "e1"  # the others read as before


def test_head_listings_leave_an_unreadable_head_out(store: SqlMetaStore) -> None:
    _three(store)
    _spoil(store, "e2", "head")
    reported: list[UnreadableRecordError] = []
    assert [h.id for h in store.list_execution_heads(on_unreadable=reported.append)] == [
        "e3",
        "e1",
    ]
    heads, total, _ = store.page_execution_heads_leased(on_unreadable=reported.append)
    assert [h.id for h in heads] == ["e3", "e1"] and total == 3  # the total counts it
    assert [(e.kind, e.record_id) for e in reported] == [("execution", "e2")] * 2
    assert "$.phase" in reported[0].reason
    with pytest.raises(UnreadableRecordError, match="'e2'"):
        store.get_execution_head("e2")


# --- an execution's parts (nodes, attempts, events) that no longer decode: read whole by
# default (whoever acts on them, the engine, gets an error naming the part), the rest with
# ``on_unreadable`` (whoever only shows them)


def _spoil_part(store: SqlMetaStore, table: str, key: dict[str, Any], field: str) -> None:
    """A field of the wrong type in one stored node, attempt or event."""
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    where = " AND ".join(f"{k} = :{k}" for k in key)
    with engine.begin() as conn:
        q = sa.text(f"SELECT record FROM {table} WHERE {where}")
        data = json.loads(conn.execute(q, key).scalar_one())
        data[field] = 7
        q = sa.text(f"UPDATE {table} SET record = :r WHERE {where}")
        conn.execute(q, {"r": json.dumps(data), **key})
    engine.dispose()


def _with_damaged_parts(store: SqlMetaStore) -> None:
    store.write(
        StoreBatch(
            execution=make_execution("e1"),
            nodes=[make_node(node_id="n0"), make_node(node_id="n1")],
            attempts=[make_attempt(node_id="n0"), make_attempt(node_id="n1")],
            events=[make_event(seq=1), make_event(seq=2)],
        )
    )
    _spoil_part(store, "nodes", {"execution_id": "e1", "node_id": "n1"}, "phase")
    _spoil_part(store, "attempts", {"execution_id": "e1", "node_id": "n0", "attempt": 1}, "phase")
    _spoil_part(store, "events", {"execution_id": "e1", "seq": 2}, "to_phase")


def test_an_unreadable_part_fails_a_whole_read_naming_it(store: SqlMetaStore) -> None:
    _with_damaged_parts(store)
    with pytest.raises(UnreadableRecordError, match="node 'e1/n1' cannot be read") as info:
        store.get_nodes("e1")
    assert "$.phase" in info.value.reason and info.value.kind == "node"
    with pytest.raises(UnreadableRecordError, match="node 'e1/n1'"):
        store.get_node("e1", "n1")
    assert store.get_node("e1", "n0").node_id == "n0"
    with pytest.raises(UnreadableRecordError, match="attempt 'e1/n0#1' cannot be read"):
        store.get_attempts("e1")
    assert [a.node_id for a in store.get_attempts("e1", "n1")] == ["n1"]
    with pytest.raises(UnreadableRecordError, match="event 'e1@2' cannot be read"):
        store.get_events("e1")
    assert [e.seq for e in store.get_events("e1", after_seq=2)] == []
    with pytest.raises(UnreadableRecordError, match="node 'e1/n1'"):
        store.view_execution("e1")


def test_a_reader_that_shows_parts_gets_the_rest_and_each_left_out(store: SqlMetaStore) -> None:
    _with_damaged_parts(store)
    seen: list[UnreadableRecordError] = []
    assert [n.node_id for n in store.get_nodes("e1", on_unreadable=seen.append)] == ["n0"]
    assert [a.node_id for a in store.get_attempts("e1", on_unreadable=seen.append)] == ["n1"]
    assert [e.seq for e in store.get_events("e1", on_unreadable=seen.append)] == [1]
    assert [(e.kind, e.record_id) for e in seen] == [
        ("node", "e1/n1"),
        ("attempt", "e1/n0#1"),
        ("event", "e1@2"),
    ]
    seen.clear()
    view = store.view_execution("e1", on_unreadable=seen.append)
    assert view.nodes is not None and view.attempts is not None
    assert [n.node_id for n in view.nodes] == ["n0"]
    assert [a.node_id for a in view.attempts] == ["n1"]
    assert view.last_seq == 2  # the newest seq counts the event that does not decode
    assert {(e.kind, e.record_id) for e in seen} == {("node", "e1/n1"), ("attempt", "e1/n0#1")}


def test_an_executions_spec_is_written_once_not_with_each_rewrite_of_its_row(
    store: SqlMetaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision 0021: the launch writes the spec's row; later writes of the execution
    (the same spec, or an equal one) rewrite only its row, which holds no spec; a changed
    spec is written again."""
    import msgspec.structs

    from airfoil.store.sql import _store

    written: list[str] = []
    real = _store.spec_row

    def counted(ex: Any) -> dict[str, Any]:
        written.append(ex.id)
        return real(ex)

    monkeypatch.setattr(_store, "spec_row", counted)
    ex = make_execution("e1")
    store.write(StoreBatch(execution=ex))
    for phase in ("running", "running", "succeeded"):
        store.write(StoreBatch(execution=msgspec.structs.replace(ex, phase=phase)))
    store.write(StoreBatch(execution=make_execution("e1", phase="succeeded")))  # equal spec
    assert written == ["e1"]
    assert '"spec"' not in _column(store, "SELECT record FROM executions")
    renamed = msgspec.structs.replace(ex.spec, name="other")
    store.write(StoreBatch(execution=msgspec.structs.replace(ex, spec=renamed)))
    assert written == ["e1", "e1"]
    assert store.get_execution("e1").spec.name == "other"


def _column(store: SqlMetaStore, sql: str) -> str:
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()
