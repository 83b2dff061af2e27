"""The processes a task started, found and stopped: shared by the process executor (its
worker processes) and the ray executor (its worker and gang rank actors, on their nodes).

A task's code may start processes of its own, in another session (``start_new_session``,
``setsid``) or process group: stopping only the worker leaves them running, handed to init.
They are found from the worker (psutil, recursively) *before* it goes, frozen where they may
still fork, and each is signalled as the process it was when found (psutil checks its start
time), never by pid alone, so a reused pid is never hit. A process the task detached before
(a double fork, its parent gone) is out of reach.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

__all__ = ["descendants", "kill_tree", "signal_group", "signal_tree"]


def descendants(pid: int) -> list[Any]:
    """Every process below ``pid`` (psutil.Process each), children before their children;
    [] when it has gone."""
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def signal_tree(procs: list[Any], sig: int) -> None:
    """Signal each of ``procs`` that is still the process it was when found."""
    if not procs:
        return
    import psutil

    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(sig)


def signal_group(pid: int, sig: int) -> None:
    """Signal a worker's process group (the worker and whatever its task started)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_tree(pid: int, created: float | None = None, *, root: bool = True) -> int:
    """SIGKILL everything below process ``pid``, in any session, and ``pid`` itself unless
    ``root`` is False. ``pid`` is frozen first (it starts nothing more), its descendants are
    listed and frozen, listed again (those started meanwhile), then all are killed; ``pid``
    last, or (``root=False``: its owner ends it, as Ray does an actor's process) let go on.
    ``created``: ``pid``'s start time as psutil reports it; a process of that pid started at
    another time is left alone (the one meant has gone and its pid was reused). Returns how
    many descendants were killed."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if created is not None and abs(proc.create_time() - created) > 0.01:
            return 0
        proc.send_signal(signal.SIGSTOP)
    except psutil.Error:
        return 0
    try:
        tree = descendants(pid)
        signal_tree(tree, signal.SIGSTOP)
        tree += [p for p in descendants(pid) if p not in tree]
        signal_tree(tree, signal.SIGKILL)
    finally:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL if root else signal.SIGCONT)
    return len(tree)
