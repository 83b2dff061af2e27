"""The one place a process handles ``fork``: what a forked child must never release.

A child forked without exec holds copies of every object of its parent, and releasing one
there runs its finalizer (``weakref.finalize``, ``__del__``) in the child, on what the
parent still uses: a Ray actor handle that goes out of scope has the cluster kill the actor,
a connection closed there ends the parent's session on the socket both share. The child
drops references without asking: the fork itself frees the thread-locals (and the context
variables) of the parent's *other* threads, in C, before any fork hook runs, so whatever only
such a thread held is released in the child, under whatever code the fork interrupted.

The rule, from the first :func:`keep_past_fork` or :func:`at_fork_in_child` of a process on
(nothing happens at import):

- **No collection from just before a fork to the end of the child's clean-up.** The
  collector is switched off in ``os.register_at_fork``'s ``before`` hook and back on (if it
  was on) right after the fork in the parent, and in the child once every ``in_child`` below
  has run: a collection in between (one an allocation inside the fork itself would start)
  would release the child's copy of the parent's garbage (a connection in a reference cycle)
  before the clean-up that makes releasing it harmless.
- **A registered object is kept past every fork.** :func:`keep_past_fork` references it from
  the ``before`` hook; in the child its ``in_child`` runs (registration order, collector off)
  and it is kept for the child's whole life: never released there (nor finalized, but at the
  child's exit). The parent drops the extra reference right after the fork. It stays
  registered in the child, so a grandchild runs its ``in_child`` too.
- **What a clean-up sets aside is kept for the process's life** (:func:`abandon`): a copy of
  the parent's connection, pool or socket that a child must neither use nor release.
- **A plain clean-up runs in every forked child** (:func:`at_fork_in_child`): what a module
  forgets there (a cached pid, a sink, a pipe it must not hold), after the kept objects' and
  before the collector is back on.
- **A finalizer checks the process it was made in** (:func:`forked_from`, with the
  ``os.getpid()`` recorded when it was made): in a forked child it releases nothing. It is
  what covers an object made while the fork began (not registered yet).

Its users: the Ray executor (kept: its release kills the actors), the SQL store's per-thread
connections (``airfoil.store.sql._connect``: in the child their sockets point at ``/dev/null``
and the stores forget them, so the child opens its own) and every SQLAlchemy engine of the
stores (``airfoil.store.sql._engines``: the child disposes of it without closing, and its pool
never rolls back, closes nor hands out a connection of another process). Plain clean-ups: the
server's zygote pipes (``airfoil.server._zygotes``), the worker's name, output sink and SIGINT
count (``airfoil.runtime``). No other module calls ``os.register_at_fork``.
"""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

__all__ = ["abandon", "at_fork_in_child", "forked_from", "keep_past_fork"]

_T = TypeVar("_T")
#: What a registered object's copy needs in a forked child (None: to be kept, nothing more).
_InChild = Callable[[Any], object] | None

#: Every registered object (a weak reference) and what its copy needs in a forked child. No
#: lock: a registration is one dict assignment, and the fork hook reads a copy (atomic).
_kept: dict[weakref.ref[Any], _InChild] = {}
#: Referenced from before a fork to just after it (in the parent), or for good (the child).
_pinned: list[tuple[Any, _InChild]] = []
#: What this process keeps, never used nor released, for its whole life (the parent's).
_abandoned: list[object] = []
#: What runs in every forked child (a dict: each once, in registration order), kept for good.
_child_hooks: dict[Callable[[], object], None] = {}
#: Whether the collector was on when a fork began (one entry per fork under way).
_collecting: list[bool] = []
_hooked = False
_hooking = threading.Lock()


def forked_from(pid: int) -> bool:
    """Whether this process is a copy of process ``pid`` (a child forked from it), not
    ``pid`` itself: what ``pid`` made (an actor, a session, a directory, a key) is ``pid``'s
    to release, and a finalizer that runs here must leave it alone."""
    return os.getpid() != pid


def keep_past_fork(obj: _T, in_child: Callable[[_T], object] | None = None) -> None:
    """Never release ``obj`` in a process forked from this one; there, ``in_child(obj)`` runs
    first, with the collector off (see the module docstring). ``in_child`` is kept as long as
    ``obj`` and must not reference it (an unbound method, not a bound one)."""
    _kept[weakref.ref(obj, _forget)] = in_child
    if not _hooked:
        _install_hooks()


def at_fork_in_child(fn: Callable[[], object]) -> None:
    """Run ``fn()`` in every process forked from this one (and from those), after the kept
    objects' ``in_child``, with the collector off. Registering it again does nothing."""
    _child_hooks[fn] = None
    if not _hooked:
        _install_hooks()


def _forget(ref: weakref.ref[Any]) -> None:
    _kept.pop(ref, None)


def abandon(obj: object) -> None:
    """Keep ``obj`` referenced, never used nor released, for the rest of this process's life:
    a forked child's copy of what its parent still uses."""
    _abandoned.append(obj)


def _install_hooks() -> None:
    """Once a process, on first use (nothing at import)."""
    global _hooked
    with _hooking:
        if not _hooked:
            os.register_at_fork(
                before=_before_fork,
                after_in_parent=_after_fork_in_parent,
                after_in_child=_after_fork_in_child,
            )
            _hooked = True


def _before_fork() -> None:
    # In the forking thread, before the fork: strong references the child inherits, which
    # outlive the thread-locals the fork frees there.
    _collecting.append(gc.isenabled())
    gc.disable()
    for ref, in_child in _kept.copy().items():
        obj = ref()
        if obj is not None:  # else released in this process already
            _pinned.append((obj, in_child))


def _after_fork_in_parent() -> None:
    _pinned.clear()
    _collect_again()


def _after_fork_in_child() -> None:
    failed: BaseException | None = None  # the first, raised once all have run
    try:
        calls: list[Callable[[], object]] = [
            partial(in_child, obj) for obj, in_child in _pinned if in_child is not None
        ]
        for call in [*calls, *_child_hooks.copy()]:
            try:
                call()
            except BaseException as exc:  # one failing clean-up does not skip the others
                failed = failed or exc
        if failed is not None:
            raise failed
    finally:
        _abandoned.extend(obj for obj, _ in _pinned)  # the parent's: for the child's life
        _pinned.clear()
        _collect_again()


def _collect_again() -> None:
    if _collecting and _collecting.pop():
        gc.enable()
