"""Two ``airfoil server start`` processes on one PostgreSQL admit through one admission
authority: a project's quota holds across both (never more of its attempts running at once
than the quota allows, read from the attempts' timestamps), and when the replica holding
the authority is killed (SIGKILL) the other takes the authority within its lease, takes the
dead replica's execution over, and every run succeeds."""

from __future__ import annotations

import signal
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _replicas import LEASE, Replica, most_at_once, until

from airfoil.store._scheduling import ProjectQuota
from airfoil.store.admission import AuthorityLease
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._admission import SqlAdmissionStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOLD = 2.0

FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task(requests=af.Resources(cpu=1))
    def hold(i: int, seconds: float) -> int:
        time.sleep(seconds)
        return i


    @af.task
    def total(a: int, b: int, c: int) -> int:
        return a + b + c


    @af.workflow
    def three(seconds: float = 1.0) -> int:
        a = hold(i=1, seconds=seconds)
        b = hold(i=2, seconds=seconds)
        c = hold(i=3, seconds=seconds)
        return total(a=a, b=b, c=c)
    """
)


@pytest.fixture
def replicas(
    pg_schema_factory: Callable[[], str], tmp_path: Path
) -> Iterator[tuple[str, list[Replica]]]:
    url = pg_schema_factory()
    home = tmp_path / "home"
    home.mkdir()
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            started.append(Replica(home, url, tmp_path / f"{name}.log"))
        for r in started:
            r.ready()
        yield url, started
    finally:
        for r in started:
            r.stop()


def test_quota_holds_across_replicas_and_the_authority_survives_its_holder(
    replicas: tuple[str, list[Replica]], tmp_path: Path
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    url, (a, b) = replicas
    project = f"p{uuid.uuid4().hex[:6]}"
    meta = SqlMetaStore(url)
    admission = SqlAdmissionStore(url)
    try:
        meta.put_quota(ProjectQuota(project, cpu=1.0, borrow=False))
        name = f"adm_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(FLOW)
        load_entity(str(tmp_path / f"{name}.py"), "three")
        mod: Any = sys.modules[name]
        ids = []
        for replica in (a, b):  # one execution launched through each replica's API
            with Client(replica.url, project=project) as client:
                client.register([mod.three])
                ids.append(client.launch(mod.three, {"seconds": HOLD}).id)

        def authority() -> AuthorityLease | None:
            (lease,) = [admission.authority(c) for c in _clusters(url)] or [None]
            return lease if lease is not None and lease.lease_until > time.time() else None

        def drivers() -> set[str]:
            return {lease[0] for e in ids if (lease := meta.get_lease(e)) is not None}

        until("an authority", authority, 60)
        # with one slot each, each replica drives one of the two executions
        until("both replicas driving", lambda: len(drivers()) == 2, 60)
        until("an attempt running", lambda: _attempts(meta, ids), 60)
        lease = until("the authority as it is now", authority, 10)
        holder = a if lease.holder.split(":")[1] in a.pids() else b
        survivor = b if holder is a else a
        assert lease.holder.split(":")[1] in holder.pids()
        held_by = holder.pids()  # the holder's processes, before the kill
        owners = {e: held[0] for e in ids if (held := meta.get_lease(e)) is not None}
        dead = {e for e, owner in owners.items() if owner.split(":")[1] in held_by}
        assert len(dead) == 1
        holder.proc.send_signal(signal.SIGKILL)
        holder.proc.wait(10)
        killed = time.time()
        taken = until(
            "the survivor holding the authority",
            lambda: (x := authority()) is not None and x.holder != lease.holder and x,
            LEASE * 4,
        )
        took = time.time() - killed
        assert taken.epoch == lease.epoch + 1
        assert taken.holder.split(":")[1] in survivor.pids()
        # The product's promise: the dead holder's lease runs out, the survivor notices
        # within a third of a lease. The rest is the host's (the survivor's polls, a loaded
        # 2-core CI host's scheduling): 3 s of it, was 1.5.
        assert took <= LEASE * 4 / 3 + 3.0, took
        with Client(survivor.url, project=project) as client:
            for e in ids:
                assert client.wait(e, timeout=120).phase == "succeeded"
                assert client.outputs(e, mod.three) == 6
        spans = []
        for att in _attempts(meta, ids):
            if att.node_id.startswith("n3"):  # total: asks for nothing
                continue
            end = att.ended_at if att.ended_at is not None else killed
            if att.execution_id in dead and att.started_at < killed:
                # the killed replica's attempt: its end is recorded when the survivor takes
                # the execution over, but its worker died with the replica, at the kill
                # (PR_SET_PDEATHSIG; on PostgreSQL the replica's engine process stops its
                # workers when its server is gone, before it hands the authority back)
                end = min(end, killed)
            spans.append((att.started_at, end))
        assert len(spans) >= 6
        # the quota: 1 CPU across both replicas
        assert most_at_once(spans) == 1, (killed, sorted(spans))
    finally:
        meta.close()
        admission.close()


def _attempts(meta: SqlMetaStore, ids: list[str]) -> list[Any]:
    """Each attempt once (its latest record)."""
    latest = {(a.execution_id, a.node_id, a.attempt): a for e in ids for a in meta.get_attempts(e)}
    return list(latest.values())


def _clusters(url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT cluster FROM server_admission_authority")).all()
        return [str(r[0]) for r in rows]
    finally:
        engine.dispose()
