"""The console's cluster page in headless Chromium against a real server (``airfoil server
start``): the nodes of a Ray cluster an admitting process reported (a snapshot written to the
server's store, as a driver on a cluster writes it) with bars of what is held against each
node's capacity and what runs where, the server's own machine with a real run holding all
its CPUs, and the queue with the reason each waiting attempt waits. A screenshot goes to
test-output/console/ (docs/img/ when AIRFOIL_UPDATE_DOCS_IMG=1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

from _serve import Server, served  # noqa: E402
from test_console import browser, page  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]
OUT = (
    ROOT / "docs" / "img"
    if os.environ.get("AIRFOIL_UPDATE_DOCS_IMG") == "1"
    else ROOT / "test-output" / "console"
)
GIB = 2**30
CPUS = os.cpu_count() or 1

FLOW = textwrap.dedent(
    f"""
    import os
    import time

    import airfoil as af


    @af.task(requests=af.Resources(cpu={CPUS}))
    def hog(release: str, limit: float) -> int:
        # holds every CPU until the test creates `release` (`limit` s at most)
        deadline = time.monotonic() + limit
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.1)
        return 1


    @af.task(requests=af.Resources(cpu=1))
    def small(i: int) -> int:
        return i


    @af.workflow
    def busy(release: str, limit: float = 150.0) -> int:
        return hog(release=release, limit=limit)


    @af.workflow
    def smalls() -> list[int]:
        return af.map_task(small)(i=[1, 2])
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served(tmp_path_factory, "console-cluster", FLOW) as srv:
        yield srv


def _report_a_cluster(home: Path) -> None:
    """A snapshot as a process admitting on a 3-node Ray cluster writes it (on another host,
    so it is never taken for a dead local process)."""
    from airfoil.core.cluster import ClusterNode
    from airfoil.core.resources import ResourceSpec
    from airfoil.store._open import open_meta_store
    from airfoil.store._scheduling import NodeUsage, QueuedItem, QueueSnapshot

    head = ClusterNode("a1b2c3d4e5f6head", "10.0.0.1", head=True)
    n1 = ClusterNode("f00dcafe0001", "10.0.0.2", capacity=ResourceSpec(cpu=8.0, mem=32 * GIB))
    n2 = ClusterNode(
        "f00dcafe0002", "10.0.0.3", capacity=ResourceSpec(cpu=8.0, mem=32 * GIB, gpu=4),
        custom={"accelerator_type:A100": 1.0},
    )  # fmt: skip
    train = QueuedItem(
        execution_id="ex-train", node_id="n0", project="default", task="flow.train",
        requests=ResourceSpec(cpu=4.0, mem=8 * GIB, gpu=2), state="running",
        submit_time=1.0, placement=("f00dcafe0002",),
    )  # fmt: skip
    gang = QueuedItem(
        execution_id="ex-gang", node_id="n0", project="default", task="flow.ddp",
        requests=ResourceSpec(cpu=8.0), state="waiting", submit_time=2.0, workers=2,
        reason="no room now: needs 2 whole nodes of cpu=8; reserved from 10:42",
    )  # fmt: skip
    snap = QueueSnapshot(
        "ray-driver-host:4242:abc", 3.0, "airfoil", ResourceSpec(cpu=16.0, gpu=4),
        (gang, train),
        (
            NodeUsage(head),
            NodeUsage(n1),
            NodeUsage(n2, ResourceSpec(cpu=4.0, mem=8 * GIB, gpu=2), ("ex-train/n0",)),
        ),
    )  # fmt: skip
    meta = open_meta_store(None, str(home))
    try:
        meta.put_queue_snapshot(snap)
    finally:
        meta.close()


def test_the_cluster_page_shows_nodes_bars_placements_and_the_queue(
    server: Server,
    page: Any,  # noqa: F811
) -> None:
    _report_a_cluster(server.home)

    def launch(workflow: str, *args: str, name: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "airfoil.cli", "run", "--remote", "--server", server.url,
             *name, "flow.py", workflow, *args],
            env=server.env, cwd=server.work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    # The hog first, alone: the small items launched once it holds every CPU must wait (in
    # one workflow the policy may start the small items first, and nothing waits). It holds
    # them until the page was checked: it slept 12 s, and under load the small items'
    # `run --remote` (an interpreter, the package, register, launch) took as long, so the
    # hog was done before they were queued and none ever waited.
    release = server.work / "release-the-hog"
    runs = [launch("busy", "--release", str(release))]
    try:
        pg = page
        pg.goto(f"{server.url}/projects/default/cluster")
        nodes = pg.locator("table.cluster-nodes tbody tr")
        # the reported cluster's 3 nodes, and this server's machine once its run holds it
        pg.wait_for_function(
            "() => [...document.querySelectorAll('table.cluster-nodes tbody tr')]"
            ".some(r => r.textContent.includes('/busy') || r.querySelector('.running-ref'))"
            " && document.querySelectorAll('table.cluster-nodes tbody tr').length >= 4"
            " && document.querySelector('.cap-bar.cpu[data-used=\"" + f"{CPUS}" + "\"]')",
            timeout=60_000,
        )
        runs.append(launch("smalls", name=("--name", "smalls-1")))
        gpu_node = pg.locator('tr[data-node="f00dcafe0002"]')
        bar = gpu_node.locator(".cap-bar.gpu")
        assert bar.get_attribute("data-used") == "2" and bar.get_attribute("data-total") == "4"
        width = gpu_node.locator(".cap-bar.gpu .cap-fill").evaluate("e => e.style.width")
        assert width == "50%"
        assert "ex-train/n0" in gpu_node.inner_text()
        assert "accelerator_type:A100=1" in gpu_node.inner_text()
        assert "head" in pg.locator('tr[data-node="a1b2c3d4e5f6head"]').inner_text()
        assert nodes.count() >= 4
        # the queue: the waiting gang with its reason, the train placed on its node's address
        waiting = pg.locator('table.cluster-queue tr[data-state="waiting"]').first
        waiting.wait_for()
        assert "2 whole nodes" in pg.locator("table.cluster-queue").inner_text()
        assert "2 \u00d7 cpu=8" in pg.locator("table.cluster-queue").inner_text()
        placed = pg.locator("table.cluster-queue tr", has_text="ex-train")
        assert "on 10.0.0.3" in placed.inner_text()
        # this machine's run: the hog holds every CPU, the small items wait with a reason
        pg.wait_for_function(
            "() => [...document.querySelectorAll('table.cluster-queue tr[data-state=waiting]')]"
            ".filter(r => r.querySelector('.reason').textContent.trim()).length >= 2",
            timeout=60_000,
        )
        # a queued attempt's run is shown and linked by its name (main: by its global id)
        named = pg.locator('table.cluster-queue a[href*="/executions/smalls-1?node="]').first
        assert named.inner_text() == "smalls-1"
        OUT.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(OUT / "cluster-page.png"), full_page=True)
        assert pg.locator(".util-now").inner_text().endswith("%")
    finally:
        release.touch()
        ended = [run.communicate(timeout=180) for run in runs]
    for run, (_out, err) in zip(runs, ended, strict=True):
        assert run.returncode == 0, err
