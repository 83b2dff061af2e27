"""Two ``airfoil server start --executor ray`` processes on one PostgreSQL and one real Ray
cluster (a head and three worker nodes started with ``ray start``) admit through one authority
keyed by the cluster's address: a project's quota holds across both replicas (read from the
attempts' timestamps) and every run succeeds on the cluster. When the replica holding the
authority is SIGKILLed mid-run, the other takes the authority within its lease and the dead
replica's execution over, both runs succeed, and the quota held throughout: the killed
replica's Ray worker (read from the task's own marks, its end from when its process was
gone) never overlapped the survivor's attempts.

One cluster and one pair of replicas serve the module's tests: the worker nodes, on the
session's head (then handed on to the next module of the same shapes), and the two servers
are started once (the quota test leaves both replicas
as it found them; the failover test, last, kills one). Each test has its own project.
"""

from __future__ import annotations

import signal
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _ray_cluster import SHARED, Cluster, RayHead, needs_ray, running
from _replicas import LEASE, Replica, most_at_once, until

from airfoil.store._scheduling import ProjectQuota
from airfoil.store.admission import AuthorityLease
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._admission import SqlAdmissionStore

pytestmark = [
    *needs_ray,
    pytest.mark.timeout(420),
]

RAY_NODES = SHARED  # two 2-CPU nodes (one with the resource ``a``), a 1-CPU node with a GPU


FLOW = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task(requests=af.Resources(cpu=1))
    def hold(i: int, seconds: float) -> int:
        time.sleep(seconds)
        return i


    @af.task
    def total(a: int, b: int) -> int:
        return a + b


    @af.workflow
    def two(seconds: float = 1.0) -> int:
        return total(a=hold(i=1, seconds=seconds), b=hold(i=2, seconds=seconds))
    """
)


@pytest.fixture(scope="module")
def ray_cluster(ray_head: RayHead, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The session's head (no CPUs) and its shared worker nodes (two 2-CPU nodes, a 1-CPU
    node with a fake GPU), for the module."""
    yield from running(Cluster(ray_head, *RAY_NODES), request)


@dataclass
class Replicas:
    """Two ``airfoil server start --executor ray`` replicas on one PostgreSQL schema and the
    module's cluster, with the stores the tests read."""

    replicas: list[Replica]
    meta: SqlMetaStore
    admission: SqlAdmissionStore
    key: str  # the authority's: one per Ray cluster


@pytest.fixture(scope="module")
def on_ray(
    ray_cluster: Cluster,
    pg_schema_factory: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    with pytest.MonkeyPatch.context() as mp:
        for key in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "PYTHONPATH"):
            mp.setenv(key, ray_cluster.env[key])
        url = pg_schema_factory()
        home = tmp_path_factory.mktemp("replicas")
        meta = SqlMetaStore(url)
        admission = SqlAdmissionStore(url)
        options = ("--executor", "ray", "--ray-address", ray_cluster.address)
        replicas = [Replica(home, url, home / f"{n}.log", *options) for n in ("a", "b")]
        try:
            for r in replicas:
                r.ready(180)
            yield Replicas(replicas, meta, admission, f"ray:{ray_cluster.address}")
        finally:
            for r in replicas:
                r.stop()
            meta.close()
            admission.close()
            until(
                "nothing of ours left",
                lambda: all(r.proc.poll() is not None for r in replicas),
                30,
            )


def test_quota_holds_across_replicas_on_one_ray_cluster(on_ray: Replicas, tmp_path: Path) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    replicas, meta, admission = on_ray.replicas, on_ray.meta, on_ray.admission
    project = f"p{uuid.uuid4().hex[:6]}"
    meta.put_quota(ProjectQuota(project, cpu=1.0, borrow=False))
    name = f"admray_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FLOW)
    load_entity(str(tmp_path / f"{name}.py"), "two")
    mod: Any = sys.modules[name]
    ids = []
    for r in replicas:
        with Client(r.url, project=project) as client:
            client.register([mod.two])
            ids.append(client.launch(mod.two, {"seconds": 1.0}).id)
    with Client(replicas[0].url, project=project) as client:
        for e in ids:
            detail = client.wait(e, timeout=240)
            assert detail.phase == "succeeded", detail
            assert client.outputs(e, mod.two) == 3
    key = on_ray.key
    lease = admission.authority(key)
    assert lease is not None and lease.epoch >= 1, key
    assert lease.holder.split(":")[1] in {str(r.proc.pid) for r in replicas}
    spans = [
        (a.started_at, a.ended_at or time.time())
        for e in ids
        for a in meta.get_attempts(e)
        if a.node_id in {"n0", "n1"}  # the two holds (total asks for nothing)
    ]
    assert len(spans) == 4, spans
    assert most_at_once(spans) == 1, sorted(spans)  # the quota, across both replicas
    assert all(r.proc.poll() is None for r in replicas)  # both left for the next test


MARKED = textwrap.dedent(
    """
    import os
    import time

    import airfoil as af

    LOG = "@LOG@"  # written in by the test: workers get the cluster's environment


    def mark(what: str, i: int) -> None:
        with open(LOG, "a") as fh:
            fh.write(f"{what} {i} {os.getpid()} {time.time():.3f}\\n")


    @af.task(requests=af.Resources(cpu=1))
    def hold(i: int, seconds: float) -> int:
        mark("start", i)
        time.sleep(seconds)
        mark("end", i)
        return i


    @af.task
    def total(a: int, b: int, c: int) -> int:
        return a + b + c


    @af.workflow
    def three(i: int, j: int, k: int, seconds: float = 1.0) -> int:
        a = hold(i=i, seconds=seconds)
        b = hold(i=j, seconds=seconds)
        c = hold(i=k, seconds=seconds)
        return total(a=a, b=b, c=c)
    """
)


