"""The loop that runs inside each worker process of the process executor.

A worker receives msgpack-encoded :class:`~airfoil.executors.base.AttemptRequest` messages
over its pipe, runs each with the runtime its :data:`~airfoil.executors.base.RuntimeFactory`
builds (``airfoil.runtime``'s, handed in by the entry point) and sends back a
:class:`WorkerMessage` holding the :class:`~airfoil.executors.base.AttemptResult`. While an
attempt runs, each task it calls goes to the parent as a :class:`WorkerMessage` holding a
:class:`~airfoil.executors.base.ChildCall`, answered by a
:class:`~airfoil.executors.base.ChildOutcome` (:class:`PipeChildCalls`). An empty message
or a closed pipe ends the loop.

Invariants:

- Exactly one result per request, unless the process dies (the parent then reports the
  attempt); the result comes after every answer to the attempt's child calls has arrived.
- Nothing the task does escapes the loop: ``run_attempt`` reports task failures itself, and
  anything it lets through (``SystemExit`` from ``sys.exit()``, a bug in the runtime) becomes an
  error result here. The parent retires a worker after any ``system`` error or ``SystemExit``,
  since the task was interrupted at an arbitrary point.
- A task's ``limits.mem`` caps how much the attempt may grow the worker's address space
  (``RLIMIT_AS`` = address space at the start of the attempt + the limit); the old limit is
  restored afterwards. Allocations past it raise ``MemoryError``, which the runtime reports as
  ``OutOfMemoryError``.
- The worker runs in its own process group (so the parent can stop everything a task started,
  and a terminal's Ctrl-C reaches only the driver), and dies when the driver dies: a watch
  thread waits on the parent sentinel, and a forkserver child also has the kernel kill it when
  the forkserver (which exits with the driver) exits (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import WorkerLostError
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo, TaskSpec
from airfoil.core.worker_env import denied_names
from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    AttemptRuntime,
    ChildCall,
    ChildOutcome,
    RuntimeFactory,
    ended_result,
)

__all__ = [
    "PipeChildCalls",
    "RequestDecoder",
    "WorkerMessage",
    "send_frame",
    "take_frames",
    "worker_main",
]


class WorkerMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a worker sends its parent: an attempt's result, or a child call it made.

    ``left_processes``: with a result, the attempt left processes it started running (the
    parent retires the worker and stops them: they must not outlive their attempt).
    """

    result: AttemptResult | None = None
    call: ChildCall | None = None
    left_processes: bool = False


def _wire_request() -> type[msgspec.Struct]:
    """:class:`AttemptRequest` as it travels with its task left undecoded (``msgspec.Raw``),
    made from AttemptRequest's own fields, so the two never differ in anything else."""
    fields: list[Any] = []
    for f in msgspec.structs.fields(AttemptRequest):
        kind = msgspec.Raw if f.name == "task" else f.type
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, kind, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, kind))
    return msgspec.defstruct("_WireRequest", fields, frozen=True, omit_defaults=True)


class RequestDecoder:
    """Decodes a worker's attempt requests, each distinct task spec once.

    A worker runs the same few tasks over and over, and decoding the
    :class:`~airfoil.core.records.TaskSpec` is most of decoding a trivial attempt's request
    (~2.5 of ~3.5 us): the spec's bytes pick an already decoded (frozen) spec.

    Raises (``decode``):
        msgspec.MsgspecError: the request, or its task, is not what a request holds.
    """

    MAX_TASKS = 256  # distinct specs remembered; past this the memory starts over

    def __init__(self) -> None:
        self._wire = msgspec.msgpack.Decoder(_wire_request())
        self._task = msgspec.msgpack.Decoder(TaskSpec)
        self._tasks: dict[bytes, TaskSpec] = {}
        self._at = AttemptRequest.__struct_fields__.index("task")
        self._make: Callable[..., AttemptRequest] = AttemptRequest  # its fields, in order

    def decode(self, data: bytes) -> AttemptRequest:
        wire = self._wire.decode(data)
        values = msgspec.structs.astuple(wire)
        key = bytes(values[self._at])
        task = self._tasks.get(key)
        if task is None:
            try:
                task = self._task.decode(key)
            except msgspec.ValidationError as exc:  # say where, as a whole request's would
                raise msgspec.ValidationError(str(exc).replace("`$", "`$.task", 1)) from None
            if len(self._tasks) >= self.MAX_TASKS:
                self._tasks.clear()
            self._tasks[key] = task
        at = self._at
        return self._make(*values[:at], task, *values[at + 1 :])


