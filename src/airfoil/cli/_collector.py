"""The cycle collector paused while the ``airfoil`` command starts (issue 17, W5).

A command's start is imports (Typer, Rich, the engine, the store), a runtime and a workflow's
module: objects that live as long as the process and that no collection frees, yet each full
collection while they pile up walks all of them again. :func:`pause` (``main()``, first
thing) stops the collector; :func:`resume` freezes what start-up made out of its reach
(``gc.freeze``) and starts it again, where a command's own work begins (``airfoil run``:
before the launch) and, for every other command, at the start of its body
(``handle_errors``). Only a pause of :func:`pause`'s is resumed: a collector paused by
someone else (``airfoil server start``, a test's process) stays as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["pause", "resume", "resumed_in_body"]

F = TypeVar("F", bound=Callable[..., Any])

_paused = False


def pause() -> None:
    """Stop the cycle collector until :func:`resume` (if it runs now)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Start the collector :func:`pause` stopped, what exists now frozen out of its reach;
    nothing if it did not stop it."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def resumed_in_body(fn: F) -> F:
    """Mark a command whose body calls :func:`resume` itself, where its own work begins
    (``handle_errors`` resumes the collector at every other command's start)."""
    fn.resumes_collector = True  # type: ignore[attr-defined]
    return fn
