"""Objects a forked child must never release: their release acts on the parent's resources.

A child forked without exec holds copies of every object of its parent, and releasing one
there runs its finalizer (``weakref.finalize``, ``__del__``) in the child, on what the
parent still uses: a Ray actor handle that goes out of scope has the cluster kill the actor,
a connection closed there ends the parent's session on the socket both share. The child
drops references without asking: the fork itself frees the thread-locals (and the context
variables) of the parent's *other* threads, in C, before any fork hook runs, so whatever only
such a thread held is released in the child, under whatever code the fork interrupted.

:func:`keep_past_fork` registers an object so that it is referenced from just before every
fork (``os.register_at_fork``'s ``before``) and, in the child, kept for the child's whole
life: it is never released there (nor finalized, but at the child's exit: a finalizer that
runs then checks the process id it was made in). The parent drops the extra reference right
after the fork. Registering is cheap (a weak set); nothing happens at import.

The SQL store's connections have their own, finer hooks (``airfoil.store.sql._connect``:
the child abandons them and points their sockets at ``/dev/null``), and so have the stores'
SQLAlchemy engines (``airfoil.store.sql._engines``: a connection of another process is never
rolled back, closed nor handed out, and the child disposes of every engine without closing).

:func:`forked_from` is the check a finalizer makes before it releases what its process made
(it records ``os.getpid()`` when it makes it): in a forked child it does nothing.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref

__all__ = ["forked_from", "keep_past_fork"]

_lock = threading.Lock()
_kept: weakref.WeakSet[object] = weakref.WeakSet()
#: Referenced from before a fork to just after it (in the parent), or for good (the child).
_pinned: list[object] = []
_abandoned: list[object] = []


def forked_from(pid: int) -> bool:
    """Whether this process is a copy of process ``pid`` (a child forked from it), not
    ``pid`` itself: what ``pid`` made (an actor, a session, a directory, a key) is ``pid``'s
    to release, and a finalizer that runs here must leave it alone."""
    return os.getpid() != pid


def keep_past_fork(obj: object) -> None:
    """Never release ``obj`` in a process forked from this one (see the module docstring)."""
    with _lock:
        _kept.add(obj)
        _install_hooks()  # once (cached), on first use: nothing at import


@functools.cache
def _install_hooks() -> None:
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def _before_fork() -> None:
    # In the forking thread, before the fork: strong references the child inherits, which
    # outlive the thread-locals the fork frees there.
    with _lock:
        _pinned.extend(_kept)


def _after_fork_in_parent() -> None:
    _pinned.clear()


def _after_fork_in_child() -> None:
    global _lock, _kept
    _abandoned.extend(_pinned)  # the parent's: kept, never used, for the child's life
    _pinned.clear()
    _kept = weakref.WeakSet()  # what the child registers itself is the child's to keep
    _lock = threading.Lock()  # another thread of the parent's may have held it at the fork
