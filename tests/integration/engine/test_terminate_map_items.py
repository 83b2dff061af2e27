"""An abort stops a map's running items, not only its plain tasks' attempts, and the map
shows them aborted.

A terminate request ends the drive; ``abort_and_cancel`` then aborts the execution and
cancels the attempts it had with the executor. It cancelled the running *nodes'* attempts
(``n0``), but a map's items run as attempts of their own (``n0[2]``): on a server, whose
worker pool outlives the drive, every item of an aborted map ran on to its end (its worker
busy, whatever it started alive) after the execution read ``aborted``; and the map went on
showing ``4 items: 4 running`` (its counts and its items' attempts as the drive left them).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

import airfoil as af
from airfoil.engine.control import TerminateWatch, drive_watched, request_terminate
from airfoil.local import convert_inputs, get_runtime, spec_of

pytestmark = pytest.mark.integration

ITEMS = 3
RUNNING = 2  # the items running at once: the process executor runs at least 2 attempts


@af.task
def sleepy_item(job: str) -> int:
    folder, i = job.rsplit("/", 1)
    Path(folder, f"{i}.pid").write_text(str(os.getpid()))
    time.sleep(120)
    return int(i)


@af.workflow
def sleepy_map(jobs: list[str]) -> list[int]:
    return af.map_task(sleepy_item)(job=jobs)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_an_abort_stops_the_running_items_of_a_map(tmp_path: Path) -> None:
    rt = get_runtime()
    executor = rt.new_executor("process")  # outlives the drive, as a server's pool does
    try:
        watch = TerminateWatch(executor, rt.meta, "")
        engine = rt.engine(watch)
        inputs = convert_inputs(sleepy_map, {"jobs": [f"{tmp_path}/{i}" for i in range(ITEMS)]}, rt)
        record = engine.launch(spec_of(sleepy_map), inputs)
        ended: list[object] = []
        driving = threading.Thread(
            target=lambda: ended.append(drive_watched(engine, watch, record.id)), daemon=True
        )
        driving.start()
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.pid"))) < RUNNING:
            assert time.monotonic() < deadline and driving.is_alive(), "the items never ran"
            time.sleep(0.05)
        pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        request_terminate(rt.meta, rt.meta.get_execution(record.id), "aborted by the test", 0.0)
        driving.join(30)
        assert not driving.is_alive()
        (final,) = ended
        assert getattr(final, "phase", None) == "aborted", final
        # what the map shows: no item running (or queued) in an aborted map, nor an attempt
        counts = rt.meta.get_node(record.id, "n0").map_counts
        assert counts == {"aborted": ITEMS}, counts
        attempts = {a.node_id: a.phase for a in rt.meta.get_attempts(record.id)}
        assert set(attempts.values()) == {"aborted"}, attempts
        deadline = time.monotonic() + 10
        while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
            executor.poll(0.1)  # reaps the cancelled workers, as the pool's next turn does
        assert [pid for pid in pids if not gone(pid)] == [], "items still running"
        assert len(list(tmp_path.glob("*.pid"))) == len(pids)  # no item started after it
    finally:
        executor.close()
