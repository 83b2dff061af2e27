"""The interrupted view (core/interruption.py): pure, from records, a lease and a time."""

from __future__ import annotations

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
