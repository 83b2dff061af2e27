"""(adv26) :func:`airfoil.core.forks.keep_past_fork`: the fork frees the thread-locals of the
parent's other threads in the child, in C, before any fork hook runs, so an object only such
a thread held is released (finalized) in the child, on the parent's resources. A kept one is
never released in a child, and the parent keeps releasing it as before."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable

import pytest

from airfoil.core.forks import abandon, at_fork_in_child, forked_from, keep_past_fork

pytestmark = pytest.mark.unit


class Resource:
    """Stands for what the parent shares with a child (an actor, a session)."""


def _in_another_threads_local(
    keep: bool, finalized: Callable[[], None]
) -> tuple[threading.Event, threading.Thread, list[weakref.ref[Resource]]]:
    """A thread that holds a new :class:`Resource` (its only reference, in a thread-local)
    until the returned event is set."""
    local = threading.local()
    ready, go = threading.Event(), threading.Event()
    refs: list[weakref.ref[Resource]] = []

    def hold() -> None:
        local.resource = Resource()
        weakref.finalize(local.resource, finalized)
        if keep:
            keep_past_fork(local.resource)
        refs.append(weakref.ref(local.resource))
        ready.set()
        go.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    assert ready.wait(30)
    return go, thread, refs


def _finalized_in_child(keep: bool) -> tuple[bool, bool]:
    """Whether the resource was finalized in a forked child, and whether the parent still
    held it after the child exited."""
    read, write = os.pipe()
    parent = os.getpid()

    def finalized() -> None:
        if os.getpid() != parent:
            os.write(write, b"x")

    go, thread, refs = _in_another_threads_local(keep, finalized)
    try:
        child = os.fork()
        if child == 0:  # the thread's locals are gone here already
            os._exit(0)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        os.close(write)
        in_child = os.read(read, 1) == b"x"
        alive_in_parent = refs[0]() is not None
    finally:
        go.set()
        thread.join(30)
        os.close(read)
    assert refs[0]() is None  # the parent released it when its thread ended
    return in_child, alive_in_parent


def test_an_object_only_another_thread_holds_is_released_in_a_forked_child() -> None:
    """The hazard itself: what keep_past_fork is for."""
    assert _finalized_in_child(keep=False) == (True, True)


def test_a_kept_object_is_never_released_in_a_forked_child() -> None:
    assert _finalized_in_child(keep=True) == (False, True)


def test_forked_from_is_true_in_a_forked_child_only() -> None:
    """(adv27) The check a finalizer makes before releasing what its process made."""
    parent = os.getpid()
    assert not forked_from(parent)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os._exit(0 if forked_from(parent) and not forked_from(os.getpid()) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _child_reports(child: Callable[[], bytes]) -> bytes:
    """What ``child()`` returns in a forked child (which then exits at once)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, child())
        finally:
            os._exit(0)
    os.close(write)
    try:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return os.read(read, 1024)
    finally:
        os.close(read)


class Cleaned:
    """A kept object whose clean-up in a forked child records whether the collector ran."""

    def __init__(self) -> None:
        self.collecting: list[bool] = []

    def clean(self) -> None:
        self.collecting.append(gc.isenabled())


def test_a_kept_objects_clean_up_runs_in_the_child_with_the_collector_off() -> None:
    """(fork1) No collection from before the fork to the end of the child's clean-up; the
    collector is on again after it, in the child and in the parent."""
    kept = Cleaned()
    keep_past_fork(kept, Cleaned.clean)
    assert gc.isenabled()
    assert _child_reports(lambda: repr((kept.collecting, gc.isenabled())).encode()) == (
        b"([False], True)"
    )
    assert kept.collecting == [] and gc.isenabled()  # the parent's copy is not cleaned


