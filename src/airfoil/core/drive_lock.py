"""The lock that lets one thread at a time drive an inline run's loop, handed down to the
threads that run nested ``async`` attempts.

An async task awaits its children from threads of its own (``asyncio.to_thread``), each of
which may drive the loop, so driving is serialised. But a driving thread that runs an async
attempt while an event loop already runs in it (an async task whose child is async) runs that
attempt in a new thread and blocks until it ends: that thread must be able to drive the loop
(its task's own child calls) although the blocked thread holds the lock, or both wait forever.

So the lock is held by a *lineage*, not a thread: each thread carries a token (a context
variable); :func:`nested` gives the thread of a nested attempt a token whose parent is the
blocked thread's, and the lock lets a token in while one of its ancestors holds it (that
ancestor is blocked on it). Threads that wait concurrently (``asyncio.to_thread``) get fresh
tokens (:func:`concurrent`), so they take turns as before.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DriveLock", "concurrent", "nested"]

R = TypeVar("R")


class _Token:
    __slots__ = ("parent",)

    def __init__(self, parent: _Token | None) -> None:
        self.parent = parent


_TOKEN: contextvars.ContextVar[_Token | None] = contextvars.ContextVar(
    "airfoil_drive_token", default=None
)


def _token() -> _Token:
    token = _TOKEN.get()
    if token is None:
        token = _Token(None)
        _TOKEN.set(token)
    return token


def nested(fn: Callable[..., R]) -> Callable[..., R]:
    """``fn`` to run in a new thread while the calling thread blocks until it returns: it
    may drive the loop under the lock the caller holds."""
    parent = _token()

    def run(*args: Any, **kwargs: Any) -> R:
        _TOKEN.set(_Token(parent))
        return fn(*args, **kwargs)

    return run


def concurrent(fn: Callable[..., R]) -> Callable[..., R]:
    """``fn`` to run in a thread that runs beside its caller: it takes its turn at the
    lock like any other thread."""

    def run(*args: Any, **kwargs: Any) -> R:
        _TOKEN.set(_Token(None))
        return fn(*args, **kwargs)

    return run


class DriveLock:
    """Re-entrant for a token and for the tokens descended from the holder's."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: _Token | None = None
        self._depth = 0

    def _admits(self, token: _Token) -> bool:
        if self._owner is None:
            return True
        walk: _Token | None = token
        while walk is not None:
            if walk is self._owner:
                return True
            walk = walk.parent
        return False

    def __enter__(self) -> DriveLock:
        token = _token()
        with self._cond:
            while not self._admits(token):
                self._cond.wait()
            if self._owner is None:
                self._owner = token
            self._depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()
