"""A real multi-node Ray cluster on this machine: a head and three worker nodes started with
``ray start`` (small CPU counts, a fake GPU on one), driven by ``airfoil run --executor ray
--ray-address``. A task that needs a GPU lands on the one node that has one, a task asking
for a custom resource on the node that declares it; killing the
raylet of a GPU-less node running plain map items mid-run loses their attempts as system
errors, they finish on the other nodes, the run succeeds, and no item runs to its end twice.

The head is the session's (``ray_head``); the worker nodes are this test's, taken over from
the module before that asks for the same shapes (this one runs last of them: it kills a node)
or started for it, and removed after it: their processes (found by a mark in their
environment) are killed by id -- never ``ray stop``, which would stop every Ray of this user
on the machine (``_ray_cluster``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ray_cluster import SHARED, Cluster, RayHead, needs_ray, running

pytestmark = needs_ray

RAY_NODES = SHARED  # two 2-CPU nodes (one with the resource ``a``), a 1-CPU node with a GPU
KILLS_A_NODE = True  # last of the modules that share these nodes (``_ray_order``)

FLOW = textwrap.dedent(
    """
    import os
    import time

    import ray

    import airfoil as af

    LOG = "@LOG@"  # written in by the test: workers get the cluster's environment, not ours
    SLEEP = @SLEEP@
    KILLED = LOG + ".killed"  # the test's note that it killed a node: no need to wait longer


    def mark(what: str) -> None:
        # The raylet is the parent of a Ray worker: its pid names the node to kill.
        node = ray.get_runtime_context().get_node_id()
        with open(LOG, "a") as fh:
            fh.write(f"{what} {node} {os.getppid()}\\n")


    @af.task(requests=af.Resources(gpu=1))
    def on_gpu(x: int) -> str:
        mark(f"gpu{x}")
        return ray.get_runtime_context().get_node_id()


    @af.task
    def plain(i: int) -> int:
        mark(f"start{i}")
        until = time.monotonic() + SLEEP
        while time.monotonic() < until and not os.path.exists(KILLED):
            time.sleep(0.05)
        mark(f"end{i}")
        return i * 10


    @af.task(requests=af.Resources(custom={"a": 0.5}))
    def on_a(x: int) -> str:
        mark(f"a{x}")
        return ray.get_runtime_context().get_node_id()


    @af.task
    def total(where: str, where_a: str, values: list[int]) -> str:
        return f"{where}:{where_a}:{sum(values)}"


    @af.workflow
    def wf(xs: list[int]) -> str:
        return total(where=on_gpu(x=1), where_a=on_a(x=1), values=af.map_task(plain)(i=xs))
    """
)


@pytest.fixture
def cluster(ray_head: RayHead, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The session's head and three worker nodes: two with 2 CPUs, the first with the custom
    resource ``a``, one with 1 CPU and a fake GPU."""
    yield from running(Cluster(ray_head, *RAY_NODES), request)


def _until_succeeded(home: Path, tasks: set[str], driver: subprocess.Popen[str]) -> None:
    """Until the run's nodes of ``tasks`` (by function name) are recorded as succeeded."""
    from airfoil.store._open import open_meta_store

    meta = open_meta_store(None, str(home))
    try:
        deadline = time.monotonic() + 120
        while True:
            runs = meta.list_executions(limit=1)
            nodes = meta.get_nodes(runs[0].id) if runs else []
            done = {n.task.rsplit(".", 1)[-1] for n in nodes if n.phase == "succeeded"}
            if tasks <= done:
                return
            assert driver.poll() is None, "the run ended before its short tasks were recorded"
            assert time.monotonic() < deadline, f"{tasks - done} never recorded as succeeded"
            time.sleep(0.1)
    finally:
        meta.close()


