"""An attempt's log as entries with a timestamp and a level (:mod:`airfoil.core.log_lines`):
each line printed to stdout (``OUT``) or stderr (``ERR``), and each Python ``logging``
record made in the attempt's threads, with the record's level and time.

- :class:`StampedLog` is what the stream routers of :mod:`airfoil.runtime._capture` write to:
  it starts each new line with its time and the stream's tag.
- :class:`RecordHandler` is on the root logger while any attempt captures (put there when
  the first starts, removed when the last ends, also inside a held capture, so a program's
  or a task module's own ``logging.basicConfig`` between attempts and after a run still
  configures logging): a record made in a thread that captures goes to
  that attempt's log, with its level, time and logger name (and its traceback, if any). A
  record of any other thread meanwhile is left to the process's own handlers; where the
  root logger has none, it is printed as Python's last-resort handler would (so a CLI's
  own warnings are not swallowed).
- A console handler the task's code configured (``logging.basicConfig``: a
  ``StreamHandler`` on stdout/stderr) gets a filter that skips records of capturing
  threads, so a record is not logged twice (once formatted by that handler, once as a
  record). Handlers are checked when an attempt starts.

Which records: those that pass their logger's level -- WARNING and above by default,
INFO once a logger (or the root, ``basicConfig(level=logging.INFO)``) says so;
``af.current_context().logger`` is at INFO.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from airfoil.core.log_lines import stamp

__all__ = [
    "RecordHandler",
    "StampedLog",
    "TextSink",
    "install_record_handler",
    "remove_record_handler",
]


class TextSink(Protocol):
    """Where a :class:`StampedLog` writes: a text stream's ``write`` and ``flush``."""

    def write(self, s: str, /) -> int: ...

    def flush(self) -> None: ...


class StampedLog:
    """Writes to ``sink``, starting each new line with a timestamp and a level tag.

    A plain class with the writing methods of a text stream, not an ``io.TextIOBase``: one
    is made per attempt, and an ``io`` object's construction and finalisation (its
    destructor calls ``close``) cost ~5 us, a tenth of a trivial inline attempt."""

    __slots__ = ("_at_start", "_lock", "sink")

    def __init__(self, sink: TextSink) -> None:
        self.sink = sink
        self._at_start = {"OUT": True, "ERR": True}
        self._lock = threading.Lock()

    def write_stream(self, tag: str, s: str) -> int:
        """Write ``s``, printed to the stream ``tag`` (``OUT``/``ERR``)."""
        if not s:
            return 0
        parts = []
        with self._lock:
            at_start = self._at_start[tag]
            now = ""
            for piece in s.splitlines(keepends=True):
                if at_start:
                    now = now or stamp(time.time())
                    parts.append(f"{now} {tag:<8} ")
                parts.append(piece)
                at_start = piece.endswith(("\n", "\r"))
            self._at_start[tag] = at_start
            self.sink.write("".join(parts))
        return len(s)

    def write(self, s: str) -> int:
        return self.write_stream("OUT", s)

    def write_record(self, level: str, created: float, text: str) -> None:
        """Write a logging record's entry (``text`` may hold several lines)."""
        with self._lock:
            self.sink.write(f"{stamp(created)} {level:<8} {text}\n")

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.sink.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


class RecordHandler(logging.Handler):
    """Sends each record made in a capturing thread to that attempt's :class:`StampedLog`
    (``target`` maps the current thread to it, or None)."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(logging.NOTSET)
        self._target = target
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        log = self._target()
        if type(log) is StampedLog:
            try:
                log.write_record(record.levelname, record.created, self.format(record))
            except Exception:
                self.handleError(record)
            return
        root = logging.getLogger()
        last = logging.lastResort
        if last is not None and record.levelno >= last.level and root.handlers == [self]:
            last.handle(record)  # what Python prints when nothing else is configured


class _SkipCapturing(logging.Filter):
    """On a console handler: skip records of capturing threads (the attempt logs them)."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__()
        self._target = target

    def filter(self, record: logging.LogRecord) -> bool:
        return type(self._target()) is not StampedLog


_installed: RecordHandler | None = None
_lock = threading.Lock()


def _console_streams() -> tuple[Any, ...]:
    return (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr)


def install_record_handler(target: Callable[[], Any], saved: Callable[[], tuple[Any, ...]]) -> None:
    """Put :class:`RecordHandler` on the root logger (once per process) and the skip filter
    on its console handlers (``saved``: the streams the routers replaced, consoles too)."""
    global _installed
    root = logging.root  # (what getLogger() returns, without a call: asked every attempt)
    handlers = root.handlers
    if len(handlers) == 1 and handlers[0] is _installed:  # ours alone: nothing to filter
        return
    if not handlers and _installed is not None:  # no handler of the program's: nothing either
        root.addHandler(_installed)
        return
    with _lock:
        if _installed is None:
            _installed = RecordHandler(target)
        if _installed not in root.handlers:
            root.addHandler(_installed)
        consoles = (*_console_streams(), *saved())
        for h in root.handlers:
            console = type(h) is logging.StreamHandler and any(h.stream is c for c in consoles)
            if console and not any(isinstance(f, _SkipCapturing) for f in h.filters):
                h.addFilter(_SkipCapturing(target))


def remove_record_handler() -> None:
    """Take :class:`RecordHandler` off the root logger (no attempt captures any more)."""
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