def test_a_collector_paused_at_the_fork_stays_paused() -> None:
    keep_past_fork(Cleaned(), Cleaned.clean)
    gc.disable()
    try:
        assert _child_reports(lambda: repr(gc.isenabled()).encode()) == b"False"
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_grandchild_cleans_up_what_the_parent_kept() -> None:
    """(fork1) A child that goes on using what its parent kept (a store, an engine) forks
    too: the grandchild's copy is cleaned up again."""
    kept = Cleaned()
    keep_past_fork(kept, Cleaned.clean)
    assert (
        _child_reports(lambda: _child_reports(lambda: repr(kept.collecting).encode()))
        == b"[False, False]"
    )


def test_what_a_child_abandons_is_never_released_there() -> None:
    def child() -> bytes:
        ref = weakref.ref(resource := Resource())
        abandon(resource)
        del resource
        gc.collect()
        return b"kept" if ref() is not None else b"released"

    assert _child_reports(child) == b"kept"


def test_registrations_in_other_threads_while_forking_leave_the_hooks_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(fork1) The ``before`` hook reads the registrations while other threads add (and
    release) theirs: no fork hook fails, and every fork still pins and cleans up what was
    kept before it began."""
    failed: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", failed.append)  # a fork hook's exception
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the other threads run inside the hook's read, if they can
    kept = Cleaned()
    keep_past_fork(kept, Cleaned.clean)
    many = [Cleaned() for _ in range(20_000)]  # a long read for the hook
    for each in many:
        keep_past_fork(each)
    stop = threading.Event()

    def register() -> None:
        while not stop.is_set():
            keep_past_fork(Cleaned(), Cleaned.clean)  # released at once, as a thread's are

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        reports = [_child_reports(lambda: repr(kept.collecting).encode()) for _ in range(20)]
    finally:
        sys.setswitchinterval(switch)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failed == []
    assert set(reports) == {b"[False]"}


def test_a_plain_clean_up_runs_once_in_every_forked_child_with_the_collector_off() -> None:
    """(fork2) :func:`at_fork_in_child`: what a module forgets in a child (a cached pid, a
    sink), registered twice, runs once per fork, in a grandchild too, never in the parent."""
    ran: list[bool] = []

    def forget() -> None:
        ran.append(gc.isenabled())

    at_fork_in_child(forget)
    at_fork_in_child(forget)
    assert _child_reports(lambda: repr(ran).encode()) == b"[False]"
    assert _child_reports(lambda: _child_reports(lambda: repr(ran).encode())) == (b"[False, False]")
    assert ran == [] and gc.isenabled()


def test_a_failing_clean_up_does_not_skip_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """(fork2) Each clean-up runs though one before it raised (as separate fork hooks did):
    the error is reported (the fork hook's unraisable), the collector is on again after."""
    failed: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", failed.append)

    def fail(_: object) -> None:
        raise OSError("no descriptor left")

    ran: list[str] = []
    kept, cleaned = Resource(), Cleaned()
    keep_past_fork(kept, fail)
    keep_past_fork(cleaned, Cleaned.clean)
    at_fork_in_child(lambda: ran.append("hook"))

    def child() -> bytes:
        errors = [type(getattr(f, "exc_value", None)).__name__ for f in failed]
        return repr((cleaned.collecting, ran, errors, gc.isenabled())).encode()

    assert _child_reports(child) == b"([False], ['hook'], ['OSError'], True)"
    assert failed == []  # the parent ran none


#: The modules that clean up in a forked child; none may register a fork hook at import.
_FORKING_MODULES = (
    "airfoil.core.forks",
    "airfoil.server._zygotes",
    "airfoil.runtime.worker",
    "airfoil.runtime._capture",
    "airfoil.runtime._sigint",
    "airfoil.store.sql",
    "airfoil.executors.ray",
)


def test_nothing_registers_a_fork_hook_at_import() -> None:
    """(fork2) A process that never uses them pays no fork hook (the zygotes' was installed
    at import); each goes through airfoil.core.forks, on first use."""
    script = (
        "import os, importlib\n"
        "calls = []\n"
        "def register(**hooks):\n"  # the standard library's own (random, logging) aside
        "    calls.extend(f.__module__ for f in hooks.values())\n"
        "os.register_at_fork = register\n"
        f"for name in {_FORKING_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print([m for m in calls if m.startswith('airfoil')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
