"""Data locality on a real multi-node Ray cluster (a head with no CPUs, two 2-CPU nodes and a
1-CPU node with a fake GPU started with ``ray start``, each with its own blob cache folder),
driven by ``airfoil run --executor ray --ray-address``.

A 30 MB input is produced on one 2-CPU node while a long task holds the other; a first
consumer runs beside it (the other node is full; CPU work goes to the GPU node only when no
GPU-less node has room) and fetches the blob into that node's cache. Once the long task ends
both 2-CPU nodes are empty, and best fit alone would put the second consumer on the first of
them; the placement's preference sends it to the node holding its input, where it reads the
blob from the cache and fetches nothing.

The worker nodes are the session's shared ones (``_ray_cluster.SHARED``), taken over from the
module before or started for this one, and handed on to the next.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ray_cluster import SHARED, Cluster, RayHead, needs_ray, running
from test_ray_cluster_scheduling import MARKING

from airfoil.store._open import open_meta_store
from airfoil.store.blob import LocalBlobStore

pytestmark = needs_ray

RAY_NODES = SHARED  # two 2-CPU nodes and a 1-CPU node with a GPU, each with a cache folder


SIZE = 30 * 10**6

FLOW = MARKING + textwrap.dedent(
    """
    @af.task(requests=af.Resources(cpu=2))
    def hold(s: float) -> str:
        # Holds its node until the first consumer has run beside it (at most ``s`` seconds).
        mark("hold-start")
        until = time.monotonic() + s
        while time.monotonic() < until and "consume-first " not in open(LOG).read():
            time.sleep(0.05)
        return mark("hold-end")


    @af.task
    def kick() -> int:
        time.sleep(1.5)  # the long task takes its node first
        return @SIZE@


    @af.task(requests=af.Resources(cpu=1))
    def produce(n: int) -> bytes:
        mark("produce")
        return os.urandom(n)


    @af.task(requests=af.Resources(cpu=1))
    def consume(data: bytes, tag: str) -> int:
        mark(f"consume-{tag}")
        return len(data)


    @af.task
    def after(n: int, held: str) -> str:
        return "second"


    @af.workflow
    def wf() -> int:
        held = hold(s=@HOLD@)
        data = produce(n=kick())
        first = consume(data=data, tag="first")
        return consume(data=data, tag=after(n=first, held=held))
    """
)


@pytest.fixture
def cluster(ray_head: RayHead, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    yield from running(Cluster(ray_head, *RAY_NODES), request)


def _cached(cluster: Cluster) -> list[list[int]]:
    """The sizes of the blobs in each node's cache folder (not the records beside them)."""
    out = []
    for spec in cluster.specs:
        folder = spec.path("AIRFOIL_BLOB_CACHE_DIR", cluster.head)
        files = [p for p in folder.rglob("*") if p.is_file()]
        out.append(
            sorted(p.stat().st_size for p in files if "." not in p.name and p.parent.name != "tmp")
        )
    return out


@pytest.mark.timeout(300)
def test_a_second_task_reading_the_same_input_is_placed_on_its_node_and_fetches_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    flow = tmp_path / "localitywf.py"
    log = tmp_path / "marks.log"
    flow.write_text(
        FLOW.replace("@LOG@", str(log)).replace("@HOLD@", "15.0").replace("@SIZE@", str(SIZE))
    )
    home = tmp_path / "home"
    assert _cached(cluster) == [[], [], []], "the nodes' caches are empty to begin with"
    # The blob store is a folder on this machine: caching it stands for a network mount.
    env = dict(cluster.env, AIRFOIL_HOME=str(home), AIRFOIL_BLOB_CACHE_LOCAL="1")
    done = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
         "--ray-address", cluster.address, str(flow), "wf"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["phase"] == "succeeded", data
    assert data["outputs"]["o0"] == SIZE
    marks = {}
    for line in log.read_text().splitlines():
        what, node, _at = line.split()
        marks[what] = node
    held_on, near = marks["hold-start"], marks["consume-first"]
    assert marks["produce"] == near != held_on, "the first consumer ran beside the long task"
    assert {held_on, near} == {n.node_id for n in cluster.nodes[:2]}, "on the 2-CPU nodes"
    # Both nodes were empty when the second consumer was placed: best fit alone would have
    # chosen the long task's node (the first with room); the preference chose the cache.
    assert marks["consume-second"] == near

    meta = open_meta_store(None, str(home))
    try:
        attempts = meta.get_attempts(data["execution_id"])
    finally:
        meta.close()
    blobs = LocalBlobStore(str(home / "blobs"))
    logs = {a.node_id: blobs.get_bytes(a.log_uri).decode() for a in attempts if a.log_uri}
    first = next(text for text in logs.values() if _is(text, 1))
    second = next(text for text in logs.values() if _is(text, 2))
    assert f"({SIZE / 1e6:.1f} MB) fetched into this node's cache" in first, first
    assert f"({SIZE / 1e6:.1f} MB) read from this node's cache, nothing fetched" in second
    assert "fetched into" not in second, second
    # The blob sits in the cache of that node only (a 2-CPU node's: the first or second).
    sizes = _cached(cluster)
    assert sorted(sizes) == [[], [], [SIZE]] and sizes[2] == [], sizes


def _is(text: str, n: int) -> bool:
    """Whether an attempt's log is the ``n``-th consumer's (its cache notes, in order)."""
    notes = re.findall(r"airfoil: input blob .*", text)
    return len(notes) == 1 and ("fetched into" in notes[0]) == (n == 1)
