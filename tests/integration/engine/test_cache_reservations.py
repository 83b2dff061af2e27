"""``cache_serialize`` reservations are renewed with their drive's lease: a task that runs
longer than the reservation's time to live keeps it (its twin waits and hits), and a killed
holder's reservation lapses as its lease does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import airfoil as af
from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration

RUNS: list[float] = []


@af.task(cache=True, cache_serialize=True)
def slow_square(x: int) -> int:
    RUNS.append(time.time())
    time.sleep(2.5)
    return x * x


@af.workflow
def squared(x: int = 3) -> int:
    return slow_square(x=x)


def test_a_task_longer_than_its_reservation_keeps_it(tmp_path: Path) -> None:
    # Before, a reservation was taken once for cache_reservation_ttl_s and never renewed:
    # once it lapsed under a running holder, the waiting twin reserved the key and ran the
    # task again (2 runs here, with a 1 s reservation and a 2.5 s task).
    RUNS.clear()
    meta = MemoryMetaStore()
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    settings = EngineSettings(lease_ttl_s=0.3, cache_reservation_ttl_s=1.0)

    def engine() -> Engine:
        executor = InlineExecutor(blobs, WorkerRuntime(codecs=types))
        return Engine(
            meta, blobs, executor, blob_url=str(tmp_path / "blobs"), types=types, settings=settings
        )

    inputs = {"x": types.to_value(3, int, ValueContext(blobs=blobs))}
    first, second = engine(), engine()
    a = first.launch(spec_of(squared), inputs, execution_id="a")
    b = second.launch(spec_of(squared), inputs, execution_id="b")
    ended: dict[str, str] = {}

    def drive(e: Engine, eid: str) -> None:
        ended[eid] = e.drive(eid).phase

    ta = threading.Thread(target=drive, args=(first, a.id))
    ta.start()
    deadline = time.time() + 10
    while not RUNS and time.time() < deadline:  # the holder has reserved and started
        time.sleep(0.01)
    tb = threading.Thread(target=drive, args=(second, b.id))
    tb.start()
    ta.join(30)
    tb.join(30)
    assert ended == {"a": "succeeded", "b": "succeeded"}
    assert len(RUNS) == 1, "the twin waited for the holder's result instead of running again"
    statuses = {eid: meta.get_node(eid, "n0").cache_status for eid in ("a", "b")}
    assert statuses == {"a": "put", "b": "hit"}


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=110
    )


_RESUMABLE = """
import os, sys, time
import airfoil as af

@af.task(cache=True, cache_serialize=True)
def slow(x: int) -> int:
    with open(os.environ["CALLS_LOG"], "a") as fh:
        fh.write("start\\n")
    if not os.path.exists(os.environ["CALLS_LOG"] + ".resumed"):
        time.sleep(120)  # killed here
    return x + 1

@af.workflow
def wf(x: int = 1) -> int:
    return slow(x=x)

if __name__ == "__main__":
    from airfoil.engine.local import convert_inputs, spec_of
    from airfoil.engine.runner import Engine, EngineSettings
    from airfoil.local import get_runtime
    from airfoil.sdk._versioning import project_root

    rt = get_runtime()
    engine = Engine(
        rt.meta, rt.blobs, rt.executor("inline"), blob_url=rt.blob_url,
        settings=EngineSettings(lease_ttl_s=1.0, cache_reservation_ttl_s=90.0),
        resources=rt.resources,
    )
    if sys.argv[1] == "launch":
        rec = engine.launch(
            spec_of(wf), convert_inputs(wf, {}, rt), execution_id="res1",
            code_root=project_root(wf.module),
        )
    started = time.monotonic()
    phase = engine.drive("res1").phase
    print(phase, round(time.monotonic() - started, 1), flush=True)
    rt.close()
"""


@pytest.mark.timeout(150)
def test_a_resumed_execution_takes_back_its_own_reservation_at_once(tmp_path: Path) -> None:
    # The reservation's owner names the driver (host:pid:nonce/execution): a driver that
    # resumed an execution after its first driver was killed waited for the dead driver's
    # reservation of the execution's own task to lapse (cache_reservation_ttl_s, 120 s by
    # default, 90 s here) before running it again, though it holds the execution's lease.
    script = tmp_path / "resflow.py"
    script.write_text(_RESUMABLE)
    log = tmp_path / "calls.log"
    env = dict(os.environ, CALLS_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))
    first = subprocess.Popen(
        [sys.executable, str(script), "launch"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 60
        while not (log.exists() and "start" in log.read_text()):
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    (tmp_path / "calls.log.resumed").write_text("")
    time.sleep(1.5)  # the killed driver's 1 s lease lapses
    resumed = _python(env, str(script), "resume")
    assert resumed.returncode == 0, resumed.stderr
    phase, took = resumed.stdout.split()
    assert phase == "succeeded"
    assert float(took) < 30, f"the resumed drive waited {took} s for its own reservation"
    assert log.read_text().splitlines() == ["start", "start"]


_TWINS = """
import os, time
import airfoil as af

@af.task(cache=True, cache_serialize=True)
def slow(x: int) -> int:
    with open(os.environ["CALLS_LOG"], "a") as fh:
        fh.write("start\\n")
    time.sleep(2)
    return x + 1

@af.task
def add(a: int, b: int) -> int:
    return a + b

@af.workflow
def twins(x: int = 1) -> int:
    return add(a=slow(x=x), b=slow(x=x))
"""


@pytest.mark.timeout(120)
def test_twins_in_one_execution_run_once(tmp_path: Path) -> None:
    # Both nodes' reservations carry the drive's owner, and the store answers an owner that
    # holds a key with that owner: both ran (put, put) where the docs promise one run.
    (tmp_path / "twinflow.py").write_text(_TWINS)
    log = tmp_path / "calls.log"
    env = dict(os.environ, CALLS_LOG=str(log), AIRFOIL_HOME=str(tmp_path / "home"))
    run = ["run", "--json", "--executor", "process", str(tmp_path / "twinflow.py"), "twins"]
    done = _python(env, "-m", "airfoil.cli", *run)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outputs"] == {"o0": 4}
    statuses = sorted(n["cache"] for n in result["nodes"] if n["id"] in ("n0", "n1"))
    assert statuses == ["hit", "put"]
    assert log.read_text().splitlines() == ["start"]
