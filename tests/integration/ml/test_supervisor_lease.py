"""Deployment leases fence a supervisor's pass: a pass that runs past its lease while
another server takes the deployment over neither writes its view over the new holder's
record nor starts processes for it, and the process it started before it knew is stopped
(it was never recorded, so no server would ever supervise it). Two supervisors on one
database, SQLite and PostgreSQL; the replicas are stand-in processes (a script that sleeps)."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    replica = tmp_path / "replica"  # stands in for `python -m airfoil.cli serve ...`
    replica.write_text("#!/bin/sh\nexec sleep 300\n")
    replica.chmod(replica.stat().st_mode | stat.S_IEXEC)
    env = ServiceEnv(str(tmp_path), None, str(tmp_path / "blobs"), str(tmp_path / "logs"))
    a = Supervisor(store_a, env, python=str(replica), lease_ttl_s=_TTL_S, zygotes=False)
    b = Supervisor(store_b, env, python=str(replica), lease_ttl_s=_TTL_S, zygotes=False)
    t0 = time.time()
    store_a.put_deployment(
        Deployment(
            project="default", name="tiny", ref="tiny:1", replicas=1, created_at=t0, updated_at=t0
        )
    )
    in_pass, go = threading.Event(), threading.Event()
    started_by_a: list[Replica] = []
    spawn, admit = a._spawn, a._admit

    def spawn_then_stall(*args: Any) -> Replica:
        started_by_a.append(spawn(*args))
        in_pass.set()
        assert go.wait(60)
        return started_by_a[-1]

    def stall_then_admit(*args: Any) -> Any:
        in_pass.set()
        assert go.wait(60)
        return admit(*args)

    def spawn_and_note(*args: Any) -> Replica:
        started_by_a.append(spawn(*args))
        return started_by_a[-1]

    if stall == "after_its_start":
        monkeypatch.setattr(a, "_spawn", spawn_then_stall)
    else:
        monkeypatch.setattr(a, "_admit", stall_then_admit)
        monkeypatch.setattr(a, "_spawn", spawn_and_note)
    pass_a = threading.Thread(target=a.reconcile, args=(t0,))
    b_pids: list[int] = []
    try:
        pass_a.start()
        assert in_pass.wait(60)
        b.reconcile(t0 + _TTL_S + 1.0)  # a's lease ran out mid-pass: b takes over
        held = store_b.get_deployment("default", "tiny")
        assert held is not None and held.owner == b.owner
        (b_replica,) = held.members
        assert b_replica.pid is not None and alive(b_replica.pid)
        b_pids.append(b_replica.pid)
        go.set()
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
        go.set()
        pass_a.join(60)
        a.close()
        b.close()
        for pid in b_pids + [r.pid for r in started_by_a if r.pid is not None]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
