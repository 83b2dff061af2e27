"""The admission store conformance suite: tests every
:class:`~airfoil.store.admission.AdmissionStore` backend passes.

Subclass :class:`AdmissionStoreConformance` and provide the ``admission_store`` fixture (an
empty store). Invariants checked are those of :mod:`airfoil.store.admission`.
"""

from __future__ import annotations

import json
import threading

import msgspec

from airfoil.store.admission import AdmissionRow, AdmissionStore, Grant, Preemption

__all__ = ["AdmissionStoreConformance", "make_row"]


def make_row(
    item_id: str, *, owner: str = "a", ticket: str = "t1", at: float = 1.0
) -> AdmissionRow:
    """A waiting request alive until ``at + 100``."""
    return AdmissionRow(
        item_id=item_id,
        owner=owner,
        ticket=ticket,
        item=json.dumps({"id": item_id}),
        task="train",
        submit_time=at,
        alive_until=at + 100,
    )


class AdmissionStoreConformance:
    """Mix into a test class that provides the ``admission_store`` fixture."""

    def test_one_holder_at_a_time_and_takeover_after_expiry(
        self, admission_store: AdmissionStore
    ) -> None:
        s = admission_store
        assert s.authority("c") is None
        first = s.claim_authority("c", "a", 10.0, 5.0)
        assert (first.holder, first.epoch, first.lease_until) == ("a", 1, 15.0)
        other = s.claim_authority("c", "b", 12.0, 5.0)  # a's lease runs: refused
        assert (other.holder, other.epoch) == ("a", 1)
        renewed = s.claim_authority("c", "a", 14.0, 5.0)
        assert (renewed.holder, renewed.epoch, renewed.lease_until) == ("a", 1, 19.0)
        taken = s.claim_authority("c", "b", 19.0, 5.0)  # expired: b takes it, epoch 2
        assert (taken.holder, taken.epoch) == ("b", 2)
        assert s.claim_authority("c", "a", 20.0, 5.0).holder == "b"
        assert s.claim_authority("other", "a", 20.0, 5.0).epoch == 1  # clusters apart
        s.release_authority("c", "a")  # not a's: nothing happens
        assert s.claim_authority("c", "a", 21.0, 5.0).holder == "b"
        s.release_authority("c", "b")
        back = s.claim_authority("c", "a", 21.0, 5.0)
        assert (back.holder, back.epoch) == ("a", 3)

    def test_racing_claimers_one_wins(self, admission_store: AdmissionStore) -> None:
        s = admission_store
        won: list[str] = []
        barrier = threading.Barrier(4)

        def claim(name: str) -> None:
            barrier.wait()
            if s.claim_authority("race", name, 1.0, 30.0).holder == name:
                won.append(name)

        threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        lease = s.authority("race")
        assert lease is not None and lease.holder == won[0]

    def test_grants_are_fenced_by_the_lease(self, admission_store: AdmissionStore) -> None:
        s = admission_store
        s.claim_authority("c", "a", 0.0, 5.0)
        s.put_request("c", make_row("e1/n1", owner="x"))
        s.put_request("c", make_row("e1/n2", owner="y", at=2.0))
        assert s.grant("c", "a", 1, 1.0, [Grant("e1/n1", "t1", ("node-1",), ("0",))], [])
        rows = {r.item_id: r for r in s.requests("c")}
        assert rows["e1/n1"].state == "running"
        assert rows["e1/n1"].placement == ("node-1",) and rows["e1/n1"].gpus == ("0",)
        assert rows["e1/n1"].granted_at == 1.0
        assert rows["e1/n2"].state == "waiting"
        # a stale epoch, an expired lease, another holder: nothing is written
        assert not s.grant("c", "a", 2, 1.0, [Grant("e1/n2", "t1", ("n",))], [])
        assert not s.grant("c", "a", 1, 6.0, [Grant("e1/n2", "t1", ("n",))], [])
        assert not s.grant("c", "b", 1, 1.0, [Grant("e1/n2", "t1", ("n",))], [])
        assert s.claim_authority("c", "b", 6.0, 5.0).holder == "b"
        assert not s.grant("c", "a", 1, 5.5, [Grant("e1/n2", "t1", ("n",))], [])
        assert {r.item_id: r.state for r in s.requests("c")}["e1/n2"] == "waiting"
        # a grant of another ticket, or of a running one, applies to nothing
        assert s.grant("c", "b", 2, 7.0, [Grant("e1/n2", "old", ("n",))], [])
        assert s.grant("c", "b", 2, 7.0, [Grant("e1/n1", "t1", ("elsewhere",))], [])
        rows = {r.item_id: r for r in s.requests("c")}
        assert rows["e1/n2"].state == "waiting" and rows["e1/n1"].placement == ("node-1",)

    def test_preempted_requests_resume_with_their_ticket(
        self, admission_store: AdmissionStore
    ) -> None:
        s = admission_store
        s.claim_authority("c", "a", 0.0, 5.0)
        s.put_request("c", make_row("e/n", owner="x"))
        assert s.grant("c", "a", 1, 1.0, [Grant("e/n", "t1", ("local",))], [])
        assert s.grant("c", "a", 1, 2.0, [], [Preemption("e/n", "t1", '{"attained":5}')])
        (row,) = s.requests("c")
        assert (row.state, row.item, row.placement) == ("preempted", '{"attained":5}', ())
        s.put_request("c", msgspec.structs.replace(make_row("e/n", owner="x"), item=row.item))
        (row,) = s.requests("c")
        assert (row.state, row.ticket, row.item) == ("waiting", "t1", '{"attained":5}')
        # a new ticket (the node's next attempt, or another replica's drive) replaces it
        s.put_request("c", make_row("e/n", owner="z", ticket="t2", at=3.0))
        (row,) = s.requests("c")
        assert (row.owner, row.ticket, row.submit_time) == ("z", "t2", 3.0)
        # a new row is written as given: a granted one put back keeps its grant
        granted = msgspec.structs.replace(
            make_row("e/m", owner="z", ticket="t3"),
            state="running",
            placement=("node-2",),
            gpus=("1",),
            granted_at=4.0,
        )
        s.put_request("c", granted)
        back = {r.item_id: r for r in s.requests("c")}["e/m"]
        assert (back.state, back.placement, back.gpus, back.granted_at) == (
            "running",
            ("node-2",),
            ("1",),
            4.0,
        )

    def test_requests_by_owner_renewed_and_deleted(self, admission_store: AdmissionStore) -> None:
        s = admission_store
        s.put_request("c", make_row("e/2", owner="x", at=2.0))
        s.put_request("c", make_row("e/1", owner="x", at=1.0))
        s.put_request("c", make_row("f/1", owner="y", at=1.5))
        s.put_request("d", make_row("g/1", owner="x"))
        assert [r.item_id for r in s.requests("c")] == ["e/1", "f/1", "e/2"]
        assert [r.item_id for r in s.requests("c", "x")] == ["e/1", "e/2"]
        s.renew_requests("c", "x", 500.0)
        assert {r.item_id: r.alive_until for r in s.requests("c")} == {
            "e/1": 500.0,
            "e/2": 500.0,
            "f/1": 101.5,
        }
        s.delete_requests("c", [("e/1", "t1"), ("f/1", "other-ticket")])
        assert [r.item_id for r in s.requests("c")] == ["f/1", "e/2"]
        assert [r.item_id for r in s.requests("d")] == ["g/1"]