def test_the_authority_survives_its_holder_killed_mid_run_on_ray(
    on_ray: Replicas, tmp_path: Path
) -> None:
    """Last in the module: it kills one of the module's replicas."""
    import psutil

    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    replicas, meta, admission, key = on_ray.replicas, on_ray.meta, on_ray.admission, on_ray.key
    assert all(r.proc.poll() is None for r in replicas), "a replica died before this test"
    marks = tmp_path / "marks.log"
    project = f"p{uuid.uuid4().hex[:6]}"

    def authority() -> AuthorityLease | None:
        lease = admission.authority(key)
        return lease if lease is not None and lease.lease_until > time.time() else None

    def read_marks() -> list[tuple[str, int, int, float]]:
        if not marks.exists():
            return []
        rows = [line.split() for line in marks.read_text().splitlines()]
        return [(r[0], int(r[1]), int(r[2]), float(r[3])) for r in rows if len(r) == 4]

    meta.put_quota(ProjectQuota(project, cpu=1.0, borrow=False))
    name = f"admrayk_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MARKED.replace("@LOG@", str(marks)))
    load_entity(str(tmp_path / f"{name}.py"), "three")
    mod: Any = sys.modules[name]
    ids = []
    for base, r in ((0, replicas[0]), (10, replicas[1])):  # one execution through each
        with Client(r.url, project=project) as client:
            client.register([mod.three])
            marked = {"i": base + 1, "j": base + 2, "k": base + 3, "seconds": 1.0}
            ids.append(client.launch(mod.three, marked).id)

    def drivers() -> dict[str, str]:
        return {e: held[0] for e in ids if (held := meta.get_lease(e)) is not None}

    until("an authority", authority, 120)
    until("both replicas driving", lambda: len(set(drivers().values())) == 2, 120)
    lease = until("the authority as it is now", authority, 10)
    holder = next(r for r in replicas if lease.holder.split(":")[1] == str(r.proc.pid))
    survivor = next(r for r in replicas if r is not holder)
    dead = next(e for e, o in drivers().items() if o.split(":")[1] == str(holder.proc.pid))
    base = 0 if dead == ids[0] else 10

    def holder_running() -> bool:  # mid-run: the holder's execution has a hold running
        rows = read_marks()
        ended = {i for w, i, _, _ in rows if w == "end"}
        return any(w == "start" and base < i <= base + 3 and i not in ended for w, i, _, _ in rows)

    until("the holder's attempt running on the cluster", holder_running, 180)
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(10)
    killed = time.time()
    # Its Ray worker dies with its owner (the killed driver): note when it is gone.
    ended = {i for w, i, _, _ in read_marks() if w == "end"}
    orphans = {pid: i for w, i, pid, _ in read_marks() if w == "start" and i not in ended}
    # Both watched in one loop, each noted when first seen: waited for one after the other,
    # the takeover was timed after the orphans' end (Ray reaps a dead driver's workers in
    # seconds on a loaded machine), not when it happened.
    gone: dict[int, float] = {}
    taken: AuthorityLease | None = None
    took = 0.0
    deadline = time.monotonic() + 60
    while (len(gone) < len(orphans) or taken is None) and time.monotonic() < deadline:
        for pid in orphans:
            if pid not in gone and not psutil.pid_exists(pid):
                gone[pid] = time.time()
        if taken is None and (x := authority()) is not None and x.holder != lease.holder:
            taken, took = x, time.time() - killed
        time.sleep(0.05)
    assert len(gone) == len(orphans), f"Ray workers left after their driver died: {orphans}"
    assert taken is not None, "the survivor never took the authority"
    assert taken.epoch == lease.epoch + 1
    assert taken.holder.split(":")[1] == str(survivor.proc.pid)
    # its lease, a third of it to notice, polls (as on the process executor), plus slack
    # for a loaded machine: the survivor's loop also drives its execution on Ray
    assert took <= LEASE * 4 / 3 + 3.0, took
    print(
        f"failover on Ray: the killed replica's worker(s) gone "
        f"{max(gone.values(), default=killed) - killed:.2f} s after the kill, the "
        f"authority taken after {took:.2f} s"
    )
    with Client(survivor.url, project=project) as client:
        for base_i, e in zip((0, 10), ids, strict=True):
            assert client.wait(e, timeout=240).phase == "succeeded"
            assert client.outputs(e, mod.three) == 3 * base_i + 6
    # The quota (1 CPU across both replicas) held throughout, the killed driver's worker
    # counted until its process was gone; every hold ran to its end.
    rows = read_marks()
    ends = {(i, pid): t for w, i, pid, t in rows if w == "end"}
    spans = []
    for w, i, pid, t in rows:
        if w == "start":
            end = ends.get((i, pid)) or gone.get(pid)
            assert end is not None, (i, pid, rows)
            spans.append((t, end))
    assert {i for w, i, _, _ in rows if w == "end"} == {1, 2, 3, 11, 12, 13}
    assert most_at_once(spans) == 1, (killed, gone, sorted(spans))
