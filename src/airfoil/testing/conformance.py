"""The store conformance suite: one set of tests every MetaStore and BlobStore backend passes.

Subclass :class:`MetaStoreConformance` (or :class:`BlobStoreConformance`) in a test module
and provide the ``store`` (``blob_store``) fixture; pytest collects the inherited tests::

    class TestMyStore(MetaStoreConformance):
        @pytest.fixture
        def store(self) -> Iterator[MetaStore]:
            s = MyStore()
            yield s
            s.close()

A backend shared between processes also overrides ``store_url`` to return a URL that
:func:`airfoil.store._open.open_meta_store` opens onto the same data as ``store``; the
cross-process contention tests are skipped otherwise.

The suite lives in three modules, re-exported here: the metadata store's records, queries,
cache entries and leases (this module), its concurrency tests
(:mod:`airfoil.testing.meta_concurrency_conformance`), and the blob store's
(:mod:`airfoil.testing.blob_conformance`).

Invariants checked here are those of :mod:`airfoil.store.base`, plus the choices every
backend makes the same way, as the memory reference does: ``list_executions`` breaks
``created_at`` ties by id descending, cache listings by key descending; strings sort by code
point; a batch naming an execution that does not exist raises ``NotFoundError`` (and writes
nothing), as does ``acquire_lease`` on one, while ``release_lease`` / ``get_lease`` of one
are a no-op / None; a negative page ``limit`` / ``offset`` raises ``ConfigError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import msgspec
import pytest

from airfoil.core.errors import ConfigError, ConflictError, NotFoundError
from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    EventRecord,
    ExecutionRecord,
    Interface,
    NodeRecord,
    StoreBatch,
    Value,
    WorkflowSpec,
    execution_head,
)
from airfoil.store._taken import IdempotencyKeyTaken
from airfoil.store.base import MetaStore
from airfoil.testing.blob_conformance import BlobStoreConformance
from airfoil.testing.meta_concurrency_conformance import MetaStoreConcurrencyConformance

__all__ = [
    "BlobStoreConformance",
    "MetaStoreConformance",
    "make_attempt",
    "make_cache_entry",
    "make_event",
    "make_execution",
    "make_node",
    "make_workflow_spec",
]

from airfoil.testing.records import (
    _value,
    make_attempt,
    make_cache_entry,
    make_event,
    make_execution,
    make_node,
    make_workflow_spec,
)


class MetaStoreConformance(MetaStoreConcurrencyConformance):
    """Tests every :class:`MetaStore` backend passes. Subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> Iterator[MetaStore]:
        """The store under test, empty. Subclasses override this fixture."""
        raise NotImplementedError("subclass MetaStoreConformance and provide a store fixture")

    @pytest.fixture
    def store_url(self) -> str | None:
        """A URL another process opens onto the same data as ``store``; None: not shared."""
        return None

    # --- round trips ---------------------------------------------------------------------

    def test_roundtrip_every_record_with_all_fields(self, store: MetaStore) -> None:
        ex, node, att = make_execution(), make_node(), make_attempt()
        ev, entry = make_event(), make_cache_entry()
        store.write(
            StoreBatch(execution=ex, nodes=[node], attempts=[att], events=[ev], cache_puts=[entry])
        )
        assert store.get_execution("e1") == ex
        assert store.get_node("e1", "n0") == node
        assert store.get_nodes("e1") == [node]
        assert store.get_attempts("e1") == [att]
        assert store.get_events("e1") == [ev]
        assert store.get_cache("k1") == entry

    def test_roundtrip_minimal_records(self, store: MetaStore) -> None:
        ex = ExecutionRecord(
            id="e2",
            workflow="w",
            version="",
            phase="queued",
            spec=WorkflowSpec(name="w", version="", interface=Interface(), nodes=(), outputs={}),
            inputs={},
            created_at=0.0,
        )
        node = NodeRecord(execution_id="e2", node_id="n", phase="pending")
        att = AttemptRecord(
            execution_id="e2", node_id="n", attempt=0, phase="running", started_at=0.0
        )
        ev = EventRecord(
            execution_id="e2", seq=0, at=0.0, kind="execution", to_phase="queued", cause=""
        )
        store.write(StoreBatch(execution=ex, nodes=[node], attempts=[att], events=[ev]))
        assert store.get_execution("e2") == ex
        assert store.get_nodes("e2") == [node]
        assert store.get_attempts("e2", "n") == [att]
        assert store.get_events("e2", after_seq=-1) == [ev]

    def test_large_record_roundtrip(self, store: MetaStore) -> None:
        big = Value(hash="h", format="pickle", inline=os.urandom(1 << 20), size=1 << 20)
        ex = make_execution()
        ex.inputs = {"big": big}
        store.write(StoreBatch(execution=ex))
        assert store.get_execution("e1").inputs["big"] == big

    def test_records_are_copies(self, store: MetaStore) -> None:
        ex, node = make_execution(), make_node()
        store.write(StoreBatch(execution=ex, nodes=[node]))
        ex.phase = "mutated"
        ex.labels["new"] = "x"
        node.attempts = 99
        got = store.get_execution("e1")
        got.labels["again"] = "y"
        assert store.get_execution("e1") == make_execution()
        assert store.get_node("e1", "n0") == make_node()

    def test_empty_batch_is_a_noop(self, store: MetaStore) -> None:
        store.write(StoreBatch())
        assert store.count_executions() == 0

    # --- upserts --------------------------------------------------------------------------

    def test_upserts_replace_by_key(self, store: MetaStore) -> None:
        store.write(
            StoreBatch(execution=make_execution(), nodes=[make_node()], attempts=[make_attempt()])
        )
        ex2 = make_execution(phase="succeeded", project="p2", domain="d2", workflow="w2")
        store.write(
            StoreBatch(
                execution=ex2,
                nodes=[make_node(phase="succeeded")],
                attempts=[make_attempt(phase="succeeded")],
            )
        )
        assert store.get_execution("e1") == ex2
        assert store.count_executions() == 1
        assert store.count_executions(phase="running") == 0
        assert store.list_executions(
            project="p2", domain="d2", workflow="w2", phase="succeeded"
        ) == [ex2]
        assert store.get_nodes("e1") == [make_node(phase="succeeded")]
        assert store.get_attempts("e1") == [make_attempt(phase="succeeded")]

    def test_upsert_keeps_the_lease(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "a", now=0.0, ttl_s=60.0)
        store.write(StoreBatch(execution=make_execution(phase="succeeded")))
        assert not store.acquire_lease("e1", "b", now=1.0, ttl_s=60.0)

    # --- fenced batches (what a driver writes under its lease) ------------------------------

    def _fenced(self, owner: str, seq: int, phase: str = "succeeded") -> StoreBatch:
        """A driver's batch of every record kind, with text that needs escaping."""
        odd = 'q"uo\\te {a,b} NULL \u00e9\U0001f600 \n'
        ex = msgspec.structs.replace(make_execution(phase=phase), labels={"odd": odd})
        node = msgspec.structs.replace(make_node(phase=phase), cache_reason=odd)
        return StoreBatch(
            execution=ex,
            nodes=[node, make_node(node_id="n,1")],
            attempts=[make_attempt(phase=phase), make_attempt(node_id="n,1", attempt=2)],
            events=[make_event(seq=seq, cause=odd), make_event(seq=seq + 1)],
            cache_puts=[make_cache_entry(key=f"k{seq}")],
            lease=("e1", owner),
        )

    def test_fenced_batch_is_written_whole_and_keeps_the_lease(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "a", now=0.0, ttl_s=60.0)
        batch = self._fenced("a", 1)
        store.write(batch)
        assert store.get_execution("e1") == batch.execution
        assert store.get_nodes("e1") == sorted(batch.nodes, key=lambda n: n.node_id)
        assert store.get_attempts("e1") == sorted(batch.attempts, key=lambda a: a.node_id)
        assert store.get_events("e1") == batch.events
        assert store.get_cache("k1") == batch.cache_puts[0]
        assert store.get_lease("e1") == ("a", 60.0)
        # Without the execution's row, and with nothing but events: the same fence.
        store.write(StoreBatch(events=[make_event(seq=3)], lease=("e1", "a")))
        assert [e.seq for e in store.get_events("e1")] == [1, 2, 3]

    @pytest.mark.parametrize("holder", ["b", None])
    def test_fenced_batch_without_the_lease_writes_nothing(
        self, store: MetaStore, holder: str | None
    ) -> None:
        store.write(StoreBatch(execution=make_execution(phase="running")))
        if holder is not None:
            assert store.acquire_lease("e1", holder, now=0.0, ttl_s=60.0)
        for batch in (self._fenced("a", 1), StoreBatch(events=[make_event()], lease=("e1", "a"))):
            with pytest.raises(ConflictError):
                store.write(batch)
        assert store.get_execution("e1") == make_execution(phase="running")
        assert store.get_nodes("e1") == []
        assert store.get_attempts("e1") == []
        assert store.get_events("e1") == []
        assert store.get_cache("k1") is None
        assert store.get_lease("e1") == (None if holder is None else (holder, 60.0))

    def test_fenced_batch_with_a_taken_event_seq_writes_nothing(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution(phase="running")))
        assert store.acquire_lease("e1", "a", now=0.0, ttl_s=60.0)
        store.write(StoreBatch(events=[make_event(seq=2)], lease=("e1", "a")))
        with pytest.raises(ConflictError):
            store.write(self._fenced("a", 1))  # its second event takes seq 2 again
        assert store.get_execution("e1") == make_execution(phase="running")
        assert store.get_nodes("e1") == []
        assert [e.seq for e in store.get_events("e1")] == [2]
        assert store.get_cache("k1") is None

    def test_fenced_batch_of_thousands_of_records(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "a", now=0.0, ttl_s=60.0)
        n = 3000
        nodes = [make_node(node_id=f"n{i:05d}") for i in range(n)]
        events = [make_event(seq=i + 1) for i in range(n)]
        store.write(StoreBatch(nodes=nodes, events=events, lease=("e1", "a")))
        assert store.get_nodes("e1") == nodes
        assert store.get_events("e1", after_seq=n - 2) == events[-2:]

    def test_claim_takes_the_oldest_free_execution(self, store: MetaStore) -> None:
        def launched(eid: str, created: float, phase: str, root: str = "pkg:1") -> None:
            rec = msgspec.structs.replace(
                make_execution(eid, created_at=created, phase=phase), code_root=root
            )
            store.write(StoreBatch(execution=rec))

        launched("e3", 3.0, "queued")
        launched("e1", 1.0, "running")
        launched("e2", 2.0, "queued", root="/local/code")  # a local run: not claimed
        launched("e0", 0.5, "succeeded")  # finished: never claimed
        launched("e4", 4.0, "running")
        assert store.acquire_lease("e4", "other", now=100.0, ttl_s=60.0)
        got = store.claim_execution("a", 100.0, 30.0, code_root_prefix="pkg:", exclude={"e1"})
        assert got == "e3"  # e1 excluded, e2 not a package, e0 ended
        assert store.get_lease("e3") == ("a", 130.0)
        assert store.claim_execution("b", 100.0, 30.0, code_root_prefix="pkg:") == "e1"
        assert store.claim_execution("b", 101.0, 30.0, code_root_prefix="pkg:") is None
        assert store.claim_execution("a", 101.0, 30.0, code_root_prefix="pkg:") is None  # held
        # e4's lease expires at 160: then it is claimed; e1 and e3 were claimed until 130/131.
        assert store.claim_execution("c", 140.0, 30.0, code_root_prefix="pkg:") == "e1"
        assert store.claim_execution("c", 161.0, 30.0, code_root_prefix="pkg:") == "e3"

    # --- control inbox ----------------------------------------------------------------------

    def test_control_inbox(self, store: MetaStore) -> None:
        from airfoil.store._control import ControlMessage

        store.write(StoreBatch(execution=make_execution()))
        store.write(StoreBatch(execution=make_execution("e2")))
        value = _value("threshold")
        first = ControlMessage("e1", "signal", 2.0, name="threshold", value=value)
        stop = ControlMessage("e1", "terminate", 1.0, reason="user asked")
        assert store.control_messages("e1") == []
        assert store.send_control(first) is True
        assert store.send_control(stop) is True
        again = ControlMessage("e1", "signal", 3.0, name="threshold", value=_value("other"))
        assert store.send_control(again) is False  # the first value wins
        assert store.send_control(ControlMessage("e1", "terminate", 4.0, reason="x")) is False
        assert store.control_messages("e1") == [stop, first]  # in the order sent
        assert store.control_messages("e1", kind="signal") == [first]
        assert store.control_messages("e2") == []
        with pytest.raises(NotFoundError):
            store.send_control(ControlMessage("nope", "terminate", 1.0))
        with pytest.raises(ValueError, match="kind"):
            ControlMessage("e1", "explode", 1.0)

    # --- atomicity and conflicts ------------------------------------------------------------

    def _seed(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution(), events=[make_event(seq=1)]))

    def _assert_seed_only(self, store: MetaStore) -> None:
        assert store.get_execution("e1") == make_execution()
        assert store.get_nodes("e1") == []
        assert store.get_attempts("e1") == []
        assert store.get_events("e1") == [make_event(seq=1)]
        assert store.get_cache("k9") is None

    def test_duplicate_event_seq_conflicts_and_writes_nothing(self, store: MetaStore) -> None:
        self._seed(store)
        batch = StoreBatch(
            execution=make_execution(phase="succeeded"),
            nodes=[make_node()],
            attempts=[make_attempt()],
            events=[make_event(seq=2), make_event(seq=1, cause="again")],
            cache_puts=[make_cache_entry("k9")],
        )
        with pytest.raises(ConflictError):
            store.write(batch)
        self._assert_seed_only(store)

    def test_duplicate_seq_within_one_batch_conflicts(self, store: MetaStore) -> None:
        self._seed(store)
        with pytest.raises(ConflictError):
            store.write(
                StoreBatch(nodes=[make_node()], events=[make_event(seq=5), make_event(seq=5)])
            )
        self._assert_seed_only(store)

    def test_a_launch_whose_id_another_launched_says_the_execution_exists(
        self, store: MetaStore
    ) -> None:
        """(adv24) Two launches of one id both found it free: the second's batch fails on
        the first's rows and says the execution exists (as a launch that finds it does),
        not that an event seq is taken; another batch's taken seq still says that."""
        launched = msgspec.structs.replace(
            make_event(cause="launched", cause_id=0),
            kind="execution",
            to_phase="queued",
            from_phase="",
            node_id="",
            attempt=0,
        )
        launch = StoreBatch(execution=make_execution(phase="queued"), events=[launched])
        store.write(launch)
        with pytest.raises(ConflictError) as taken:
            store.write(launch)
        assert str(taken.value) == (
            "an execution named 'run-e1' already exists in project 'proj' (dev): choose "
            "another --name, or `airfoil executions resume run-e1` to continue it"
        )
        with pytest.raises(ConflictError, match="event seq") as other:
            store.write(StoreBatch(events=[launched]))
        assert "already exists in project" not in str(other.value)
        assert [e.seq for e in store.get_events("e1")] == [1]

    def test_children_of_an_unknown_execution_are_not_found(self, store: MetaStore) -> None:
        self._seed(store)
        for batch in (
            StoreBatch(nodes=[make_node("nope")], cache_puts=[make_cache_entry("k9")]),
            StoreBatch(nodes=[make_node()], attempts=[make_attempt("nope")]),
            StoreBatch(nodes=[make_node()], events=[make_event("nope", 1)]),
        ):
            with pytest.raises(NotFoundError):
                store.write(batch)
        self._assert_seed_only(store)

    # --- reads ----------------------------------------------------------------------------

    def test_missing_things_are_not_found(self, store: MetaStore) -> None:
        with pytest.raises(NotFoundError):
            store.get_execution("nope")
        with pytest.raises(NotFoundError):
            store.get_node("nope", "n0")
        self._seed(store)
        with pytest.raises(NotFoundError):
            store.get_node("e1", "nope")
        assert store.get_nodes("nope") == []
        assert store.get_attempts("nope") == []
        assert store.get_events("nope") == []
        assert store.get_cache("nope") is None

    def test_nodes_ordered_by_node_id_code_point(self, store: MetaStore) -> None:
        ids = ["b", "a_1", "A", "a-1", "\u00e9", "a", "n10", "n9", "Z"]
        store.write(
            StoreBatch(execution=make_execution(), nodes=[make_node(node_id=i) for i in ids])
        )
        assert [n.node_id for n in store.get_nodes("e1")] == sorted(ids)

    def test_attempts_ordered_by_node_then_attempt(self, store: MetaStore) -> None:
        keys = [("n1", 2), ("n0", 10), ("n1", 1), ("n0", 2), ("n0", 1)]
        store.write(
            StoreBatch(
                execution=make_execution(),
                nodes=[make_node(node_id="n0"), make_node(node_id="n1")],
                attempts=[make_attempt(node_id=n, attempt=a) for n, a in keys],
            )
        )
        got = [(a.node_id, a.attempt) for a in store.get_attempts("e1")]
        assert got == sorted(keys)
        assert [a.attempt for a in store.get_attempts("e1", "n0")] == [1, 2, 10]
        assert store.get_attempts("e1", "nope") == []

    def test_events_ordered_and_after_seq(self, store: MetaStore) -> None:
        seqs = [5, 1, 3, 2, 4, 10]
        store.write(
            StoreBatch(execution=make_execution(), events=[make_event(seq=s) for s in seqs])
        )
        # The same seq in another execution is another event.
        store.write(StoreBatch(execution=make_execution("e2"), events=[make_event("e2", 1)]))
        assert store.get_events("e2") == [make_event("e2", 1)]
        assert [e.seq for e in store.get_events("e1")] == [1, 2, 3, 4, 5, 10]
        assert [e.seq for e in store.get_events("e1", after_seq=3)] == [4, 5, 10]
        assert store.get_events("e1", after_seq=10) == []

    def test_an_idempotency_key_launches_once_per_project(self, store: MetaStore) -> None:
        first = make_execution("e1", phase="queued", idempotency_key="k1")
        store.write(StoreBatch(execution=first, events=[make_event("e1", 1)]))
        assert store.idempotent_launch("proj", "k1") == "e1"
        assert store.idempotent_launch("other", "k1") is None
        again = make_execution("e2", phase="queued", idempotency_key="k1")
        with pytest.raises(IdempotencyKeyTaken) as caught:
            store.write(StoreBatch(execution=again, events=[make_event("e2", 1)]))
        assert (caught.value.project, caught.value.key) == ("proj", "k1")
        with pytest.raises(NotFoundError):
            store.get_execution("e2")  # nothing of the refused batch
        # another project's key never matches; no key at all never clashes
        store.write(
            StoreBatch(execution=make_execution("e3", project="other", idempotency_key="k1"))
        )
        store.write(StoreBatch(execution=make_execution("e4", idempotency_key="")))
        store.write(StoreBatch(execution=make_execution("e5", idempotency_key="")))
        assert store.idempotent_launch("other", "k1") == "e3"
        assert store.idempotent_launch("proj", "") is None
        # a later write of the execution keeps its key (written by the launch only)
        store.write(
            StoreBatch(execution=make_execution("e1", phase="succeeded", idempotency_key=""))
        )
        assert store.idempotent_launch("proj", "k1") == "e1"
        # released (past the retention window): a new launch may take it
        assert not store.release_idempotency_key("e1", "k2")
        assert store.release_idempotency_key("e1", "k1")
        assert not store.release_idempotency_key("e1", "k1")
        assert store.idempotent_launch("proj", "k1") is None
        store.write(StoreBatch(execution=again, events=[make_event("e2", 1)]))
        assert store.idempotent_launch("proj", "k1") == "e2"

    def test_events_come_in_pages_of_limit(self, store: MetaStore) -> None:
        store.write(
            StoreBatch(execution=make_execution(), events=[make_event(seq=s) for s in range(1, 8)])
        )
        assert [e.seq for e in store.get_events("e1", limit=3)] == [1, 2, 3]
        assert [e.seq for e in store.get_events("e1", after_seq=3, limit=3)] == [4, 5, 6]
        assert [e.seq for e in store.get_events("e1", after_seq=6, limit=3)] == [7]
        assert store.get_events("e1", after_seq=2, limit=0) == []
        with pytest.raises(ConfigError, match="limit=-1"):
            store.get_events("e1", limit=-1)

    def _many_executions(self, store: MetaStore) -> list[ExecutionRecord]:
        records = []
        for i in range(12):
            records.append(
                make_execution(
                    f"e{i:02d}",
                    created_at=float(i // 2),
                    project=f"p{i % 2}",
                    domain=f"d{i % 3}",
                    workflow=f"w{i % 4}",
                    phase=("running", "succeeded")[i % 5 == 0],
                )
            )
        for r in records:
            store.write(StoreBatch(execution=r))
        return records

    def test_list_executions_newest_first_ties_by_id_desc(self, store: MetaStore) -> None:
        records = self._many_executions(store)
        expected = sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)
        assert [r.id for r in store.list_executions()] == [r.id for r in expected]
        assert store.list_executions() == expected

    def test_list_and_count_filters(self, store: MetaStore) -> None:
        records = self._many_executions(store)
        filters: list[dict[str, str]] = [
            {},
            {"project": "p1"},
            {"domain": "d2"},
            {"workflow": "w3"},
            {"phase": "succeeded"},
            {"project": "p0", "domain": "d0"},
            {"project": "p0", "workflow": "w2", "phase": "running"},
            {"project": "p1", "domain": "d1", "workflow": "w1", "phase": "running"},
            {"project": "x"},
        ]
        for f in filters:
            want = [
                r.id
                for r in sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)
                if all(getattr(r, k) == v for k, v in f.items())
            ]
            assert [r.id for r in store.list_executions(**f)] == want, f  # type: ignore[arg-type]
            assert store.count_executions(**f) == len(want), f
            heads = store.list_execution_heads(**f, limit=3, offset=1)  # type: ignore[arg-type]
            assert [h.id for h in heads] == want[1:4], f
            for limit, offset in ((3, 1), (50, 0), (2, len(want)), (2, len(want) + 5)):
                page, total = store.page_execution_heads(**f, limit=limit, offset=offset)  # type: ignore[arg-type]
                assert ([h.id for h in page], total) == (want[offset : offset + limit], len(want))

    def test_execution_heads_are_the_records_without_their_graph(self, store: MetaStore) -> None:
        full = msgspec.structs.replace(
            make_execution(phase="failed"),
            started_at=2.0,
            ended_at=3.5,
            code_root="pkg:abc",
            executor="process",
            labels={"launch_plan": "nightly"},
        )
        store.write(StoreBatch(execution=full))
        assert store.list_execution_heads() == [execution_head(full)]
        assert store.list_execution_heads(phase="running") == []
        head = store.list_execution_heads()[0]
        assert (head.error, head.labels, head.code_root) == (full.error, full.labels, "pkg:abc")

    def test_an_execution_head_is_its_record_without_the_graph(self, store: MetaStore) -> None:
        full = msgspec.structs.replace(
            make_execution(phase="running"), started_at=2.0, labels={"launch_plan": "nightly"}
        )
        store.write(StoreBatch(execution=full))
        assert store.get_execution_head(full.id) == execution_head(full)
        ended = msgspec.structs.replace(full, phase="succeeded", ended_at=4.0)
        store.write(StoreBatch(execution=ended))  # the head follows the record
        assert store.get_execution_head(full.id) == execution_head(ended)
        with pytest.raises(NotFoundError):
            store.get_execution_head("nope")

    def test_list_limit_and_offset(self, store: MetaStore) -> None:
        self._many_executions(store)
        everything = [r.id for r in store.list_executions(limit=100)]
        pages = [
            r.id for off in range(0, 12, 5) for r in store.list_executions(limit=5, offset=off)
        ]
        assert pages == everything
        assert len(store.list_executions(limit=3)) == 3
        assert store.list_executions(limit=0) == []
        assert store.list_executions(offset=12) == []
        assert [r.id for r in store.list_executions(project="p0", limit=2, offset=1)] == [
            r.id for r in store.list_executions(project="p0")
        ][1:3]
        with pytest.raises(ConfigError):
            store.list_executions(limit=-1)
        with pytest.raises(ConfigError):
            store.list_executions(offset=-1)

    # --- cache ----------------------------------------------------------------------------

    def test_cache_put_replace_get(self, store: MetaStore) -> None:
        assert store.get_cache("k1") is None
        store.write(StoreBatch(cache_puts=[make_cache_entry("k1", created_at=1.0)]))
        newer = make_cache_entry("k1", task="other", created_at=2.0)
        store.write(StoreBatch(cache_puts=[newer]))
        assert store.get_cache("k1") == newer
        assert store.list_cache() == [newer]
        assert store.list_cache(task="mod.train") == []

    def _cache_entries(self, store: MetaStore) -> list[CacheEntry]:
        entries = [
            make_cache_entry(f"k{i}", task=f"t{i % 2}", created_at=float(i // 3)) for i in range(9)
        ]
        store.write(StoreBatch(cache_puts=entries))
        return sorted(entries, key=lambda e: (e.created_at, e.key), reverse=True)

    def test_list_and_find_cache_newest_first(self, store: MetaStore) -> None:
        newest = self._cache_entries(store)
        assert store.list_cache() == newest
        assert store.list_cache(limit=4) == newest[:4]
        assert store.list_cache(task="t1") == [e for e in newest if e.parts.task == "t1"]
        assert store.find_cache_by_task("t0") == [e for e in newest if e.parts.task == "t0"]
        assert (
            store.find_cache_by_task("t0", limit=2)
            == [e for e in newest if e.parts.task == "t0"][:2]
        )
        assert store.find_cache_by_task("nope") == []
        with pytest.raises(ConfigError):
            store.list_cache(limit=-1)

    def test_delete_cache(self, store: MetaStore) -> None:
        self._cache_entries(store)
        assert store.delete_cache(key="k0") == 1
        assert store.delete_cache(key="k0") == 0
        assert store.get_cache("k0") is None
        assert store.delete_cache(task="t1") == 4
        assert {e.key for e in store.list_cache()} == {"k2", "k4", "k6", "k8"}
        assert store.delete_cache(key="k2", task="t1") == 0
        assert store.delete_cache() == 4
        assert store.list_cache() == []

    def test_cache_reservations(self, store: MetaStore) -> None:
        assert store.reserve_cache("k", "a", now=0.0, ttl_s=10.0) == "a"
        assert store.reserve_cache("k", "b", now=1.0, ttl_s=10.0) == "a"
        assert store.reserve_cache("k", "a", now=5.0, ttl_s=10.0) == "a"  # renewed to 15
        assert store.reserve_cache("k", "b", now=12.0, ttl_s=10.0) == "a"
        assert store.reserve_cache("other", "b", now=12.0, ttl_s=10.0) == "b"
        assert store.reserve_cache("k", "b", now=15.0, ttl_s=10.0) == "b"  # expired
        store.release_cache("k", "a")  # not the holder: no effect
        assert store.reserve_cache("k", "c", now=16.0, ttl_s=10.0) == "b"
        store.release_cache("k", "b")
        assert store.reserve_cache("k", "c", now=16.0, ttl_s=10.0) == "c"
        store.release_cache("nope", "c")

    # --- leases ---------------------------------------------------------------------------

    def test_leases(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        assert store.acquire_lease("e1", "a", now=0.0, ttl_s=10.0)
        assert not store.acquire_lease("e1", "b", now=1.0, ttl_s=10.0)
        assert store.acquire_lease("e1", "a", now=5.0, ttl_s=10.0)  # renewed to 15
        assert not store.acquire_lease("e1", "b", now=12.0, ttl_s=10.0)
        assert store.acquire_lease("e1", "b", now=15.0, ttl_s=10.0)  # expired
        store.release_lease("e1", "a")  # not the holder: no effect
        assert not store.acquire_lease("e1", "c", now=16.0, ttl_s=10.0)
        store.release_lease("e1", "b")
        assert store.acquire_lease("e1", "c", now=16.0, ttl_s=10.0)
        store.release_lease("nope", "c")
        with pytest.raises(NotFoundError):
            store.acquire_lease("nope", "a", now=0.0, ttl_s=10.0)

    def test_get_leases(self, store: MetaStore) -> None:
        for eid in ("e1", "e2", "e3"):
            store.write(StoreBatch(execution=make_execution(eid)))
        assert store.get_leases([]) == {}
        assert store.get_leases(["e1", "nope"]) == {}
        assert store.acquire_lease("e1", "a", now=1.5, ttl_s=10.25)
        assert store.acquire_lease("e3", "b", now=2.0, ttl_s=1.0)
        want = {"e1": ("a", 11.75), "e3": ("b", 3.0)}
        assert store.get_leases(["e1", "e2", "e3", "nope"]) == want
        store.release_lease("e1", "a")
        assert store.get_leases(["e1", "e3"]) == {"e3": ("b", 3.0)}

    def test_get_lease(self, store: MetaStore) -> None:
        store.write(StoreBatch(execution=make_execution()))
        assert store.get_lease("e1") is None
        assert store.get_lease("nope") is None
        assert store.acquire_lease("e1", "a", now=1.5, ttl_s=10.25)
        assert store.get_lease("e1") == ("a", 11.75)
        store.release_lease("e1", "a")
        assert store.get_lease("e1") is None
