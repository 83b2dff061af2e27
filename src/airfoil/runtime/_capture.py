"""Capturing what an attempt writes to stdout and stderr into its log.

Two levels, used together:

- **Python streams, per thread** (:func:`capture_streams`): while any attempt runs, ``sys.stdout``
  and ``sys.stderr`` are routers that send each write to the log of the attempt whose thread
  made it, and everything else to the streams they replaced. So attempts running at once in
  one process (inline runs in several threads, a server's driver slots) never see each other's
  output, and the process's own writers (a CLI's live view drawing on stderr) are never
  captured. A thread *started while exactly one attempt is running* is taken to be that
  attempt's (a task's thread pool); with several running at once such a thread's writes go
  to the process's streams, as nobody can tell whose it is.
- **File descriptors** (:func:`capture_fds`, worker processes only, one attempt at a time):
  fds 1 and 2 point at an in-memory file (one per process, reused) while the attempt runs,
  so output that bypasses Python's streams -- C extensions, ``os.write``, subprocesses the
  task starts -- also lands in the log (after what the task printed through Python, when the
  attempt ends). A process executor's worker keeps them pointed there for its whole life
  (:class:`hold_fds`); what comes between attempts goes on to its stderr.

Lines written through the routers to a :class:`~airfoil.runtime._log_records.StampedLog`
start with a timestamp and the stream's tag (``OUT``/``ERR``), and ``logging`` records of a
capturing thread are written to it with their level (see that module).

Invariants: the routers are installed while at least one attempt captures or a
:func:`hold` is open, and the streams they replaced are put back when the last of these
ends (unless someone replaced the routers meanwhile, whose streams are then left alone).
The logging record handler is on the root logger while at least one attempt captures, and
inside a hold from the first attempt on until the hold ends, except where a task's code is
imported: ``logging.basicConfig`` does nothing when the root has any handler, so a task
module a worker or an inline run imports for its next attempt (before that attempt
captures) must find the root logger as the program left it. The loader calls
:func:`before_import` first, which takes the handler off while no attempt captures; the next
attempt puts it back (and filters a console handler the module configured).

A driver that runs many attempts one after another (the inline executor: a map of 1,000
items is 1,000 attempts; a worker process for its whole life) holds the capture, so the
routers are put in place once instead of once per attempt. Between attempts nothing is
captured: with no target a router writes to the stream it replaced, exactly as when the
routers are not installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

from airfoil.core.forks import at_fork_in_child
from airfoil.runtime._log_records import (
    StampedLog,
    install_record_handler,
    remove_record_handler,
)

__all__ = [
    "before_import",
    "capture_fds",
    "capture_streams",
    "current_log",
    "hold",
    "hold_fds",
]

_lock = threading.Lock()
#: A log: a text stream, or a StampedLog (lines and records with their time and level).
_Log = IO[str] | StampedLog
_targets: dict[int, _Log] = {}  # thread id -> the log its writes go to
_adopters: dict[int, tuple[frozenset[int], _Log]] = {}  # owner thread -> (threads then, log)
_saved: dict[str, Any] = {}  # "stdout"/"stderr" -> the stream the router replaced
_holds = 0  # open hold()s: while any is, the routers stay installed between attempts


def current_log() -> _Log | None:
    """The log of the attempt the current thread runs (or was started by), if any."""
    target = _targets.get(threading.get_ident())
    if target is not None:
        return target
    if len(_adopters) == 1:
        ((existing, log),) = _adopters.values()
        if threading.get_ident() not in existing:
            return log
    return None


class _Router(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: each write goes to its thread's log."""

    def __init__(self, fallback: Any, tag: str) -> None:
        super().__init__()
        self.fallback = fallback
        self.tag = tag  # OUT / ERR: how a StampedLog marks its lines

    def _target(self) -> Any:
        ident = threading.get_ident()
        target = _targets.get(ident)
        if target is not None:
            return target
        if len(_adopters) == 1:  # a thread the one running attempt started is its thread
            ((existing, log),) = _adopters.values()
            if ident not in existing:
                return log
        return self.fallback

    def write(self, s: str) -> int:
        target = self._target()
        if type(target) is StampedLog:
            target.write_stream(self.tag, s)
        elif target is not None:  # a process without the stream (pythonw, a daemon) drops it
            target.write(s)
        return len(s)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        target = self._target()
        return target is self.fallback and bool(getattr(target, "isatty", lambda: False)())

    def fileno(self) -> int:
        if self.fallback is None:
            raise io.UnsupportedOperation("fileno")
        return int(self.fallback.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.fallback, "encoding", None) or "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)


_routers: dict[str, _Router] = {}  # the last router of each stream (reused: attempts are many)


def _install() -> None:
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if type(current) is not _Router:
            _saved[name] = current
            router = _routers.get(name)
            if router is None or router.fallback is not current:
                router = _routers[name] = _Router(current, "OUT" if name == "stdout" else "ERR")
            setattr(sys, name, router)