@pytest.mark.timeout(420)
def test_gpu_task_lands_on_the_gpu_node_and_a_lost_node_costs_only_its_attempts(
    cluster: Cluster, tmp_path: Path
) -> None:
    flow = tmp_path / "raywf.py"
    log = tmp_path / "calls.log"
    # The items run until the test has killed a node (SLEEP is only a bound if it never does).
    flow.write_text(FLOW.replace("@LOG@", str(log)).replace("@SLEEP@", "120"))
    env = dict(cluster.env, AIRFOIL_HOME=str(tmp_path / "home"))
    run = [
        sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
        "--ray-address", cluster.address, str(flow), "wf", "--xs", json.dumps([0, 1, 2, 3]),
    ]  # fmt: skip
    driver = subprocess.Popen(
        run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Wait until plain items run on a node that is not the GPU node, then kill its raylet.
        deadline = time.monotonic() + 180
        gpu_node = victim = None
        while time.monotonic() < deadline and victim is None:
            lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
            gpu_node = next((node for what, node, _ in lines if what == "gpu1"), gpu_node)
            if not any(what == "a1" for what, _, _ in lines):
                gpu_node = None  # wait for the task placed by a custom resource too
            running = [(node, raylet) for what, node, raylet in lines if what.startswith("start")]
            if gpu_node is not None:
                victim = next((r for node, r in running if node != gpu_node), None)
            time.sleep(0.1)
        if victim is None:
            if driver.poll() is None:
                driver.kill()
            out, err = driver.communicate(timeout=30)
            seen = log.read_text() if log.exists() else "(no task started)"
            raise AssertionError(f"no plain item ran on the CPU node: {seen}\n{out}\n{err}")
        # The short tasks on the GPU and `a` nodes have ended first, their results in the
        # driver's store: the kill then costs only plain items (`on_a`, lost with the `a`
        # node, would have nowhere left to run). Not a fixed second after their marks: a
        # task's result reaches the driver after its body ends, later on a loaded machine.
        _until_succeeded(tmp_path / "home", {"on_gpu", "on_a"}, driver)
        killed_node = next(n for w, n, r in lines if w.startswith("start") and r == victim)
        import psutil

        workers = psutil.Process(int(victim)).children(recursive=True)
        os.kill(int(victim), signal.SIGKILL)
        # Once the node's workers are gone (within the items' own time: a worker outliving
        # its raylet would end its item a second time), the items left and those run again
        # end at once.
        psutil.wait_procs(workers, timeout=6)
        Path(f"{log}.killed").touch()
        out, err = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
    assert driver.returncode == 0, err
    data = json.loads(out)
    assert data["phase"] == "succeeded"
    where, where_a, total = data["outputs"]["o0"].split(":")
    a_node, _, gpu_only = (n.node_id for n in cluster.nodes)  # in RAY_NODES' order
    assert where == gpu_node == gpu_only and total == "60", "the GPU task ran on the GPU node"
    assert where_a == a_node, "the task asking for `a` ran where `a` is"
    assert killed_node != gpu_node
    events = [line.split() for line in log.read_text().splitlines()]
    ends = sorted(what for what, _, _ in events if what.startswith("end"))
    assert ends == ["end0", "end1", "end2", "end3"], "each item ran to its end exactly once"
    lost = [w for w, n, _ in events if w.startswith("start") and n == killed_node]
    assert lost, "some item was running on the killed node"
    from airfoil.store._open import open_meta_store

    meta = open_meta_store(None, str(tmp_path / "home"))
    try:
        attempts = [a for a in meta.get_attempts(data["execution_id"]) if "[" in a.node_id]
    finally:
        meta.close()
    lost_attempts = [a for a in attempts if a.error is not None]
    assert lost_attempts, "the items running on the killed node lost their attempts"
    for a in lost_attempts:
        assert a.error is not None and (a.error.kind, a.error.type) == ("system", "WorkerLostError")
        again = [b for b in attempts if b.node_id == a.node_id and b.attempt == a.attempt + 1]
        assert again and again[0].phase == "succeeded", f"{a.node_id} was not run again"
    # The map node's tasks have no user retries: the second attempts were system retries.
    assert len({a.node_id for a in attempts if a.phase == "succeeded"}) == 4
