"""A stored execution record that no longer decodes (written by an older or faulty version:
a setting of the wrong type in its spec) is left out of every listing and reported, never
failing the listing for the whole home; reading it raises UnreadableRecordError naming it.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from airfoil.core.errors import UnreadableRecordError
from airfoil.core.records import StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_execution

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlMetaStore]:
    name = "sqlite_url" if request.param == "sqlite" else "pg_empty_url"
    s = SqlMetaStore(request.getfixturevalue(name))
    yield s
    s.close()


def _spoil(store: SqlMetaStore, execution_id: str, column: str = "record") -> None:
    """Store a spec version of the wrong type in the row (what ``cache_version=2`` did)."""
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        q = sa.text(f"SELECT {column} FROM executions WHERE id = :id")
        data = json.loads(conn.execute(q, {"id": execution_id}).scalar_one())
        if column == "record":
            data["spec"]["version"] = 2
        else:
            data["phase"] = 7
        q = sa.text(f"UPDATE executions SET {column} = :r WHERE id = :id")
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
    assert [h.id for h in store.list_execution_heads()] == ["e3", "e1"]
    heads, total, _ = store.page_execution_heads_leased()
    assert [h.id for h in heads] == ["e3", "e1"] and total == 3
    with pytest.raises(UnreadableRecordError, match="'e2'"):
        store.get_execution_head("e2")
