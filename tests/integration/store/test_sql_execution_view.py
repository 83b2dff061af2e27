"""What an execution's detail and a listing read, as one statement each on SQLite and
PostgreSQL (issue 17: each round trip to the database is a chance to wait for a core under
load), and the same answers as the separate reads they replace: the store's view
(:meth:`MetaStore.view_execution`, :meth:`MetaStore.page_execution_heads_leased`) against
the base class's composition of ``get_events``, ``get_execution``, ``get_lease``,
``get_nodes`` and ``get_attempts``, and the API's detail JSON of a rich execution (nodes, map
items, a gate, cache hits, errors, a domain) built from either, request after request."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from airfoil.core.errors import NotFoundError
from airfoil.core.records import ErrorInfo, EventRecord, StoreBatch, Value
from airfoil.server import _detail, _reading
from airfoil.store.base import MetaStore
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.records import make_attempt, make_execution, make_node
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration

NOW = 1_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[SqlMetaStore]:
    name = "sqlite_url" if request.param == "sqlite" else "pg_empty_url"
    s = SqlMetaStore(request.getfixturevalue(name))
    yield s
    s.close()


def _event(eid: str, seq: int, node_id: str = "") -> EventRecord:
    return EventRecord(
        execution_id=eid,
        seq=seq,
        at=float(seq),
        kind="node",
        to_phase="running",
        cause="test",
        node_id=node_id,
    )


_JSON = {"x": b"[1, 2]", "p": b'{"x": 1.5}'}


def _valid(values: dict[str, Value] | None) -> dict[str, Value] | None:
    """The testing records' values with JSON their types read (theirs is any bytes)."""
    if values is None:
        return None
    return {
        k: msgspec.structs.replace(v, inline=_JSON[k], size=len(_JSON[k]))
        for k, v in values.items()
    }


def _fixed(record: Any) -> Any:
    names = [f for f in ("inputs", "outputs") if hasattr(record, f)]
    fields = {f: _valid(getattr(record, f)) for f in names}
    return msgspec.structs.replace(record, **fields)


def _rich(store: MetaStore) -> None:
    """Execution e1 (domain ``staging``, running, no outputs yet) with a cached node whose
    reason names another execution (e0), a map node with items (one failed, one served from
    the cache), a gate waiting and a failed node; e0 of the same project, finished."""
    e0 = msgspec.structs.replace(make_execution("e0", phase="succeeded"), name="first")
    store.write(StoreBatch(execution=e0, events=[_event("e0", 1)]))
    e1 = msgspec.structs.replace(
        make_execution("e1", domain="staging"), outputs=None, error=None, ended_at=None
    )
    boom = ErrorInfo(kind="user", type="builtins.KeyError", message="'k'", traceback="tb")
    nodes = [
        msgspec.structs.replace(
            make_node("e1", "n0", "succeeded"),
            kind="task",
            cache_status="hit",
            cache_reason="from execution e0 node n0",
            error=None,
        ),
        msgspec.structs.replace(
            make_node("e1", "m", "running"),
            kind="map",
            map_counts={"succeeded": 1, "failed": 1},
            error=None,
        ),
        msgspec.structs.replace(make_node("e1", "g", "waiting"), kind="gate", error=None),
        msgspec.structs.replace(make_node("e1", "z", "failed"), kind="task", error=boom),
    ]
    attempts = [
        make_attempt("e1", "n0", 1, "succeeded"),
        make_attempt("e1", "m[0]", 1, "failed"),
        make_attempt("e1", "m[0]", 2, "succeeded"),
        msgspec.structs.replace(make_attempt("e1", "m[1]", 1, "succeeded"), worker="cache"),
        make_attempt("e1", "z", 1, "failed"),
    ]
    events = [_event("e1", i, n.node_id) for i, n in enumerate(nodes, start=1)]
    nodes, attempts = [_fixed(n) for n in nodes], [_fixed(a) for a in attempts]
    store.write(StoreBatch(execution=_fixed(e1), nodes=nodes, attempts=attempts, events=events))
    assert store.acquire_lease("e1", "driver", NOW, 30.0)


def _composed(store: MetaStore) -> Any:
    """The base class's view: the separate reads the one statement replaces."""
    return functools.partial(MetaStore.view_execution, store)


def test_the_view_is_the_separate_reads_in_one_statement(store: SqlMetaStore) -> None:
    _rich(store)
    reads: list[str] = []
    original = store._read

    def counted(sql: str, params: dict[str, Any], action: str) -> list[Any]:
        reads.append(action)
        return original(sql, params, action)

    store._read = counted  # type: ignore[method-assign]
    for after, full in ((-1, True), (-1, False), (2, False), (4, False), (4, True), (9, False)):
        reads.clear()
        got = store.view_execution("e1", after_seq=after, full=full)
        assert len(reads) == 1, reads
        assert got == _composed(store)("e1", after_seq=after, full=full)
    whole = store.view_execution("e1")
    assert whole.last_seq == 4 and whole.lease == ("driver", NOW + 30.0)
    assert whole.nodes is not None and [n.node_id for n in whole.nodes] == ["g", "m", "n0", "z"]
    assert whole.attempts is not None
    assert [(a.node_id, a.attempt) for a in whole.attempts] == [
        ("m[0]", 1),
        ("m[0]", 2),
        ("m[1]", 1),
        ("n0", 1),
        ("z", 1),
    ]
    assert store.view_execution("e1", after_seq=4).nodes is None  # nothing since seq 4
    store.release_lease("e1", "driver")
    assert store.view_execution("e1", after_seq=4, full=False).lease is None
    with pytest.raises(NotFoundError):
        store.view_execution("nope")
    done = _fixed(msgspec.structs.replace(make_execution("e1"), phase="succeeded"))
    store.write(StoreBatch(execution=done, events=[_event("e1", 5)]))
    ended = store.view_execution("e1", after_seq=4, full=False)  # ended since: the record
    assert ended.execution == store.get_execution("e1") and ended.last_seq == 5
    assert store.view_execution("e1", after_seq=5, full=False).execution == (
        store.get_execution_head("e1")  # nothing since: the head
    )


