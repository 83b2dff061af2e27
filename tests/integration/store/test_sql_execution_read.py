"""Reading execution records back from the SQL store: each workflow version's spec is
decoded once and shared (it is most of a record, and frozen), the rest of the record every
time, and what comes back is always what was written."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

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
