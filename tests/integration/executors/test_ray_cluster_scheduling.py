"""Airfoil's policy places work on a real multi-node Ray cluster (a head with no CPUs and
three worker nodes started with ``ray start``: two with 2 CPUs, one with 1 CPU and a fake
GPU), driven by ``airfoil run --executor ray --ray-address``.

- Every attempt that asks for resources runs on the node the engine's queue placed it on
  (read from the queue snapshots the driver writes while it runs), the GPU task on the GPU
  node.
- A training gang of 2 workers x 2 CPUs needs both 2-CPU nodes whole. While a long task
  holds a CPU of one of them, the gang waits holding nothing on the cluster (no placement
  group, no rank), small CPU tasks submitted with it backfill on the node the gang does not
  need, and once the long task ends the gang starts with one rank on each 2-CPU node, with no
  small task on those nodes while it runs.

The worker nodes are the session's shared ones (``_ray_cluster.SHARED``: the first 2-CPU
node also declares the custom resource ``a``, and each a blob cache folder, which this test
does not use), taken over from the module before or started for this one, and handed on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ray_cluster import SHARED, Cluster, RayHead, needs_ray, running

from airfoil.store._open import open_meta_store

pytestmark = needs_ray

RAY_NODES = SHARED  # two 2-CPU nodes and a 1-CPU node with a fake GPU


#: A flow's start: ``mark(what)`` appends ``what``, the node it ran on and the time to @LOG@.
MARKING = textwrap.dedent(
    """
    import os
    import time

    import ray

    import airfoil as af

    LOG = "@LOG@"


    def mark(what: str) -> str:
        node = ray.get_runtime_context().get_node_id()
        with open(LOG, "a") as fh:
            fh.write(f"{what} {node} {time.time():.3f}\\n")
        return node
    """
)

FLOW = MARKING + textwrap.dedent(
    """

    @af.task(requests=af.Resources(cpu=1))
    def blocker(s: float) -> str:
        # Holds a CPU of a 2-CPU node until the small tasks have run (at most ``s`` seconds).
        mark("blocker-start")
        until = time.monotonic() + s
        while time.monotonic() < until and open(LOG).read().count("-end ") < 3:
            time.sleep(0.05)
        return mark("blocker-end")


    @af.task
    def kick() -> list[int]:
        time.sleep(1.5)  # the blocker is granted first
        mark("kick")
        return [0, 1, 2]


    @af.task(requests=af.Resources(gpu=1))
    def on_gpu() -> str:
        return mark("gpu")


    @af.task(requests=af.Resources(cpu=1))
    def small(i: int) -> int:
        mark(f"small{i}-start")
        time.sleep(1.5)
        mark(f"small{i}-end")
        return i


    @af.training_task(workers=2, resources_per_worker=af.Resources(cpu=2), max_restarts=0,
                       start_timeout_s=30)
    def train(xs: list[int]) -> int:
        rank = int(os.environ["RANK"])
        mark(f"rank{rank}-start")
        time.sleep(2.0)
        mark(f"rank{rank}-end")
        return len(xs)


    @af.task
    def total(a: str, g: str, n: int, smalls: list[int]) -> str:
        return f"{a}:{g}:{n}:{sum(smalls)}"


    @af.workflow
    def wf() -> str:
        xs = kick()
        return total(
            a=blocker(s=@HOLD@), g=on_gpu(), n=train(xs=xs), smalls=af.map_task(small)(i=xs)
        )
    """
)


@pytest.fixture
def cluster(ray_head: RayHead, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The session's head (no CPUs), two 2-CPU nodes and a 1-CPU node with a fake GPU."""
    yield from running(Cluster(ray_head, *RAY_NODES), request)


Seen = dict[tuple[str, str], tuple[str, ...]]


def _placements(home: Path, seen: Seen, caps: dict[str, float]) -> None:
    """What the driver's queue snapshots say runs where, added to ``seen``."""

    meta = open_meta_store(None, str(home))
    try:
        for snap in meta.list_queue_snapshots():
            for n in snap.nodes:
                caps[n.node.name] = n.node.capacity.cpu
            for item in snap.items:
                if item.state == "running" and item.placement:
                    seen[(item.task, item.node_id)] = item.placement
    finally:
        meta.close()