def _uninstall() -> None:
    remove_record_handler()
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if type(current) is _Router and name in _saved:
            setattr(sys, name, _saved.pop(name))


def _saved_streams() -> tuple[Any, ...]:
    return tuple(_saved.values())


def _idents() -> frozenset[int]:
    """The idents of the threads alive now (a thread not yet started counts as 0), where
    CPython's table of running threads (``_active``: int keys, copied with no Python code
    run, so no thread can interleave) is not there."""
    return frozenset(t.ident or 0 for t in threading.enumerate())


#: CPython's table of running threads (ident -> Thread); None elsewhere (then enumerate()).
_active: dict[int, threading.Thread] | None = getattr(threading, "_active", None)


class capture_streams:  # a lower-case name: used as a context manager, like contextlib's
    """Send this thread's writes to ``sys.stdout`` and ``sys.stderr`` (and those of threads it
    starts meanwhile, while it is the only attempt capturing) to ``log``. Nests: an inline
    child attempt captures into its own log and hands the thread back when it ends. With
    ``fds`` (a worker process's attempt), inside :class:`capture_fds` too (entered first,
    left last).

    A class rather than a generator: it is entered once per attempt, and on the inline
    executor a trivial attempt's whole cost is a few of these."""

    __slots__ = ("_fds", "_ident", "_log", "_outer", "_outer_adopter")

    def __init__(self, log: _Log, fds: list[str] | None = None) -> None:
        self._log = log
        self._fds = None if fds is None else capture_fds(fds)

    def __enter__(self) -> None:
        if self._fds is not None:
            self._fds.__enter__()
        ident = self._ident = threading.get_ident()
        log = self._log
        with _lock:
            self._outer = _targets.get(ident)
            self._outer_adopter = _adopters.get(ident)
            if type(sys.stdout) is not _Router or type(sys.stderr) is not _Router:
                _install()  # (in place already inside a hold, unless the last task replaced one)
            _targets[ident] = log
            # (the running threads' table copied in one C call; CPython's, else enumerate())
            _adopters[ident] = (frozenset(_active) if _active is not None else _idents(), log)
        if type(log) is StampedLog:
            install_record_handler(current_log, _saved_streams)

    def __exit__(self, etype: object, exc: object, tb: object) -> None:
        ident, outer = self._ident, self._outer
        with _lock:
            if outer is None:
                _targets.pop(ident, None)
                _adopters.pop(ident, None)
            else:
                _targets[ident] = outer
                if self._outer_adopter is not None:
                    _adopters[ident] = self._outer_adopter
            if not _targets and not _holds:
                _uninstall()  # the record handler too
        if self._fds is not None:
            self._fds.__exit__(etype, exc, tb)


def before_import() -> None:
    """Take the record handler off the root logger unless an attempt captures: a task
    module about to be imported must find the root as the program left it. With the
    handler of a hold on it, that module's ``logging.basicConfig(level=INFO)`` saw a handler
    and did nothing (no level, no console), and its INFO records were never made. Inside a
    hold the handler otherwise stays from one attempt to the next (adding and removing it
    each attempt took the logging module's lock twice)."""
    with _lock:
        if not _targets:
            remove_record_handler()


class hold:  # a lower-case name: used as a context manager, like capture_streams
    """Keep the routers installed while inside, across the attempts run meanwhile (by any
    thread); put the streams back when the last hold and the last attempt have ended. Nests,
    and is re-entrant. The logging record handler, once an attempt put it on the root logger,
    stays there too, except while a task's code is imported (see :func:`before_import`)."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _holds
        with _lock:
            _holds += 1
            _install()

    def __exit__(self, *exc: object) -> None:
        global _holds
        with _lock:
            _holds -= 1
            if not _targets and not _holds:
                _uninstall()


class _FdSink:
    """One in-memory file (``memfd`` where the OS has it) and the saved fds 1/2, made once per
    process and reused by every attempt: an attempt pays a few syscalls, not a file.

    The file is opened for appending, so whoever writes to it (fds 1/2, shared by the task's
    subprocesses) writes at its end: emptying it (``ftruncate``) as an attempt starts is
    enough to start over, with no ``lseek`` (what a process the previous attempt left
    running wrote since is dropped, not put in this attempt's log; inside
    :class:`hold_fds` it is passed on to the worker's stderr instead)."""

    def __init__(self) -> None:
        self.saved = (os.dup(1), os.dup(2))
        self.fd = self._open()
        with contextlib.suppress(OSError):  # where it cannot, every attempt also seeks
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL) if fcntl is not None else -1
            if flags >= 0 and fcntl is not None:
                fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_APPEND)
                self.appending = True

    appending = False

    @staticmethod
    def _open() -> int:
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None:
            try:
                return int(memfd("airfoil-attempt-output"))
            except OSError:
                pass
        fd, path = tempfile.mkstemp(prefix="airfoil-attempt-output-")
        os.unlink(path)
        return fd


_sink: _FdSink | None = None
_READ = 65536  # what one pread asks for; more is read in further calls
#: fds 1/2 point at the sink between attempts too (a worker's :class:`hold_fds`)
_fds_held = False