_HEADER = struct.Struct("!i")  # multiprocessing's frame: the size, then the bytes...
_LONG_HEADER = struct.Struct("!Q")  # ...or -1 and an 8-byte size (messages of 2 GiB and more)
READ_SIZE = 65536


def take_frames(buf: bytearray) -> list[bytes] | None:
    """Remove the whole frames (``Connection.send_bytes``'s) at the start of ``buf`` and
    return their messages, in order; what is left is the start of a later one. None: not a
    frame ``send_bytes`` makes (never wait on it)."""
    out: list[bytes] = []
    while len(buf) >= 4:
        size, start = _HEADER.unpack_from(buf)[0], 4
        if size == -1:
            if len(buf) < 12:
                break
            size, start = _LONG_HEADER.unpack_from(buf, 4)[0], 12
        elif size < 0:
            return None
        if len(buf) < start + size:
            break
        out.append(bytes(buf[start : start + size]))
        del buf[: start + size]
    return out


def send_frame(fd: int, encoder: msgspec.msgpack.Encoder, message: Any, buf: bytearray) -> None:
    """Send ``message`` encoded as the frame ``Connection.send_bytes`` makes (its size, then
    its bytes) on ``fd``, in one ``write`` where it fits: encoded into ``buf`` behind room for
    the size (no copy of the message to join them, and none of ``send_bytes``' Python layers:
    ~3k of a worker's ~150k instructions an attempt, ``benchmarks/count_worker.py``). ``buf``
    is the sender's own, reused; it is left holding the frame.

    Raises:
        OSError: writing failed (the reader is gone).
    """
    encoder.encode_into(message, buf, 4)
    size = len(buf) - 4
    if size > 0x7FFFFFFF:  # multiprocessing's long frame: -1, then an 8-byte size
        buf[:4] = _LONG_HEADER.pack(size)
        buf[:0] = _HEADER.pack(-1)
    else:
        buf[:4] = _HEADER.pack(size)
    with memoryview(buf) as view:
        sent = os.write(fd, view)
        while sent < len(view):
            sent += os.write(fd, view[sent:])
    if len(buf) > _KEEP:
        buf.clear()  # a large message's memory is not kept for the small ones after it


_KEEP = 1 << 20  # the largest frame whose buffer send_frame's caller keeps


class _Frames:
    """What the parent sends this worker, one message at a time: read in one system call
    where ``Connection.recv_bytes`` makes two (the size, then the bytes). Shared by the
    worker's loop and its child-call transport, which never read at the same time."""

    def __init__(self, conn: Connection) -> None:
        self._fd = conn.fileno()
        self._buf = bytearray()
        self._ready: deque[bytes] = deque()

    def recv(self) -> bytes:
        """The next message, waiting for it.

        Raises:
            EOFError: the pipe closed (or carried something that is not a frame).
            OSError: reading the pipe failed.
        """
        while not self._ready:
            chunk = os.read(self._fd, READ_SIZE)
            if not chunk:
                raise EOFError
            self._buf += chunk
            frames = take_frames(self._buf)
            if frames is None:
                raise EOFError
            self._ready.extend(frames)
        return self._ready.popleft()


_MAKING = threading.Lock()  # orders the first making of a PipeChildCalls' locks


class PipeChildCalls:
    """The child-call transport of a worker: calls go up the pipe, outcomes come back.

    Several threads of one task may wait at once (``asyncio.gather`` of async child calls):
    one reads the pipe at a time and files every outcome it reads under its node id.
    """

    def __init__(
        self,
        conn: Connection,
        encoder: msgspec.msgpack.Encoder,
        frames: _Frames | None = None,
        decoder: msgspec.msgpack.Decoder[ChildOutcome] | None = None,
    ) -> None:
        self._conn = conn
        self._frames = frames
        self._encoder = encoder
        # A worker makes one per attempt and hands in its decoder (making one is ~4 us); the
        # lock and condition are made on the first call (~2 us, and most attempts make none)
        self._decoder = decoder or msgspec.msgpack.Decoder(ChildOutcome)
        self._locks: tuple[threading.Lock, threading.Condition] | None = None
        self._reading = False
        self._ready: dict[str, ChildOutcome] = {}

    def _sync(self) -> tuple[threading.Lock, threading.Condition]:
        """The send lock and the readers' condition, made once (whichever thread asks first)."""
        locks = self._locks
        if locks is None:
            with _MAKING:
                locks = self._locks
                if locks is None:
                    locks = self._locks = (threading.Lock(), threading.Condition())
        return locks

    def submit(self, call: ChildCall) -> None:
        with self._sync()[0]:
            self._conn.send_bytes(self._encoder.encode(WorkerMessage(call=call)))

    def wait(self, node_id: str) -> ChildOutcome:
        cv = self._sync()[1]
        with cv:
            while node_id not in self._ready:
                if self._reading:
                    cv.wait()
                    continue
                self._reading = True
                cv.release()
                try:
                    data = self._frames.recv() if self._frames else self._conn.recv_bytes()
                except (EOFError, OSError) as exc:
                    raise WorkerLostError(
                        f"the pipe to the driver closed while child {node_id} ran"
                    ) from exc
                finally:
                    cv.acquire()
                    self._reading = False
                    cv.notify_all()
                outcome = self._decoder.decode(data)
                self._ready[outcome.node_id] = outcome
            return self._ready.pop(node_id)


