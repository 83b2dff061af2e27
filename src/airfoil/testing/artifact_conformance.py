"""The artifact store conformance suite: tests every :class:`ArtifactStore` backend passes.

Subclass :class:`ArtifactStoreConformance` and provide the ``artifact_store`` fixture (an
empty store)::

    class TestMyArtifacts(ArtifactStoreConformance):
        @pytest.fixture
        def artifact_store(self) -> Iterator[ArtifactStore]:
            s = MyArtifactStore()
            yield s
            s.close()

Invariants checked are those of :mod:`airfoil.store.artifacts`.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import pytest

from airfoil.core.errors import ConfigError, ConflictError, NotFoundError
from airfoil.store.artifacts import ArtifactDraft, ArtifactStore, DeploymentLeaseLost
from airfoil.store.deployments import Deployment, DeploymentLease, Replica

__all__ = ["ArtifactStoreConformance", "make_draft"]


def make_draft(
    name: str = "digits",
    content_hash: str = "h1",
    *,
    project: str = "p",
    kind: str = "model",
    partitions: dict[str, str] | None = None,
) -> ArtifactDraft:
    """An artifact draft with every field set."""
    return ArtifactDraft(
        project=project,
        name=name,
        kind=kind,
        uri=f"artifacts/{content_hash}",
        content_hash=content_hash,
        partitions=partitions or {},
        execution_id="e1",
        lineage={"dataset_hash": "d1", "code_version": "c1", "hyperparameters": '{"C": 1.0}'},
        metrics={"accuracy": 0.97},
        metadata={"format": "sklearn"},
    )


class ArtifactStoreConformance:
    """Every artifact store backend passes these."""

    def test_versions_are_numbered_and_come_back_equal(self, artifact_store: ArtifactStore) -> None:
        first, created = artifact_store.add_version(make_draft(content_hash="h1"), 10.0)
        assert created and first.version == 1 and first.ref == "digits:1"
        second, created = artifact_store.add_version(make_draft(content_hash="h2"), 11.0)
        assert created and second.version == 2
        assert artifact_store.get_version("p", "digits", 1) == first
        assert artifact_store.get_version("p", "digits") == second
        assert first.lineage["dataset_hash"] == "d1" and first.metrics == {"accuracy": 0.97}
        assert artifact_store.list_versions("p", "digits") == [second, first]

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
    def test_a_metric_that_is_not_a_finite_number_is_refused_and_nothing_stored(
        self, artifact_store: ArtifactStore, bad: float
    ) -> None:
        """JSON has no NaN nor infinity: such a metric (an evaluator's NaN loss) was written
        as ``null`` and every read of the name's versions failed to decode."""
        draft = msgspec.structs.replace(make_draft(), metrics={"accuracy": 0.9, "loss": bad})
        with pytest.raises(ConfigError, match=f"metric 'loss' is {bad!r}; metrics are finite"):
            artifact_store.add_version(draft, 10.0)
        assert artifact_store.list_versions("p", "digits") == []
        kept, _ = artifact_store.add_version(make_draft(), 11.0)
        assert artifact_store.list_versions("p", "digits") == [kept]

    def test_the_same_content_is_not_a_new_version(self, artifact_store: ArtifactStore) -> None:
        first, _ = artifact_store.add_version(make_draft(content_hash="h1"), 10.0)
        again, created = artifact_store.add_version(make_draft(content_hash="h1"), 20.0)
        assert not created and again == first
        other, created = artifact_store.add_version(
            make_draft(content_hash="h1", partitions={"date": "2026-12-01"}), 30.0
        )
        assert created and other.version == 2

    def test_partitions_filter_versions(self, artifact_store: ArtifactStore) -> None:
        for day in ("01", "02"):
            artifact_store.add_version(
                make_draft("rows", f"h{day}", kind="data", partitions={"date": f"2026-12-{day}"}),
                1.0,
            )
        found = artifact_store.list_versions("p", "rows", {"date": "2026-12-02"})
        assert [v.partitions for v in found] == [{"date": "2026-12-02"}]
        assert artifact_store.list_versions("p", "rows", {"date": "2027-01-01"}) == []

    def test_names_are_listed_newest_version_each_and_projects_apart(
        self, artifact_store: ArtifactStore
    ) -> None:
        artifact_store.add_version(make_draft("b", "h1"), 1.0)
        artifact_store.add_version(make_draft("a", "h1"), 1.0)
        artifact_store.add_version(make_draft("a", "h2"), 2.0)
        artifact_store.add_version(make_draft("rows", "h3", kind="data"), 2.0)
        artifact_store.add_version(make_draft("a", "h9", project="q"), 3.0)
        names = artifact_store.list_names("p")
        assert [(v.name, v.version) for v in names] == [("a", 2), ("b", 1), ("rows", 1)]
        assert [v.name for v in artifact_store.list_names("p", kind="model")] == ["a", "b"]
        assert [v.content_hash for v in artifact_store.list_versions("q", "a")] == ["h9"]
        assert artifact_store.list_names("none") == []

    def test_missing_versions_are_not_found(self, artifact_store: ArtifactStore) -> None:
        with pytest.raises(NotFoundError, match="airfoil models list"):
            artifact_store.get_version("p", "nope")
        artifact_store.add_version(make_draft(), 1.0)
        with pytest.raises(NotFoundError, match="version 7"):
            artifact_store.get_version("p", "digits", 7)

    def test_invalid_names_are_refused(self, artifact_store: ArtifactStore) -> None:
        for bad in ("", "a:b", "a@b", "has space", "x" * 201):
            with pytest.raises(ConfigError, match="invalid artifact name"):
                artifact_store.add_version(make_draft(bad), 1.0)

    def test_aliases_move_with_an_audit_trail(self, artifact_store: ArtifactStore) -> None:
        for h in ("h1", "h2", "h3"):
            artifact_store.add_version(make_draft(content_hash=h), 1.0)
        first = artifact_store.move_alias("p", "digits", "production", 1, 10.0, actor="ann")
        assert (first.seq, first.from_version, first.to_version) == (1, None, 1)
        artifact_store.move_alias("p", "digits", "staging", 3, 11.0)
        moved = artifact_store.move_alias("p", "digits", "production", 2, 12.0, reason="better")
        assert (moved.seq, moved.from_version, moved.to_version) == (3, 1, 2)
        assert artifact_store.aliases("p", "digits") == {"production": 2, "staging": 3}
        assert artifact_store.resolve("p", "digits", "production").content_hash == "h2"
        trail = artifact_store.alias_moves("p", "digits", "production")
        assert [(m.seq, m.action, m.to_version, m.actor) for m in trail] == [
            (1, "promote", 1, "ann"),
            (3, "promote", 2, ""),
        ]
        assert len(artifact_store.alias_moves("p", "digits")) == 3

    def test_rollback_goes_back_and_a_second_one_forward(
        self, artifact_store: ArtifactStore
    ) -> None:
        for h in ("h1", "h2"):
            artifact_store.add_version(make_draft(content_hash=h), 1.0)
        artifact_store.move_alias("p", "digits", "production", 1, 10.0)
        artifact_store.move_alias("p", "digits", "production", 2, 11.0)
        back = artifact_store.move_alias("p", "digits", "production", None, 12.0, action="rollback")
        assert (back.action, back.from_version, back.to_version) == ("rollback", 2, 1)
        assert artifact_store.aliases("p", "digits") == {"production": 1}
        again = artifact_store.move_alias(
            "p", "digits", "production", None, 13.0, action="rollback"
        )
        assert again.to_version == 2
        assert [m.seq for m in artifact_store.alias_moves("p", "digits")] == [1, 2, 3, 4]

    def test_a_rollback_skips_moves_that_left_the_alias_where_it_was(
        self, artifact_store: ArtifactStore
    ) -> None:
        # promoting the version an alias already points at is recorded (an audit trail keeps
        # what users did), but it is no place to roll back to: the rollback goes to the
        # version before, or says there is none
        for h in ("h1", "h2"):
            artifact_store.add_version(make_draft(content_hash=h), 1.0)
        artifact_store.move_alias("p", "digits", "production", 1, 10.0)
        artifact_store.move_alias("p", "digits", "production", 1, 11.0)
        with pytest.raises(ConfigError, match="no earlier version"):
            artifact_store.move_alias("p", "digits", "production", None, 12.0, action="rollback")
        artifact_store.move_alias("p", "digits", "production", 2, 13.0)
        artifact_store.move_alias("p", "digits", "production", 2, 14.0)
        back = artifact_store.move_alias("p", "digits", "production", None, 15.0, action="rollback")
        assert (back.from_version, back.to_version) == (2, 1)
        assert artifact_store.aliases("p", "digits") == {"production": 1}

    def test_bad_moves_are_refused_and_change_nothing(self, artifact_store: ArtifactStore) -> None:
        artifact_store.add_version(make_draft(), 1.0)
        with pytest.raises(NotFoundError, match="version 5"):
            artifact_store.move_alias("p", "digits", "production", 5, 1.0)
        with pytest.raises(NotFoundError, match="no alias 'production'"):
            artifact_store.move_alias("p", "digits", "production", None, 1.0, action="rollback")
        artifact_store.move_alias("p", "digits", "production", 1, 2.0)
        with pytest.raises(ConfigError, match="no earlier version"):
            artifact_store.move_alias("p", "digits", "production", None, 3.0, action="rollback")
        with pytest.raises(ConfigError, match="invalid alias"):
            artifact_store.move_alias("p", "digits", "prod:1", 1, 3.0)
        with pytest.raises(ConfigError, match="unknown alias action"):
            artifact_store.move_alias("p", "digits", "production", 1, 3.0, action="delete")
        with pytest.raises(NotFoundError):
            artifact_store.resolve("p", "digits", "staging")
        assert len(artifact_store.alias_moves("p", "digits")) == 1
        # A name this project never registered (registered in another project, or a typo)
        # is said so, not "promote a version first".
        for project, name in (("other", "digits"), ("p", "digitz")):
            with pytest.raises(NotFoundError, match=f"no artifact '{name}' in project '{project}'"):
                artifact_store.resolve(project, name, "production")
            with pytest.raises(NotFoundError, match=f"no artifact '{name}' in project '{project}'"):
                artifact_store.move_alias(project, name, "production", None, 4.0, action="rollback")

    def test_concurrent_writers_get_distinct_numbers(self, artifact_store: ArtifactStore) -> None:
        errors: list[BaseException] = []

        def add(i: int) -> None:
            try:
                artifact_store.add_version(make_draft(content_hash=f"h{i}"), float(i))
                artifact_store.move_alias("p", "digits", "production", 1, float(i))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        versions = artifact_store.list_versions("p", "digits")
        assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
        assert [m.seq for m in artifact_store.alias_moves("p", "digits")] == [1, 2, 3, 4, 5, 6]

    def test_deployments_are_kept_per_project_and_replaced(
        self, artifact_store: ArtifactStore
    ) -> None:
        first = Deployment(
            project="p",
            name="digits",
            ref="digits@production",
            replicas=2,
            created_at=1.0,
            updated_at=1.0,
            members=[Replica(index=0, port=8001, pid=11, status="ready", version=3, restarts=2)],
        )
        other = Deployment(
            project="q", name="digits", ref="digits:1", replicas=1, created_at=2.0, updated_at=2.0
        )
        artifact_store.put_deployment(first)
        artifact_store.put_deployment(other)
        assert artifact_store.get_deployment("p", "digits") == first
        assert artifact_store.list_deployments("q") == [other]
        assert artifact_store.list_deployments() == [first, other]
        assert artifact_store.get_deployment("p", "nope") is None
        moved = Deployment(
            project="p",
            name="digits",
            ref="digits@production",
            replicas=1,
            created_at=1.0,
            updated_at=5.0,
        )
        artifact_store.put_deployment(moved)
        assert artifact_store.list_deployments("p") == [moved]
        assert artifact_store.delete_deployment("p", "digits") is True
        assert artifact_store.delete_deployment("p", "digits") is False
        assert artifact_store.list_deployments() == [other]

    def test_a_deployment_lease_has_one_holder_at_a_time(
        self, artifact_store: ArtifactStore
    ) -> None:
        assert not artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)  # none yet
        artifact_store.put_deployment(_digits(updated_at=1.0))
        assert artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert not artifact_store.claim_deployment("p", "digits", "b", 5.0, 10.0)
        assert artifact_store.claim_deployment("p", "digits", "a", 5.0, 10.0)  # renewed
        # a record written by the holder keeps its lease
        artifact_store.put_deployment(_digits(updated_at=6.0, replicas=2))
        assert not artifact_store.claim_deployment("p", "digits", "b", 14.0, 10.0)
        assert artifact_store.claim_deployment("p", "digits", "b", 15.5, 10.0)  # expired
        assert not artifact_store.claim_deployment("p", "digits", "a", 16.0, 10.0)
        assert artifact_store.claim_deployment("p", "digits", "b", 17.0, 0.0)  # released
        assert artifact_store.claim_deployment("p", "digits", "a", 17.0, 10.0)

    def test_a_write_fenced_by_a_lost_lease_is_refused(self, artifact_store: ArtifactStore) -> None:
        def record(step: int, owner: str) -> Deployment:
            return _digits(float(step), owner=owner, message=f"step {step}")

        with pytest.raises(DeploymentLeaseLost, match="p/digits"):  # none: never inserted
            artifact_store.put_deployment(record(1, "a"), lease=DeploymentLease("a", 1))
        assert artifact_store.get_deployment("p", "digits") is None
        artifact_store.put_deployment(record(1, ""))
        with pytest.raises(DeploymentLeaseLost):  # nobody claimed it yet
            artifact_store.put_deployment(record(2, "a"), lease=DeploymentLease("a", 1))
        a = artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert a == DeploymentLease("a", 1)
        artifact_store.put_deployment(record(2, "a"), lease=a)  # the holder writes
        assert artifact_store.get_deployment("p", "digits") == record(2, "a")
        # a's pass runs past its lease; b takes the deployment over and writes its view
        b = artifact_store.claim_deployment("p", "digits", "b", 12.0, 10.0)
        assert b == DeploymentLease("b", 2)
        artifact_store.put_deployment(record(3, "b"), lease=b)
        with pytest.raises(ConflictError, match="no longer holds it"):
            artifact_store.put_deployment(record(4, "a"), lease=a)
        assert artifact_store.get_deployment("p", "digits") == record(3, "b")
        assert artifact_store.claim_deployment("p", "digits", "a", 13.0, 10.0) is None
        # the lease survives the holder's writes; a stopped deployment is not written back
        assert artifact_store.delete_deployment("p", "digits")
        with pytest.raises(DeploymentLeaseLost):
            artifact_store.put_deployment(record(5, "b"), lease=b)
        assert artifact_store.get_deployment("p", "digits") is None

    def test_a_lease_claimed_back_has_a_new_epoch_that_fences_the_old_pass(
        self, artifact_store: ArtifactStore
    ) -> None:
        """ABA: a's lease lapses, b takes it, a claims it back (same owner id): the write
        of a's pass that began under its first claim is refused, its new claim's is not."""
        artifact_store.put_deployment(_digits(updated_at=1.0))
        first = artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert first == DeploymentLease("a", 1)
        # a renews (even after its lease ran out, nobody else holding it): the same epoch
        assert artifact_store.claim_deployment("p", "digits", "a", 5.0, 10.0) == first
        assert artifact_store.claim_deployment("p", "digits", "a", 20.0, 10.0) == first
        assert artifact_store.claim_deployment("p", "digits", "b", 31.0, 10.0) == ("b", 2)
        again = artifact_store.claim_deployment("p", "digits", "a", 42.0, 10.0)
        assert again == DeploymentLease("a", 3)
        stale = _refused(artifact_store, first, kept=_digits(updated_at=1.0))
        artifact_store.put_deployment(stale, lease=again)
        assert artifact_store.get_deployment("p", "digits") == stale

    def test_a_pass_from_before_a_stop_cannot_write_onto_the_name_deployed_again(
        self, artifact_store: ArtifactStore
    ) -> None:
        """Epochs never repeat for a name: a's pass claimed epoch e; the deployment was
        stopped and deployed again, and a claims the new one (its pass renews the lease
        before it starts a replica): a later epoch, so the pass's write of what it saw of
        the stopped deployment is refused (it began at epoch 1 again, and was accepted)."""
        artifact_store.put_deployment(_digits(updated_at=1.0))
        first = artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert first == DeploymentLease("a", 1)
        assert artifact_store.delete_deployment("p", "digits")  # stopped
        artifact_store.put_deployment(_digits(updated_at=2.0, replicas=2), spec_only=True)
        again = artifact_store.claim_deployment("p", "digits", "a", 2.0, 10.0)
        assert again == DeploymentLease("a", 2)
        stale = _refused(artifact_store, first, kept=_digits(updated_at=2.0, replicas=2))
        # Each stop and deploy goes on from the last epoch, whoever claims it next.
        assert artifact_store.delete_deployment("p", "digits")
        assert not artifact_store.delete_deployment("p", "digits")  # gone: nothing kept twice
        artifact_store.put_deployment(_digits(updated_at=4.0))
        assert artifact_store.claim_deployment("p", "digits", "b", 4.0, 10.0) == ("b", 3)
        with pytest.raises(DeploymentLeaseLost):
            artifact_store.put_deployment(stale, lease=again)
        # Another name, and the same name in another project, start from epoch 1.
        artifact_store.put_deployment(_digits(updated_at=5.0, name="other"))
        assert artifact_store.claim_deployment("p", "other", "a", 5.0, 10.0) == ("a", 1)
        artifact_store.put_deployment(_digits(updated_at=5.0, project="q"))
        assert artifact_store.claim_deployment("q", "digits", "a", 5.0, 10.0) == ("a", 1)

    def test_a_supervisor_write_keeps_a_users_change_made_during_its_pass(
        self, artifact_store: ArtifactStore
    ) -> None:
        """The pass read replicas=1; the user scaled to 3 while it ran: the pass's write
        replaces only the supervisor's fields (members, message, owner, route, drift)."""
        artifact_store.put_deployment(_digits(updated_at=1.0))
        lease = artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert lease is not None
        artifact_store.put_deployment(_digits(updated_at=2.0, replicas=3))  # the user's deploy
        member = Replica(index=0, port=8001, pid=11, status="starting")
        did: dict[str, Any] = {"owner": "a", "members": [member], "message": "starting"}
        artifact_store.put_deployment(_digits(updated_at=3.0, **did), lease=lease)
        assert artifact_store.get_deployment("p", "digits") == _digits(
            updated_at=3.0, replicas=3, **did
        )

    def test_a_users_deploy_keeps_what_the_supervisor_recorded_meanwhile(
        self, artifact_store: ArtifactStore
    ) -> None:
        """The user's deploy read no replicas; a pass recorded one (its process) before the
        deploy was written: a ``spec_only`` write replaces only the user's fields."""
        artifact_store.put_deployment(_digits(updated_at=1.0), spec_only=True)  # inserted
        assert artifact_store.get_deployment("p", "digits") == _digits(updated_at=1.0)
        lease = artifact_store.claim_deployment("p", "digits", "a", 1.0, 10.0)
        assert lease is not None
        member = Replica(index=0, port=8001, pid=11, status="starting")
        did: dict[str, Any] = {"owner": "a", "members": [member], "message": "starting"}
        artifact_store.put_deployment(_digits(updated_at=2.0, **did), lease=lease)
        artifact_store.put_deployment(_digits(updated_at=3.0, replicas=3), spec_only=True)
        assert artifact_store.get_deployment("p", "digits") == _digits(
            updated_at=3.0, replicas=3, **did
        )
        artifact_store.put_deployment(_digits(updated_at=4.0))  # a whole write replaces all
        assert artifact_store.get_deployment("p", "digits") == _digits(updated_at=4.0)

    def test_racing_claims_grant_one_lease(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put_deployment(_digits(updated_at=1.0))
        won: list[str] = []

        def claim(owner: str) -> None:
            if artifact_store.claim_deployment("p", "digits", owner, 2.0, 10.0):
                won.append(owner)

        threads = [threading.Thread(target=claim, args=(f"s{i}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1


def _refused(store: ArtifactStore, lease: DeploymentLease | None, kept: Deployment) -> Deployment:
    """``lease``'s holder (a) writes its pass's view of ``p/digits`` (a ready replica): the
    write is refused and the record stays ``kept``. The view, to write again."""
    member = Replica(index=0, port=8001, pid=11, status="ready")
    stale = _digits(updated_at=43.0, owner="a", members=[member])
    assert lease is not None
    with pytest.raises(DeploymentLeaseLost, match="no longer holds it"):
        store.put_deployment(stale, lease=lease)
    assert store.get_deployment("p", "digits") == kept
    return stale


def _digits(updated_at: float, replicas: int = 1, **fields: Any) -> Deployment:
    """Deployment ``p/digits`` of ``digits:1`` (``project``, ``name`` may be given too)."""
    fields = {"project": "p", "name": "digits", **fields}
    return Deployment(
        ref=f"{fields['name']}:1",
        replicas=replicas,
        created_at=1.0,
        updated_at=updated_at,
        **fields,
    )
