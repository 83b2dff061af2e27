"""What the engine's writes cost the database in rows and index entries (revision 0015).

On the server each trivial task inserts ~4 events and rewrites its node's row ~3 times
(queued, running, ended). These tests pin the schema that keeps those writes cheap: the
events table has no index but its primary key, and on PostgreSQL a node's rewrite stays on
its row's page (a heap-only update: no new index entry, no row moved).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
import sqlalchemy as sa

from airfoil.core.records import NodeRecord, StoreBatch
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_execution
from airfoil.testing.records import make_node

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of either backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_empty_url"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def pg_store(pg_empty_url: str) -> Iterator[SqlMetaStore]:
    store = SqlMetaStore(pg_empty_url)
    yield store
    store.close()


def test_events_are_indexed_by_their_primary_key_only(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        inspector = sa.inspect(engine)
        assert inspector.get_indexes("events") == []
        assert inspector.get_pk_constraint("events")["constrained_columns"] == [
            "execution_id",
            "seq",
        ]
    finally:
        engine.dispose()


def _pages(store: SqlMetaStore, url: str) -> dict[str, int]:
    """Each node row's heap page (the block of its ``ctid``)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT node_id, (ctid::text::point)[0] FROM nodes"))
            return {str(node_id): int(page) for node_id, page in rows}
    finally:
        engine.dispose()


def test_a_launched_nodes_first_rewrite_stays_on_its_page(
    pg_store: SqlMetaStore, pg_empty_url: str
) -> None:
    """A fan-out's launch writes its nodes side by side; each one's move to ``queued`` (the
    engine's fenced upsert, ``record`` only) must find room on the page it was written to."""
    pg_store.write(StoreBatch(execution=make_execution()))
    assert pg_store.acquire_lease("e1", "driver", now=1.0, ttl_s=60.0)
    launched = [
        msgspec.structs.replace(
            make_node("e1", f"n{i:03d}", "pending"), dynamic_spec=None, error=None, outputs=None
        )
        for i in range(101)
    ]
    pg_store.write(StoreBatch(nodes=launched))
    before = _pages(pg_store, pg_empty_url)
    assert len(before) == 101

    queued: list[NodeRecord] = [
        msgspec.structs.replace(n, phase="queued", queued_at=10.0) for n in launched
    ]
    pg_store.write(StoreBatch(nodes=queued, lease=("e1", "driver")))

    assert pg_store.get_nodes("e1") == queued
    after = _pages(pg_store, pg_empty_url)
    moved = sorted(n for n, page in after.items() if page != before[n])
    assert moved == []