_PR_SET_PDEATHSIG = 1
_NO_LIMIT: contextlib.nullcontext[None] = contextlib.nullcontext()


def worker_main(
    conn: Connection,
    blob_url: str,
    die_with_parent: bool,
    runtime_factory: RuntimeFactory,
    durability: str = "process",
    nice: int = 0,
) -> None:
    """Serve attempts from ``conn`` until it is closed or an empty message arrives.

    Args:
        conn: this worker's end of the pipe to the parent.
        blob_url: the blob store to use when a request names none.
        die_with_parent: ask the kernel to kill this process when its parent exits (only safe
            when the parent is the forkserver, whose main thread lives as long as it does).
        runtime_factory: builds the runtime that runs the attempts (once, in this process).
        durability: the blob store's durability (``process`` or ``power``).
        nice: how much to lower this process's CPU priority first (``os.nice``), so that
            the driver, and a server's API, get a core before the tasks run here do.
    """
    # Spawned workers inherit the driver's environment: drop the platform's credentials
    # (a forkserver's workers hold none already: airfoil.executors._process_env).
    for name in denied_names(list(os.environ)):
        os.environ.pop(name, None)
    if nice:
        # Before anything else (the runtime's imports, the first task's module): what this
        # process does it does at the tasks' priority. Raising a nice value needs no
        # privilege; where a sandbox refuses it, run as we are.
        with contextlib.suppress(OSError):
            os.nice(nice)
    _detach(die_with_parent)
    runtime = runtime_factory()
    # Attempts run here one after another for the worker's whole life: the stream routers
    # and the redirection of fds 1/2 each would set up and take down again stay set up (the
    # logging record handler is on the root logger only while an attempt runs: see
    # airfoil.runtime._capture).
    with runtime.worker_session():
        _serve(conn, blob_url, runtime, durability)


def _serve(conn: Connection, blob_url: str, runtime: AttemptRuntime, durability: str) -> None:
    """The worker's loop: one attempt per request until the pipe closes or says stop."""
    decoder = RequestDecoder()
    outcomes = msgspec.msgpack.Decoder(ChildOutcome)
    encoder = msgspec.msgpack.Encoder()
    stores: dict[str, BlobStore] = {}
    home = os.getcwd()
    worker = f"{socket.gethostname()}:{os.getpid()}:worker"
    frames = _Frames(conn)
    fd = conn.fileno()
    out = bytearray()  # the frame of each reply, reused
    while True:
        try:
            data = frames.recv()
        except (EOFError, OSError):
            return
        if not data:
            return
        started = time.time()
        try:
            request = decoder.decode(data)
        except msgspec.MsgspecError as exc:  # a malformed request: say so, and stay alive
            reply = WorkerMessage(result=_unreadable(data, exc, started, worker))
            send_frame(fd, encoder, reply, out)
            continue
        try:
            url = request.blob_url or blob_url
            blobs = stores.get(url)
            if blobs is None:
                blobs = stores[url] = runtime.open_blobs(url, durability)
            mem = request.task.limits.mem
            with _address_space_limit(mem) if mem > 0 else _NO_LIMIT:
                result = runtime.run_attempt(
                    request, blobs, child_calls=PipeChildCalls(conn, encoder, frames, outcomes)
                )
        except BaseException as exc:  # sys.exit, a runtime bug, KeyboardInterrupt: never die
            result = _escaped(request, exc, started, worker)
        _restore_cwd(home)
        reply = WorkerMessage(result=result, left_processes=_left_processes())
        try:
            send_frame(fd, encoder, reply, out)
        except (OSError, ValueError):
            return


