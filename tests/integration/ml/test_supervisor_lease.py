"""Deployment leases fence a supervisor's pass: a pass that runs past its lease while
another server takes the deployment over neither writes its view over the new holder's
record nor starts processes for it, and the process it started before it knew is stopped
(it was never recorded, so no server would ever supervise it). A pass that began
before the deployment was stopped cannot act for, or write onto, the name deployed again
(epochs never repeat for a name). Two supervisors on one database, SQLite and PostgreSQL;
the replicas are stand-in processes (a script that sleeps)."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _deployments import alive

from airfoil.server._supervisor import ServiceEnv, Supervisor
from airfoil.store.deployments import Deployment, Replica
from airfoil.store.sql import SqlArtifactStore

pytestmark = [pytest.mark.integration]

_TTL_S = 10.0


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SqlArtifactStore, SqlArtifactStore]]:
    """Two servers' stores on one database."""
    if request.param == "sqlite":
        url = str(request.getfixturevalue("sqlite_url"))
    else:
        new_schema: Callable[[], str] = request.getfixturevalue("pg_new_schema")
        url = new_schema()
    a, b = SqlArtifactStore(url), SqlArtifactStore(url)
    yield a, b
    a.close()
    b.close()


class _Stall:
    """A supervisor's pass stalled until ``go`` (``where``: just after it started a replica,
    or just before: in its admission); the replicas it starts are noted in ``started``."""

    def __init__(self, s: Supervisor, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
        self.in_pass, self.go = threading.Event(), threading.Event()
        self.started: list[Replica] = []
        spawn, admit = s._spawn, s._admit

        def spawned(*args: Any) -> Replica:
            self.started.append(spawn(*args))
            if where == "after_its_start":
                self._wait()
            return self.started[-1]

        def admitted(*args: Any) -> Any:
            if where == "before_its_start":
                self._wait()
            return admit(*args)

        monkeypatch.setattr(s, "_spawn", spawned)
        monkeypatch.setattr(s, "_admit", admitted)

    def _wait(self) -> None:
        self.in_pass.set()
        assert self.go.wait(60)


def _supervisors(
    tmp_path: Path, stores: tuple[SqlArtifactStore, SqlArtifactStore]
) -> tuple[Supervisor, Supervisor]:
    """Two servers' supervisors whose replicas are a stand-in script that sleeps."""
    replica = tmp_path / "replica"  # stands in for `python -m airfoil.cli serve ...`
    replica.write_text("#!/bin/sh\nexec sleep 300\n")
    replica.chmod(replica.stat().st_mode | stat.S_IEXEC)
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    return (
        Supervisor(stores[0], env, python=str(replica), lease_ttl_s=_TTL_S, zygotes=False),
        Supervisor(stores[1], env, python=str(replica), lease_ttl_s=_TTL_S, zygotes=False),
    )


@pytest.mark.parametrize("stall", ["after_its_start", "before_its_start"])
def test_a_pass_past_its_lease_leaves_the_deployment_to_its_new_holder(
    tmp_path: Path,
    two_stores: tuple[SqlArtifactStore, SqlArtifactStore],
    monkeypatch: pytest.MonkeyPatch,
    stall: str,
) -> None:
    # Before: the stalled supervisor (a) wrote its view (its replica's pid, itself as owner)
    # over the record of the server that had taken the deployment over (b), and its replica
    # ran on beside b's; stalled before its start, it started a second replica all the same.
    store_a, store_b = two_stores
    a, b = _supervisors(tmp_path, two_stores)
    t0 = time.time()
    store_a.put_deployment(
        Deployment(
            project="default", name="tiny", ref="tiny:1", replicas=1, created_at=t0, updated_at=t0
        )
    )
    stalled = _Stall(a, monkeypatch, stall)
    started_by_a = stalled.started
    pass_a = threading.Thread(target=a.reconcile, args=(t0,))
    b_pids: list[int] = []
    try:
        pass_a.start()
        assert stalled.in_pass.wait(60)
        b.reconcile(t0 + _TTL_S + 1.0)  # a's lease ran out mid-pass: b takes over
        held = store_b.get_deployment("default", "tiny")
        assert held is not None and held.owner == b.owner
        (b_replica,) = held.members
        assert b_replica.pid is not None and alive(b_replica.pid)
        b_pids.append(b_replica.pid)
        stalled.go.set()
        pass_a.join(60)
        assert not pass_a.is_alive()
        assert store_a.get_deployment("default", "tiny") == held  # b's view, not a's
        if stall == "after_its_start":
            (mine,) = started_by_a
            assert mine.pid is not None and mine.pid != b_replica.pid
            assert not alive(mine.pid)  # never recorded: stopped, not left to run unseen
        else:
            assert started_by_a == []  # the renewal before the start was refused
        a.reconcile(t0 + _TTL_S + 2.0)  # a's next pass: b holds it, a does nothing
        assert store_a.get_deployment("default", "tiny") == held
        assert alive(b_replica.pid) and a._procs == {}
    finally:
        stalled.go.set()
        pass_a.join(60)
        a.close()
        b.close()
        for pid in b_pids + [r.pid for r in started_by_a if r.pid is not None]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_pass_from_before_a_stop_leaves_the_name_deployed_again_alone(
    tmp_path: Path,
    two_stores: tuple[SqlArtifactStore, SqlArtifactStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: the stopped deployment's row was deleted with its epoch, so the name deployed
    # again started at epoch 0; the stalled pass's renewal (a claims the new deployment:
    # epoch 1 again, the one it began under) passed the fence, and it started a replica for
    # what it had read of the stopped deployment and wrote its view onto the new record.
    store_a, store_b = two_stores
    a, b = _supervisors(tmp_path, two_stores)
    t0 = time.time()
    first = Deployment(
        project="default", name="tiny", ref="tiny:1", replicas=1, created_at=t0, updated_at=t0
    )
    store_a.put_deployment(first)
    stalled = _Stall(a, monkeypatch, "before_its_start")
    pass_a = threading.Thread(target=a.reconcile, args=(t0,))
    try:
        pass_a.start()
        assert stalled.in_pass.wait(60)  # a holds the first deployment's lease, mid-pass
        assert b.stop_deployment("default", "tiny") == first  # stopped through another server
        again = msgspec.structs.replace(first, replicas=2, created_at=t0 + 1, updated_at=t0 + 1)
        store_b.put_deployment(again, spec_only=True)  # and deployed again
        stalled.go.set()
        pass_a.join(60)
        assert not pass_a.is_alive()
        assert stalled.started == []  # its renewal got the new deployment's epoch: refused
        assert store_a.get_deployment("default", "tiny") == again
        a.reconcile(t0 + 1.0)  # a's next pass runs the new deployment
        held = store_a.get_deployment("default", "tiny")
        assert held is not None and held.owner == a.owner and len(held.members) == 2
        assert len(stalled.started) == 2 and all(alive(r.pid or 0) for r in stalled.started)
    finally:
        stalled.go.set()
        pass_a.join(60)
        a.close()
        b.close()
        for pid in [r.pid for r in stalled.started if r.pid is not None]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
