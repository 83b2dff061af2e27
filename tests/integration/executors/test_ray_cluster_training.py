"""A training gang on a real multi-node Ray cluster (a head and three 2-CPU worker nodes,
started with ``ray start``; each also declares two fake GPUs, which nothing here asks for):
a 2-worker DDP task (torch, gloo) whose ranks ask for 2 CPUs each, a node each, spans two
nodes; the raylet of a node running a rank is killed mid-training. The gang restarts from its
latest checkpoint on the nodes left, no two gang starts ever run at once, the steps repeated
are at most one checkpoint interval, and the run succeeds.

The worker nodes are the session's ``_ray_cluster.GPU_PAIRS``, taken over from the fairness
module (or started for this one) and removed after the test: it kills one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from _ray_cluster import GPU_PAIRS, Cluster, RayHead, needs_ray, running

pytestmark = [
    *needs_ray,
    pytest.mark.skipif(
        find_spec("torch") is None, reason="torch is not installed: pip install 'airfoil[train]'"
    ),
]


RAY_NODES = GPU_PAIRS  # three 2-CPU nodes (each with 2 fake GPUs, unused here)
KILLS_A_NODE = True  # last of the modules that share these nodes (``_ray_order``)

FLOWS = Path(__file__).parent.parent / "training"
STEPS, EVERY, SEED = 16, 4, 7


@pytest.fixture
def cluster(ray_head: RayHead, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The session's head (no CPUs) and three worker nodes with 2 CPUs each."""
    yield from running(Cluster(ray_head, *RAY_NODES), request)


def _flow(tmp_path: Path) -> Path:
    """The training tests' DDP flow with ranks of 2 CPUs: each takes a 2-CPU node whole."""
    text = (FLOWS / "_ddp_flow.py").read_text()
    one_cpu = "resources_per_worker=af.Resources(cpu=1)"
    assert text.count(one_cpu) == 1
    path = tmp_path / "flow" / "_ddp_flow.py"
    path.parent.mkdir()
    path.write_text(text.replace(one_cpu, "resources_per_worker=af.Resources(cpu=2)"))
    return path


def _run(cluster: Cluster, tmp_path: Path, marks: Path, delay: float) -> subprocess.Popen[str]:
    env = dict(cluster.env, AIRFOIL_HOME=str(tmp_path / "home"))
    args = [
        sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
        "--ray-address", cluster.address, str(_flow(tmp_path)), "ddp",
        "--steps", str(STEPS), "--every", str(EVERY), "--seed", str(SEED),
        "--delay", str(delay), "--marks", str(marks),
    ]  # fmt: skip
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.timeout(420)
def test_a_lost_node_restarts_the_gang_from_its_checkpoint_on_the_nodes_left(
    cluster: Cluster, tmp_path: Path
) -> None:
    import psutil

    marks = tmp_path / "marks"
    marks.mkdir()
    driver = _run(cluster, tmp_path, marks, delay=0.2)
    try:
        # Kill the node of the rank that does not share its node with the gang's supervisor
        # (a Ray worker's parent is its node's raylet): the gang restarts within the attempt.
        deadline = time.monotonic() + 240
        raylet = None
        while raylet is None and time.monotonic() < deadline and driver.poll() is None:
            try:
                seen = [(marks / f"rank{r}.progress").read_text().split() for r in (0, 1)]
                progress = [tuple(map(int, fields)) for fields in seen]
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            if all(len(p) == 3 and p[1] >= 6 for p in progress):
                supervisor_node = psutil.Process(progress[0][2]).ppid()
                nodes = [psutil.Process(p[0]).ppid() for p in progress]
                assert nodes[0] != nodes[1], f"both ranks on one node: {progress}"
                raylet = next(n for n in nodes if n != supervisor_node)
            time.sleep(0.05)
        assert raylet is not None, "the ranks never reached step 6"
        killed_at = time.time()
        os.kill(raylet, signal.SIGKILL)
        out, err = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate(timeout=30)
    assert driver.returncode == 0, out + err
    loss = json.loads(out)["outputs"]["o0"]
    rows = [line.split() for line in (marks / "steps.log").read_text().splitlines()]
    # Group the steps by (attempt, gang start), in the order they ran.
    groups: list[tuple[tuple[str, str], list[int], list[float]]] = []
    for attempt, start, step, at in rows:
        if not groups or groups[-1][0] != (attempt, start):
            groups.append(((attempt, start), [], []))
        groups[-1][1].append(int(step))
        groups[-1][2].append(float(at))
    assert len(groups) >= 2, f"the gang never restarted: {rows}"
    # The supervisor lived: the gang restarted inside the attempt (no retry, no new attempt).
    assert groups[0][0] == ("1", "0") and groups[1][0] == ("1", "1"), groups
    done = 0
    for i, (_key, steps, times) in enumerate(groups):
        assert steps == list(range(steps[0], steps[0] + len(steps))), groups
        if i:
            assert steps[0] % EVERY == 0 and done - EVERY <= steps[0] <= done, groups
            assert times[0] > groups[i - 1][2][-1], "two gang starts ran at once"
        done = steps[-1] + 1
    assert done == STEPS
    assert groups[1][2][0] > killed_at
    repeated = sum(len(s) for _k, s, _t in groups) - STEPS
    assert repeated <= EVERY * (len(groups) - 1)
    # The loss itself: rank 0's last all-reduced loss, a number (its equality with an
    # uninterrupted run is tested on one node, tests/integration/training/test_training.py).
    assert isinstance(loss, float) and loss > 0
