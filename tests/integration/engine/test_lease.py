"""The driver's lease holds while a task runs longer than it (issue 9, defect 1): a heartbeat
renews it independently of the loop, and every batch is fenced by it inside its transaction."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from airfoil.core.errors import ConflictError
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    EventRecord,
    ExecutionRecord,
    Interface,
    StoreBatch,
    WorkflowSpec,
)
from airfoil.engine.launcher import take_lease
from airfoil.store._open import open_meta_store
from airfoil.store.base import MetaStore
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.integration

WORKFLOW = textwrap.dedent(
    """
    import ctypes, os, time
    import airfoil as af

    def mark(what):
        with open(os.environ["CALLS_LOG"], "a") as fh:
            fh.write(what + "\\n")

    @af.task
    def slow(x: int) -> int:
        mark("start")
        if os.environ.get("HOLD_GIL"):
            # C code that keeps the GIL (a PyDLL call does): no other thread of this
            # process runs, the lease's heartbeat included, until it returns
            ctypes.PyDLL(None).sleep(int(os.environ["SLEEP_S"]))
        else:
            # runs until the test has tried its resume (at most 90 s): however slow a
            # loaded machine starts that CLI process, the task is still running when it asks
            deadline = time.time() + 90
            while not os.path.exists(os.environ["GO_FILE"]) and time.time() < deadline:
                time.sleep(0.05)
        mark("end")
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return slow(x=x)
    """
)

DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    import leasewf
    from airfoil.engine.local import convert_inputs, spec_of
    from airfoil.local import get_runtime
    from airfoil.engine.runner import Engine, EngineSettings
    from airfoil.sdk._versioning import project_root

    rt = get_runtime()
    engine = Engine(
        rt.meta, rt.blobs, rt.executor(sys.argv[1]), blob_url=rt.blob_url,
        settings=EngineSettings(lease_ttl_s=2.0), resources=rt.resources,
    )
    wf = leasewf.wf
    rec = engine.launch(
        spec_of(wf), convert_inputs(wf, {}, rt), execution_id="lease1",
        code_root=project_root(wf.module),
    )
    print(engine.drive(rec.id).phase, flush=True)
    rt.close()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("executor", "hold_gil"), [("inline", False), ("process", False), ("inline", True)]
)
@pytest.mark.timeout(120)
def test_resume_during_a_task_longer_than_the_lease_is_refused(
    tmp_path: Path, executor: str, hold_gil: bool
) -> None:
    """Also when the task is C code holding the GIL in the driver's own process (the inline
    executor): its heartbeat cannot run, the lease lapses, and yet the driver is alive."""
    (tmp_path / "leasewf.py").write_text(WORKFLOW)
    (tmp_path / "drive.py").write_text(DRIVER)
    log = tmp_path / "calls.log"
    go = tmp_path / "go"
    env = dict(os.environ, CALLS_LOG=str(log), GO_FILE=str(go), AIRFOIL_HOME=str(tmp_path / "home"))
    if hold_gil:  # no file can end a sleep holding the GIL: 20 s, ~15 s for the resume
        env.update(HOLD_GIL="1", SLEEP_S="20")
    driver = subprocess.Popen(
        [sys.executable, str(tmp_path / "drive.py"), executor, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while not (log.exists() and "start" in log.read_text()):
            assert time.time() < deadline and driver.poll() is None, driver.stderr
            time.sleep(0.05)
        time.sleep(5)  # well past the 2 s lease: only the heartbeat keeps it
        resumed = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "executions", "resume", "lease1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "end" not in log.read_text()  # the task was still running when resume asked
        go.touch()
        out, err = driver.communicate(timeout=60)
    finally:
        go.touch()
        if driver.poll() is None:
            driver.kill()
    assert resumed.returncode != 0, resumed.stdout
    assert "being driven by another engine" in resumed.stderr
    assert driver.returncode == 0, err
    assert out.strip() == "succeeded"
    assert log.read_text().splitlines() == ["start", "end"]  # the node ran once


def _execution(eid: str) -> ExecutionRecord:
    spec = WorkflowSpec(name="wf", version="v1", interface=Interface(), nodes=(), outputs={})
    return ExecutionRecord(
        id=eid, workflow="wf", version="v1", phase="running", spec=spec, inputs={}, created_at=0.0
    )


def _event(eid: str, seq: int) -> EventRecord:
    return EventRecord(
        execution_id=eid, seq=seq, at=1.0, kind="execution", to_phase="running", cause="t"
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_batch_fenced_by_a_lost_lease_writes_nothing(tmp_path: Path, backend: str) -> None:
    meta: MetaStore = (
        MemoryMetaStore()
        if backend == "memory"
        else open_meta_store(f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path))
    )
    meta.write(StoreBatch(execution=_execution("e1"), events=[_event("e1", 1)]))
    assert meta.acquire_lease("e1", "old", 0.0, 1.0)
    # The old driver stalls past its lease; another engine takes the execution over.
    assert meta.acquire_lease("e1", "new", 5.0, 1.0)
    stale = StoreBatch(events=[_event("e1", 2)], lease=("e1", "old"))
    with pytest.raises(ConflictError, match="lost the lease"):
        meta.write(stale)
    assert [e.seq for e in meta.get_events("e1")] == [1]
    meta.write(StoreBatch(events=[_event("e1", 2)], lease=("e1", "new")))
    assert [e.seq for e in meta.get_events("e1")] == [1, 2]
    assert meta.get_execution("e1").phase == ExecutionPhase.RUNNING.value
    meta.close()


@pytest.mark.timeout(60)
def test_a_lapsed_lease_is_taken_from_a_stopped_or_exited_holder_only() -> None:
    """What ``take_lease`` makes of a lapsed lease held by a process of this host: a running
    one keeps it (its heartbeat may be starved by a task holding the GIL), a stopped one
    (Ctrl-Z) or one that exited loses it, and so does a pid now held by a younger program."""
    meta = MemoryMetaStore()
    for eid in ("e1", "e2", "e3"):
        meta.write(StoreBatch(execution=_execution(eid), events=[_event(eid, 1)]))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        born = psutil.Process(holder.pid).create_time()
        owner = f"{socket.gethostname()}:{holder.pid}:nonce"
        now = born + 100.0
        assert meta.acquire_lease("e1", owner, born + 1.0, 1.0)  # lapsed 98 s ago
        with pytest.raises(ConflictError, match=f"process {holder.pid} of this host"):
            take_lease(meta, "e1", "resumer", now, 30.0)
        assert meta.get_lease("e1") == (owner, born + 2.0)
        # a lease that lapsed before the process of that pid began: the pid was reused
        assert meta.acquire_lease("e2", owner, born - 100.0, 1.0)
        take_lease(meta, "e2", "resumer", now, 30.0)
        assert meta.get_lease("e2") == ("resumer", now + 30.0)
        # stopped (Ctrl-Z): taken over, its fenced writes fail when it continues
        os.kill(holder.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while psutil.Process(holder.pid).status() != psutil.STATUS_STOPPED:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        take_lease(meta, "e1", "resumer", now, 30.0)
        assert meta.get_lease("e1") == ("resumer", now + 30.0)
        # exited: taken over at once, even before the lease lapses
        assert meta.acquire_lease("e3", owner, now, 30.0)
    finally:
        holder.kill()
        holder.wait()
    take_lease(meta, "e3", "resumer", now + 1.0, 30.0)
    assert meta.get_lease("e3") == ("resumer", now + 31.0)


def _holder_owner(proc: subprocess.Popen[str]) -> str:
    """The lease holder name ``proc`` (started by ``_named_holder``) gave itself."""
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _named_holder() -> subprocess.Popen[str]:
    code = (
        "import time; from airfoil.engine._drive_support import process_owner; "
        "print(process_owner(), flush=True); time.sleep(60)"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _remark(owner: str, start: str | None = None, space: str | None = None) -> str:
    """``owner`` with another start or pid namespace in its process mark."""
    host, pid, nonce = owner.split(":")
    mark, _, rand = nonce.partition("-")
    old_start, _, old_space = mark.partition(".")
    return f"{host}:{pid}:{start or old_start}.{space or old_space}-{rand}"


def _other(b36: str) -> str:
    """Another base-36 number than ``b36`` (of the same length)."""
    return ("1" if b36[0] != "1" else "2") + b36[1:]


@pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="needs Linux's /proc")
@pytest.mark.timeout(60)
def test_a_holder_is_told_from_another_process_with_its_pid() -> None:
    """A holder names its process (its start, its pid namespace): a process of its pid that is
    not it (a pid reused, or the holder in another pid namespace under the same host name,
    as containers with host networking are) neither keeps a lapsed lease from being taken
    nor lets a lease be taken before it lapses. The holder itself is told as before."""
    meta = MemoryMetaStore()
    for eid in ("real", "reused", "space", "free", "gone"):
        meta.write(StoreBatch(execution=_execution(eid), events=[_event(eid, 1)]))
    holder = _named_holder()
    try:
        owner = _holder_owner(holder)
        born = psutil.Process(holder.pid).create_time()
        now = born + 100.0
        start, _, space = owner.split(":")[2].partition("-")[0].partition(".")
        # the holder itself, running past its lapsed lease: refused
        assert meta.acquire_lease("real", owner, born + 1.0, 1.0)
        with pytest.raises(ConflictError, match=f"process {holder.pid} of this host"):
            take_lease(meta, "real", "resumer", now, 30.0)
        # its pid, another start (reused): lapsed, taken; not lapsed, kept
        reused = _remark(owner, start=_other(start))
        assert meta.acquire_lease("reused", reused, born + 1.0, 1.0)
        take_lease(meta, "reused", "resumer", now, 30.0)
        assert meta.get_lease("reused") == ("resumer", now + 30.0)
        # the pid of another pid namespace's holder is a process here: the same
        elsewhere = _remark(owner, space=_other(space))
        assert meta.acquire_lease("space", elsewhere, born + 1.0, 1.0)
        take_lease(meta, "space", "resumer", now, 30.0)
        assert meta.get_lease("space") == ("resumer", now + 30.0)
        assert meta.acquire_lease("free", elsewhere, now, 30.0)
        with pytest.raises(ConflictError, match="being driven by another engine"):
            take_lease(meta, "free", "resumer", now + 1.0, 30.0)
        assert meta.get_lease("free") == (elsewhere, now + 30.0)
        assert meta.acquire_lease("gone", owner, now, 30.0)
    finally:
        holder.kill()
        holder.wait()
    # a pid free here says nothing of a holder of another pid namespace: kept till it lapses
    with pytest.raises(ConflictError, match="being driven by another engine"):
        take_lease(meta, "free", "resumer", now + 1.0, 30.0)
    # the holder exited (its pid is free in its own pid namespace): taken at once
    take_lease(meta, "gone", "resumer", now + 1.0, 30.0)
    assert meta.get_lease("gone") == ("resumer", now + 31.0)


def _free_pid() -> int:
    """A pid no process of this host holds now."""
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid -= 1
    return pid


@pytest.mark.skipif(not Path("/proc/self/ns/pid").exists(), reason="needs Linux's /proc")
def test_a_live_holder_on_another_machine_of_the_same_host_name_keeps_its_lease() -> None:
    """Two machines may share a host name (a default container or VM image, ``localhost``),
    and every machine's initial pid namespace has the same inode (the kernel's constant
    PROC_PID_INIT_INO), so a holder's ``start.namespace`` mark matched this machine's: a
    holder on the other machine whose pid is free here was taken for one of this machine
    that exited, and its lease (not lapsed: it was renewing it) was taken at once, the
    execution then driven twice. Fails on main (taken). The mark now names the machine's
    boot too (``/proc/sys/kernel/random/boot_id``): another boot cannot be told, so the
    lease's expiry decides."""
    from airfoil.engine._drive_support import process_owner

    meta = MemoryMetaStore()
    for eid in ("older", "other-boot", "this-boot"):
        meta.write(StoreBatch(execution=_execution(eid), events=[_event(eid, 1)]))
    mine = process_owner()
    host, _, nonce = mine.split(":")
    mark, _, rand = nonce.partition("-")
    start, _, space = mark.partition(".")
    ns = space.partition(".")[0]
    pid = _free_pid()
    now = time.time()
    # the remote holder as main names itself: its start and the shared namespace inode
    older = f"{host}:{pid}:{_other(start)}.{ns}-{rand}"
    # as this code names it: its machine's boot differs from this one's
    boot = space.partition(".")[2]
    assert boot, f"no boot in the mark {mine!r}"
    other_boot = f"{host}:{pid}:{_other(start)}.{ns}.{_other(boot)}-{rand}"
    for eid, owner in (("older", older), ("other-boot", other_boot)):
        assert meta.acquire_lease(eid, owner, now, 30.0)  # renewed just now
        with pytest.raises(ConflictError, match="being driven by another engine"):
            take_lease(meta, eid, "resumer", now + 1.0, 30.0)
        assert meta.get_lease(eid) == (owner, now + 30.0)
    # a holder of this machine's boot whose pid is free here did exit: taken at once
    gone = f"{host}:{pid}:{_other(start)}.{space}-{rand}"
    assert meta.acquire_lease("this-boot", gone, now, 30.0)
    take_lease(meta, "this-boot", "resumer", now + 1.0, 30.0)
    assert meta.get_lease("this-boot") == ("resumer", now + 31.0)