def _left_processes() -> bool:
    """Whether a process this worker started (its attempt's) still runs.

    One system call when there is none (``waitid``, leaving any exit status to the task's
    ``Popen``); only a worker with a child looks closer, since a zombie does not count.
    Without ``waitid`` (macOS) False: the group kill when the worker ends stops them.
    """
    waitid = getattr(os, "waitid", None)
    if waitid is None:
        return False
    try:
        waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except OSError:  # ChildProcessError: no child at all
        return False
    import psutil

    try:
        return any(c.status() != psutil.STATUS_ZOMBIE for c in psutil.Process().children())
    except psutil.Error:
        return True


def _restore_cwd(home: str) -> None:
    """A task's ``os.chdir`` (or a deleted working directory) must not leak into the next."""
    try:
        if os.getcwd() == home:
            return
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.chdir(home)


def _detach(die_with_parent: bool) -> None:
    # A process group of its own: the parent can stop whatever the task started along with
    # the worker, and a terminal's Ctrl-C (sent to the driver's group) reaches only the driver.
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _watch_parent()
    if die_with_parent and sys.platform.startswith("linux"):
        _die_with_forkserver()


def _watch_parent() -> None:
    """Stop this worker and everything its task started as soon as the driver process dies.

    A daemon thread waits on multiprocessing's parent sentinel (it becomes readable when the
    driver exits, however it exits); without it a busy worker would outlive a killed driver.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        import psutil

        with contextlib.suppress(psutil.Error):  # those that left the group too
            for p in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    p.kill()
        if os.getpgid(0) == os.getpid():  # our own group: take the task's children along
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="airfoil-parent-watch", daemon=True).start()


def _die_with_forkserver() -> None:
    """Have the kernel kill this worker when the forkserver exits (it exits with the driver).

    Works even when the task holds the GIL in C code, where the watch thread cannot run.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    # The forkserver hands each child a copy of the driver's "alive" pipe end; holding it would
    # keep the forkserver (and so this worker) alive after the driver dies.
    try:
        from multiprocessing import forkserver

        server: Any = getattr(forkserver, "_forkserver", None)
        fd = getattr(server, "_forkserver_alive_fd", None)
        if isinstance(fd, int):
            os.close(fd)
            server._forkserver_alive_fd = None
    except (ImportError, OSError):
        pass


def _address_space_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return -1


@contextlib.contextmanager
def _address_space_limit(limit: int) -> Iterator[None]:
    """Cap the growth of this process's address space at ``limit`` bytes while inside."""
    if limit <= 0:
        yield
        return
    try:
        import resource
    except ImportError:  # not POSIX: no limit can be enforced from inside
        yield
        return
    current = _address_space_bytes()
    if current < 0:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new = current + limit
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    if soft != resource.RLIM_INFINITY:
        new = min(new, soft)
    resource.setrlimit(resource.RLIMIT_AS, (new, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _unreadable(data: bytes, exc: Exception, started: float, worker: str) -> AttemptResult:
    ids: Any = {}
    with contextlib.suppress(msgspec.MsgspecError):
        ids = msgspec.msgpack.decode(data)
    if not isinstance(ids, dict):
        ids = {}
    attempt = ids.get("attempt")
    return AttemptResult(
        execution_id=str(ids.get("execution_id", "")),
        node_id=str(ids.get("node_id", "")),
        attempt=attempt if isinstance(attempt, int) else 0,
        started_at=started,
        ended_at=time.time(),
        error=ErrorInfo(
            kind=ErrorKind.SYSTEM,
            type=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=f"the worker could not read the attempt request: {exc}",
        ),
        worker=worker,
    )


def _escaped(
    request: AttemptRequest, exc: BaseException, started: float, worker: str
) -> AttemptResult:
    """The result of an attempt that ``exc`` escaped the runtime from: the task's
    ``sys.exit`` is the user's error, anything else (a runtime bug, an interrupt) a system
    error, with its traceback."""
    if isinstance(exc, SystemExit):
        kind, message = ErrorKind.USER, f"the task called sys.exit({exc.code!r})"
    else:
        kind, message = ErrorKind.SYSTEM, str(exc)
    etype = type(exc)
    name = (
        etype.__qualname__
        if etype.__module__ == "builtins"
        else (f"{etype.__module__}.{etype.__qualname__}")
    )
    traced = "".join(traceback.format_exception(exc))
    error = ErrorInfo(kind=kind, type=name, message=message, traceback=traced)
    return ended_result(request, started=started, worker=worker, error=error)
