"""Telling a real Ctrl-C from a task's own ``raise KeyboardInterrupt``.

Both reach the attempt as a :class:`KeyboardInterrupt`. A Ctrl-C (SIGINT) must stop an inline
run as the user asked; a task that raises the exception itself (a library's guard, a test
double, a re-raise) is that task's failure, not the driver's loss: before, an inline run took
it for Ctrl-C, left the attempt running, and every resume ran it again until the node failed
with "the process running this attempt died" (adv18).

While a :class:`hold` is open on the main thread (a drive's executor session, a worker
process's life), a handler before the one in place counts the signals and then calls it, so
Ctrl-C raises as before. An attempt compares :func:`sigints` before and after: a
KeyboardInterrupt with no signal counted in between came from the code. Where SIGINT is
ignored (a job a script started in the background, ``nohup``) or left to the system, no
signal raises one, so the hold counts without a handler: every KeyboardInterrupt there is the
code's own (before, it was taken for a Ctrl-C there, as adv18 was everywhere). It is installed once
per hold, not per attempt: ``signal.signal`` costs ~4 us, a few percent of an inline task.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from airfoil.core.forks import at_fork_in_child

__all__ = ["hold", "sigints"]

_holds = 0  # open holds (main thread only)
_count = 0  # SIGINTs seen while one was open
_previous: Any = None  # the handler in place before the first hold: called after counting
_installed = False  # whether the first hold put _counted in place (not where SIGINT is ignored)
_main = 0  # the ident of the thread that opened the holds (the main thread) while any is open


def _counted(signum: int, frame: FrameType | None) -> Any:
    global _count
    _count += 1
    return _previous(signum, frame)


def sigints() -> int | None:
    """How many SIGINTs arrived while a hold was open, or ``None`` where none is counted (no
    hold open, or not the main thread): a KeyboardInterrupt there is taken for a Ctrl-C."""
    if not _holds or threading.get_ident() != _main:  # (one C call: asked every attempt)
        return None
    return _count


class hold:  # a lower-case name: used as a context manager, like the capture's hold
    """Count SIGINTs until the last hold ends. Nests. Does nothing off the main thread;
    where SIGINT is ignored or left to the system it counts none (no KeyboardInterrupt comes
    of a signal there) and installs nothing."""

    __slots__ = ("_counting",)

    def __init__(self) -> None:
        self._counting = False

    def __enter__(self) -> hold:
        global _holds, _previous, _main, _installed
        if threading.current_thread() is not threading.main_thread():
            return self
        if not _holds:
            previous = signal.getsignal(signal.SIGINT)
            _installed = callable(previous)
            if _installed:
                _previous = previous
                signal.signal(signal.SIGINT, _counted)
            _main = threading.get_ident()
            at_fork_in_child(_forked)  # on first use, not at import
        _holds += 1
        self._counting = True
        return self

    def __exit__(
        self,
        etype: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _holds, _previous, _installed
        if not self._counting:
            return
        self._counting = False
        _holds -= 1
        if not _holds and _installed:
            signal.signal(signal.SIGINT, _previous)
            _previous, _installed = None, False


def _forked() -> None:
    """In a forked child the forking thread is the main one (and its ident may differ)."""
    global _main
    if _holds:
        _main = threading.get_ident()
