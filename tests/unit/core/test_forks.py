"""(adv26) :func:`airfoil.core.forks.keep_past_fork`: the fork frees the thread-locals of the
parent's other threads in the child, in C, before any fork hook runs, so an object only such
a thread held is released (finalized) in the child, on the parent's resources. A kept one is
never released in a child, and the parent keeps releasing it as before."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

import pytest

from airfoil.core.forks import forked_from, keep_past_fork

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