def _forget_sink() -> None:
    """In a forked child: the parent's sink is not this process's (it makes its own), nor is
    the parent's hold of fds 1/2."""
    global _sink, _fds_held
    _sink = None
    _fds_held = False


def _the_sink() -> _FdSink | None:
    """This process's sink, made on first use (None where the fds cannot be duplicated)."""
    global _sink
    out = _sink
    if out is None:
        at_fork_in_child(_forget_sink)  # on first use, not at import
        try:
            out = _sink = _FdSink()
        except OSError:
            return None
    return out


def _take(out: _FdSink) -> bytes:
    """Everything written to the sink since it was last emptied (one ``pread`` when that is
    nothing), leaving it empty."""
    data = _read_all(out)
    if data:
        _empty(out)
    return data


def _empty(out: _FdSink) -> None:
    os.ftruncate(out.fd, 0)
    if not out.appending:
        os.lseek(out.fd, 0, os.SEEK_SET)


def _pass_on(data: bytes, fd: int) -> None:
    """Write ``data`` to ``fd`` whole (best effort: a closed stderr drops it)."""
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


class hold_fds:  # a lower-case name: used as a context manager, like hold
    """Point fds 1 and 2 at the sink for the whole span instead of at each attempt's start and
    back at its end: for a worker process that runs attempts one after another for its whole
    life (two ``pread`` an attempt that writes nothing to them, instead of an ``ftruncate``,
    four ``dup2`` and a ``pread``; a system call is ~2-3 us of a trivial attempt's ~100).

    What is written to fds 1/2 between attempts (by the worker itself, or by a process an
    attempt left running) is in no attempt's log: it is passed on to the worker's own
    stderr when the next attempt starts, and when the span ends. Not re-entrant: inside
    another hold it does nothing."""

    __slots__ = ("_out",)

    def __enter__(self) -> None:
        global _fds_held
        self._out = None
        if _fds_held:
            return
        out = _the_sink()
        if out is None:
            return
        _flush_python_streams()
        _empty(out)
        os.dup2(out.fd, 1)
        os.dup2(out.fd, 2)
        self._out = out
        _fds_held = True

    def __exit__(self, *exc: object) -> None:
        global _fds_held
        out = self._out
        if out is None or out is not _sink:  # (a forked child's copy of the parent's hold)
            return
        _flush_python_streams()
        _fds_held = False
        os.dup2(out.saved[0], 1)
        os.dup2(out.saved[1], 2)
        _pass_on(_take(out), 2)


class capture_fds:  # a lower-case name: used as a context manager, like capture_streams
    """Point fds 1 and 2 at an in-memory file while inside; on the way out put them back and
    append what was written to them to ``sink``. For a worker process running one attempt at
    a time (it redirects the whole process). Does nothing where fds 1/2 cannot be duplicated.

    A class rather than a generator, entered once per attempt: on the way in an
    ``ftruncate`` and two ``dup2``, on the way out two ``dup2`` and a ``pread`` (was: a
    ``getpid``, an ``lseek`` and an ``fstat`` more). Inside :class:`hold_fds` the fds point
    at the sink already: a ``pread`` on the way in (what came between attempts, passed on
    to the worker's stderr) and one on the way out (an ``ftruncate`` more if it read
    anything)."""

    __slots__ = ("_held", "_out", "_sink")

    def __init__(self, sink: list[str]) -> None:
        self._sink = sink
        self._out: _FdSink | None = None

    def __enter__(self) -> None:
        out = _the_sink()
        if out is None:
            return
        self._out = out
        _flush_python_streams()
        self._held = _fds_held
        if self._held:
            before = _take(out)
            if before:
                _pass_on(before, out.saved[1])
            return
        _empty(out)
        os.dup2(out.fd, 1)
        os.dup2(out.fd, 2)

    def __exit__(self, *exc: object) -> None:
        out = self._out
        if out is None:
            return
        _flush_python_streams()
        if not self._held:
            os.dup2(out.saved[0], 1)
            os.dup2(out.saved[1], 2)
        data = _take(out) if self._held else _read_all(out)
        if data:
            self._sink.append(data.decode("utf-8", "replace"))


def _read_all(out: _FdSink) -> bytes:
    """What the sink holds, left in it (emptied when the next attempt starts)."""
    data = os.pread(out.fd, _READ, 0)
    if not data:
        return data
    chunks, at = [data], len(data)
    while len(data) == _READ:
        data = os.pread(out.fd, _READ, at)
        chunks.append(data)
        at += len(data)
    return b"".join(chunks)


def _flush_python_streams() -> None:
    out, err = sys.__stdout__, sys.__stderr__
    saved_out, saved_err = _saved.get("stdout"), _saved.get("stderr")
    for stream in (
        out,
        err,
        None if saved_out is out else saved_out,  # most often the same stream: flushed once
        None if saved_err is err else saved_err,
    ):
        if stream is None:
            continue
        try:
            stream.flush()
        except Exception:  # a closed or broken stream: nothing to flush
            pass
