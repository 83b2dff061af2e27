"""A real multi-node Ray cluster on this machine: a head and two worker nodes started with
``ray start`` (small CPU counts, a fake GPU on one), driven by ``airfoil run --executor ray
--ray-address``. A task that needs a GPU lands on the one node that has one, a task asking
for a custom resource on the node that declares it; killing the
raylet of the node running plain map items mid-run loses their attempts as system errors,
they finish on the other node, the run succeeds, and no item runs to its end twice.

The cluster keeps its session files in a temporary folder and is stopped by the test itself:
its processes (found by that folder in their command lines, and their descendants) are
killed by id -- never ``ray stop``, which would stop every Ray of this user on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

# (a found-spec check, not importorskip: importing Ray while collecting costs seconds)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.ray,
    pytest.mark.skipif(
        find_spec("ray") is None, reason="ray is not installed: pip install 'airfoil[ray]'"
    ),
]

FLOW = textwrap.dedent(
    """
    import os
    import time

    import ray

    import airfoil as af

    LOG = "@LOG@"  # written in by the test: workers get the cluster's environment, not ours
    SLEEP = @SLEEP@


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
        time.sleep(SLEEP)
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


class Cluster:
    """A head (no CPUs) and two worker nodes -- one with 2 CPUs and the custom resource
    ``a``, one with 1 CPU and a fake GPU -- stopped by :meth:`stop`."""

    def __init__(self, src: Path) -> None:
        self.temp = tempfile.mkdtemp(prefix="afray-")
        self.env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
            RAY_USAGE_STATS_ENABLED="0",
            RAY_AUTH_MODE="disabled",
            # Notice a dead node within seconds (defaults: tens of seconds).
            RAY_health_check_initial_delay_ms="0",
            RAY_health_check_period_ms="500",
            RAY_health_check_timeout_ms="500",
            RAY_health_check_failure_threshold="3",
        )
        self.address = ""

    def start(self) -> None:
        self.start_head()
        self._ray_start(f"--address={self.address}", "--num-cpus=2", '--resources={"a": 1}')
        self._ray_start(f"--address={self.address}", "--num-cpus=1", "--num-gpus=1")

    def start_head(self) -> None:
        """Start the head (no CPUs: attempts run on worker nodes) and note its address."""
        head = self._ray_start(
            "--head", "--port=0", "--num-cpus=0", f"--temp-dir={self.temp}",
            "--include-dashboard=false", "--disable-usage-stats",
        )  # fmt: skip
        found = re.search(r"--address='([^']+)'", head)
        assert found, head
        self.address = found.group(1)

    def _ray_start(self, *args: str, env: dict[str, str] | None = None) -> str:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        done = subprocess.run(
            ["nice", "-n", "10", ray_cli, "start", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def stop(self) -> None:
        """Kill every process of this cluster by id (bounded: SIGKILL, then a short wait)."""
        import psutil

        me = os.getpid()
        roots = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if p.pid != me and any(self.temp in a for a in p.info["cmdline"] or ()):
                    roots.append(p)
            except psutil.Error:
                continue
        procs: dict[int, psutil.Process] = {}
        for root in roots:
            try:
                for p in [root, *root.children(recursive=True)]:
                    procs[p.pid] = p
            except psutil.Error:
                procs[root.pid] = root
        for p in procs.values():
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                continue
        psutil.wait_procs(list(procs.values()), timeout=10)
        shutil.rmtree(self.temp, ignore_errors=True)


def running(c: Cluster) -> Iterator[Cluster]:
    """A fixture's body: ``c`` started, then stopped whatever happened."""
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[Cluster]:
    yield from running(Cluster(repo_root / "src"))


@pytest.mark.timeout(420)
def test_gpu_task_lands_on_the_gpu_node_and_a_lost_node_costs_only_its_attempts(
    cluster: Cluster, tmp_path: Path
) -> None:
    flow = tmp_path / "raywf.py"
    log = tmp_path / "calls.log"
    flow.write_text(FLOW.replace("@LOG@", str(log)).replace("@SLEEP@", "6"))
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
        time.sleep(1.0)  # let the short tasks on the GPU and `a` nodes finish first
        killed_node = next(n for w, n, r in lines if w.startswith("start") and r == victim)
        os.kill(int(victim), signal.SIGKILL)
        out, err = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=10)
    assert driver.returncode == 0, err
    data = json.loads(out)
    assert data["phase"] == "succeeded"
    where, where_a, total = data["outputs"]["o0"].split(":")
    assert where == gpu_node and total == "60", "the GPU task ran on the GPU node"
    assert where_a == killed_node != gpu_node, "the task asking for `a` ran where `a` is"
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
