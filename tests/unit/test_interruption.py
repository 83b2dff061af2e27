"""The interrupted view (core/interruption.py): pure, from records, a lease and a time."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from airfoil.core.interruption import is_interrupted, shown_attempts, shown_nodes
from airfoil.testing.records import make_attempt, make_execution, make_node

NOW = 1_700_000_100.0


@pytest.mark.parametrize(
    ("phase", "lease", "waits", "expected"),
    [
        ("running", ("me", NOW + 5), False, False),  # driven: its lease holds
        ("running", ("me", NOW - 5), False, True),  # its driver died: the lease lapsed
        ("running", None, False, True),  # Ctrl-C gave the lease back
        ("queued", None, False, True),  # a local run is leased from its creation
        ("queued", None, True, False),  # a server's execution waiting for a slot
        ("queued", ("srv", NOW - 5), True, True),  # claimed, then its server died
        ("running", None, True, True),
        ("succeeded", None, False, False),  # ended: never interrupted
        ("failed", ("me", NOW - 5), False, False),
    ],
)
def test_is_interrupted(
    phase: str, lease: tuple[str, float] | None, waits: bool, expected: bool
) -> None:
    record = make_execution(phase=phase)
    assert is_interrupted(record, lease, NOW, queued_waits_for_claim=waits) is expected


def test_only_unfinished_nodes_and_running_attempts_change_and_only_if_interrupted() -> None:
    phases = ["pending", "queued", "running", "retrying", "succeeded", "failed", "skipped"]
    nodes = [make_node(node_id=f"n{i}", phase=p) for i, p in enumerate(phases)]
    assert [n.phase for n in shown_nodes(nodes, True)] == [
        "pending",
        "interrupted",
        "interrupted",
        "interrupted",
        "succeeded",
        "failed",
        "skipped",
    ]
    assert shown_nodes(nodes, False) == nodes
    assert [n.phase for n in nodes] == phases  # the records themselves are never changed
    attempts = [make_attempt(attempt=i, phase=p) for i, p in enumerate(["failed", "running"])]
    assert [a.phase for a in shown_attempts(attempts, True)] == ["failed", "lost"]
    assert [a.phase for a in shown_attempts(attempts, False)] == ["failed", "running"]


def test_a_listing_reads_the_leases_of_its_rows_at_once() -> None:
    """The executions list once read each active row's lease with its own query (N+1
    round trips per page on PostgreSQL); now one read serves the page, same phases shown."""
    import msgspec

    from airfoil.core.records import StoreBatch, execution_head
    from airfoil.server._interruption import shown_summaries, shown_summary
    from airfoil.store.memory import MemoryMetaStore

    class Counting(MemoryMetaStore):
        def __init__(self) -> None:
            super().__init__()
            self.reads: list[str] = []

        def get_lease(self, execution_id: str) -> tuple[str, float] | None:
            self.reads.append("one")
            return super().get_lease(execution_id)

        def get_leases(self, execution_ids: Collection[str]) -> dict[str, tuple[str, float]]:
            self.reads.append("many")
            found = {}
            for eid in execution_ids:
                lease = MemoryMetaStore.get_lease(self, eid)
                if lease is not None:
                    found[eid] = lease
            return found

    store = Counting()
    rows = [
        ("driven", "running", "", NOW + 5),
        ("lapsed", "running", "", NOW - 5),
        ("waiting", "queued", "airfoil-package://abc", None),
        ("done", "succeeded", "", None),
    ]
    records = []
    for eid, phase, root, expires in rows:
        rec = msgspec.structs.replace(make_execution(eid, phase=phase), code_root=root)
        store.write(StoreBatch(execution=rec))
        if expires is not None:
            assert store.acquire_lease(eid, "srv", now=expires - 10, ttl_s=10)
        records.append(rec)
    store.reads.clear()
    heads = [execution_head(r) for r in records]
    shown = shown_summaries(store, heads, NOW)
    assert [s.phase for s in shown] == ["running", "interrupted", "queued", "succeeded"]
    assert store.reads == ["many"]
    assert [shown_summary(store, r, NOW).phase for r in records] == [s.phase for s in shown]