def test_an_execution_without_events_or_nodes_reads_whole(store: SqlMetaStore) -> None:
    store.write(StoreBatch(execution=make_execution("e1", phase="queued")))
    got = store.view_execution("e1")
    assert (got.last_seq, got.lease, got.nodes, got.attempts) == (0, None, [], [])
    assert got == _composed(store)("e1")
    assert store.view_execution("e1", after_seq=0).nodes is None


def test_a_page_carries_its_leases(store: SqlMetaStore) -> None:
    _rich(store)
    store.write(StoreBatch(execution=make_execution("e2", phase="queued", created_at=2e9)))
    assert store.acquire_lease("e0", "gone", NOW, 30.0)  # a finished one's: not listed
    items, total, leases = store.page_execution_heads_leased(project="proj", limit=10)
    assert [r.id for r in items] == ["e2", "e1", "e0"] and total == 3
    assert leases == {"e1": ("driver", NOW + 30.0)}
    base = MetaStore.page_execution_heads_leased(store, project="proj", limit=10)
    assert (items, total, leases) == base
    assert store.page_execution_heads_leased(project="proj", limit=10, offset=5) == ([], 3, {})


def _deps(store: MetaStore, clock: SimpleNamespace) -> Any:
    """What the detail reads of the server's Deps."""
    return SimpleNamespace(
        meta=store,
        clock=clock,
        types=default_type_engine(),
        value_ctx=lambda: ValueContext(blobs=None),  # type: ignore[arg-type]
        detail_cache=OrderedDict(),
        detail_lock=threading.Lock(),
        detail_tag="t",
    )


def test_the_detail_reads_once_and_answers_as_the_separate_reads_did(
    store: SqlMetaStore,
) -> None:
    """Request after request (first, unchanged, lease lapsed, a new event, the end), the
    detail JSON built from the one statement equals the one built from the separate reads,
    and costs one read (two: the end's record, and the head of e0 its cache reason names,
    read only where n0's view is built: not while its kept JSON is reused)."""
    _rich(store)
    clock = SimpleNamespace(now=lambda: NOW)
    one, separate = _deps(store, clock), _deps(store, clock)
    reads: list[str] = []
    original = store._read

    def counted(sql: str, params: dict[str, Any], action: str) -> list[Any]:
        reads.append(action)
        return original(sql, params, action)

    def both(expected_reads: int) -> dict[str, Any]:
        store._read = counted  # type: ignore[method-assign]
        reads.clear()
        got = _detail.execution_detail_json(one, "proj", "e1")
        assert len(reads) == expected_reads, reads
        store._read = original  # type: ignore[method-assign]
        store.view_execution = _composed(store)  # type: ignore[method-assign]
        want = _detail.execution_detail_json(separate, "proj", "e1")
        del store.view_execution
        assert got == want
        return dict(msgspec.json.decode(got))

    first = both(2)  # the view, and e0's head (named by n0's cache reason)
    assert first["domain"] == "staging" and first["phase"] == "running"
    assert {n["id"]: n["cache_status"] for n in first["nodes"]}["n0"] == "hit"
    assert "first" in next(n for n in first["nodes"] if n["id"] == "n0")["cache_reason"]
    assert both(1) == first  # unchanged: the kept answer
    clock.now = lambda: NOW + 60.0  # the lease lapsed: interrupted, with no event
    # the view, again with the nodes (the lease alone changed); not e0's head: n0, unchanged,
    # is the kept answer's JSON
    lapsed = both(2)
    assert lapsed["phase"] == "interrupted"
    clock.now = lambda: NOW
    node = _fixed(
        msgspec.structs.replace(make_node("e1", "g", "succeeded"), kind="gate", error=None)
    )
    store.write(StoreBatch(nodes=[node], events=[_event("e1", 5, "g")]))
    changed = both(1)  # the view: only g is built again (n0's kept JSON names e0)
    assert changed["phase"] == "running"
    assert {n["id"]: n["phase"] for n in changed["nodes"]}["g"] == "succeeded"
    done = _fixed(
        msgspec.structs.replace(make_execution("e1", domain="staging"), phase="succeeded")
    )
    store.write(StoreBatch(execution=done, events=[_event("e1", 6)]))
    ended = both(2)  # the view (with the whole record, for its outputs), e0's head
    assert ended["phase"] == "succeeded" and ended["outputs"]
    assert both(1) == ended
    with pytest.raises(NotFoundError):
        _detail.execution_detail_json(one, "other", "e1")


def test_the_list_reads_once(store: SqlMetaStore) -> None:
    _rich(store)
    d = _deps(store, SimpleNamespace(now=lambda: NOW + 60.0))
    reads: list[str] = []
    original = store._read

    def counted(sql: str, params: dict[str, Any], action: str) -> list[Any]:
        reads.append(action)
        return original(sql, params, action)

    store._read = counted  # type: ignore[method-assign]
    page = _reading.list_executions(
        d, "proj", domain=None, workflow=None, phase=None, limit=10, offset=0
    )
    assert len(reads) == 1, reads
    assert [(s.id, s.phase) for s in page.items] == [("e1", "interrupted"), ("e0", "succeeded")]