@pytest.mark.timeout(300)
def test_the_policy_places_work_and_a_two_node_gang_waits_then_takes_whole_nodes(
    cluster: Cluster, tmp_path: Path
) -> None:
    flow = tmp_path / "schedwf.py"
    log = tmp_path / "marks.log"
    flow.write_text(FLOW.replace("@LOG@", str(log)).replace("@HOLD@", "9.0"))
    home = tmp_path / "home"
    env = dict(cluster.env, AIRFOIL_HOME=str(home))
    run = [
        sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
        "--ray-address", cluster.address, str(flow), "wf",
    ]  # fmt: skip
    driver = subprocess.Popen(
        run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: Seen = {}
    caps: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 240
        while driver.poll() is None and time.monotonic() < deadline:
            if (home / "airfoil.db").exists():
                try:
                    _placements(home, seen, caps)
                except Exception:  # the driver is creating its store: look again
                    pass
            time.sleep(0.25)
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
    assert driver.returncode == 0, err
    data = json.loads(out)
    assert data["phase"] == "succeeded", data
    marks: dict[str, tuple[str, float]] = {}
    for line in log.read_text().splitlines():
        what, node, at = line.split()
        marks[what] = (node, float(at))
    a, g, n, smalls = data["outputs"]["o0"].split(":")
    assert (a, g, n, smalls) == (marks["blocker-end"][0], marks["gpu"][0], "3", "3")

    # Every attempt the snapshots caught running ran on the node the policy placed it on.
    # Nothing failed and was retried: in particular the gang's placement group, pinned to
    # the nodes the policy chose, was not kept waiting (by idle warm workers sitting there).
    meta = open_meta_store(None, str(home))
    try:
        failed = [a for a in meta.get_attempts(data["execution_id"]) if a.error is not None]
    finally:
        meta.close()
    assert not failed, [(a.node_id, a.error) for a in failed]

    def ran_on(task: str, node_id: str) -> str | None:
        name = task.rpartition(".")[2]
        if name == "small":
            i = node_id.rpartition("[")[2].rstrip("]")
            return marks[f"small{i}-start"][0]
        return {"blocker": marks["blocker-start"][0], "on_gpu": marks["gpu"][0]}.get(name)

    checked = 0
    for (task, node_id), placement in seen.items():
        where = ran_on(task, node_id)
        if where is not None:
            assert placement == (where,), f"{task} ran on {where}, placed on {placement}"
            checked += 1
    assert checked >= 2, f"the snapshots caught attempts running: {seen}"
    assert any(p == (marks["gpu"][0],) for p in seen.values()), seen
    assert caps, "the driver's snapshots list the cluster's nodes"
    two_cpu = {name for name, cpu in caps.items() if cpu == 2.0}
    assert len(two_cpu) == 2 and marks["gpu"][0] not in two_cpu, caps

    # `airfoil nodes` reads the cluster's live nodes from Ray.
    nodes = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "nodes", "--json", "--executor", "ray",
         "--ray-address", cluster.address],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert nodes.returncode == 0, nodes.stderr
    listed = json.loads(nodes.stdout)
    assert listed[0]["head"] and listed[0]["cpu"] == 0.0 and all(n["alive"] for n in listed)
    assert sorted((n["cpu"], n["gpu"]) for n in listed[1:]) == [(1.0, 1), (2.0, 0), (2.0, 0)]
    assert {n["name"] for n in listed} >= two_cpu | {marks["gpu"][0]}
    # Only live nodes: those that earlier tests added to the session's head and removed are not.
    assert {n["name"] for n in listed[1:]} == {n.node_id for n in cluster.nodes}, listed

    # The gang: one rank on each 2-CPU node, after the blocker ended.
    ranks = {marks["rank0-start"][0], marks["rank1-start"][0]}
    assert ranks == two_cpu, "the gang took both 2-CPU nodes whole"
    gang_from = min(marks["rank0-start"][1], marks["rank1-start"][1])
    gang_to = max(marks["rank0-end"][1], marks["rank1-end"][1])
    assert gang_from >= marks["blocker-end"][1], "the gang waited for its nodes to be whole"
    # While it waited (from the kick on), small work ran: it held nothing.
    backfilled = [
        i for i in range(3) if marks["kick"][1] <= marks[f"small{i}-start"][1] < gang_from
    ]
    assert backfilled, "small tasks ran while the gang waited"
    for i in range(3):
        node, start = marks[f"small{i}-start"]
        end = marks[f"small{i}-end"][1]
        if node in two_cpu:
            assert end <= gang_from or start >= gang_to, f"small{i} ran beside a rank on {node}"
