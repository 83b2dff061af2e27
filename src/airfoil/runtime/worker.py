"""Running one attempt: inputs -> user function -> outputs, with logs and a user-code boundary.

``run_attempt`` never raises for anything the task does: every outcome is an
:class:`~airfoil.executors.base.AttemptResult` with outputs, or an error of kind ``user``
(the task's code raised, or returned a value that does not fit its type) or ``system``
(timeout, out of memory, code that cannot be loaded).

What the attempt writes to stdout and stderr is its log (see :mod:`airfoil.runtime._capture`:
per thread in-process, the whole process's file descriptors in a worker). The values of the
secrets an attempt was given are scrubbed from its log (the live copy included) and from its
error's message and traceback before either leaves this module, and an output holding one
fails the attempt (:mod:`airfoil.runtime._secret_outputs`), so neither the blob store nor the
metadata store ever holds one.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from types import CoroutineType
from typing import Any

import msgspec

from airfoil.core import drive_lock
from airfoil.core.blobs import BlobStore
from airfoil.core.code_versions import save_manifests
from airfoil.core.errors import (
    CorruptBlobError,
    InvalidInputError,
    OutOfMemoryError,
    PlatformError,
    TaskTimeoutError,
)
from airfoil.core.forks import at_fork_in_child
from airfoil.core.metrics import metric_chunk_key
from airfoil.core.phases import ErrorKind
from airfoil.core.records import (
    ERROR_MESSAGE_MAX,
    ERROR_TRACEBACK_MAX,
    ErrorInfo,
    TaskSpec,
    Value,
    clipped,
)
from airfoil.core.reports import report_key
from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    AttemptRuntime,
    ChildTransport,
    ended_result,
    live_log_key,
)
from airfoil.runtime._capture import before_import, capture_streams, hold_fds
from airfoil.runtime._capture import hold as hold_capture
from airfoil.runtime._children import ChildCaller
from airfoil.runtime._log_records import StampedLog
from airfoil.runtime._secret_outputs import refuse_secret_outputs
from airfoil.runtime._sigint import hold as hold_sigint
from airfoil.runtime._sigint import sigints
from airfoil.runtime._task_types import OutputError, TaskTypes, default_task_types
from airfoil.runtime.loader import load_task
from airfoil.sdk._context import (
    ExecutionContext,
    LazyContext,
    Secrets,
    reset_context,
    scrub,
    set_context,
)
from airfoil.sdk._versioning import manifest_for
from airfoil.types import TypeEngine, ValueContext, default_type_engine

__all__ = ["WorkerRuntime", "run_attempt", "worker_runtime"]

_HOST = socket.gethostname()
_DEFAULT_TYPES = default_task_types()
#: The timer of an attempt whose task has no timeout: one shared instance.
_NO_TIMEOUT: contextlib.nullcontext[None] = contextlib.nullcontext()
#: The secrets of an attempt given none (read-only, and writes no file: one for all).
_NO_SECRETS = Secrets()
#: How often a timed-out in-process attempt is interrupted again until it ends.
_REPEAT_S = 0.1


class _Timeout:
    """Stops an in-process attempt after ``seconds`` (main thread only, via SIGALRM).

    Relentless: once the timeout has passed, ``TaskTimeoutError`` is raised again every
    ``_REPEAT_S`` until the attempt ends, so a task that catches the first one (and sleeps, or
    retries, in its handler) still stops about on time. A task that catches it in a loop forever
    cannot be stopped in-process; the executor then fails the attempt as timed out when it
    returns and discards its result (a hard stop needs the process executor).

    Nests: a child attempt run inside its caller (inline composition) arms its own timer,
    bounded by what is left of the caller's, and hands the caller's back, less the time the
    child took, when it ends -- so the caller's timeout still holds after the call.
    """

    def __init__(
        self, seconds: float | None, *, in_process: bool = False, left: float | None = None
    ) -> None:
        self.seconds = seconds
        self.left = (seconds or 0.0) if left is None else left  # when it first fires
        self.in_process = in_process
        self.armed = False
        self._outer_left = 0.0
        self._started = 0.0

    def __enter__(self) -> _Timeout:
        if (
            self.seconds
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            seconds = self.seconds
            message = f"the attempt ran past its timeout of {seconds:g}s"
            if self.in_process:
                message += (
                    " (the inline executor interrupts a task but cannot stop it hard: run it on "
                    "the process executor for that)"
                )
            self._outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
            self._started = time.monotonic()

            def on_alarm(_sig: int, _frame: Any) -> None:
                raise TaskTimeoutError(message)

            self._old = signal.signal(signal.SIGALRM, on_alarm)
            left = self._outer_left
            first = min(self.left, left) if left > 0 else self.left
            signal.setitimer(signal.ITIMER_REAL, first, _REPEAT_S)
            self.armed = True
        return self

    @classmethod
    def of(cls, request: AttemptRequest, in_process: bool) -> AbstractContextManager[Any]:
        """The attempt's timer: armed for what is left of its timeout since its executor
        handed it over (:attr:`AttemptRequest.deadline`; the whole timeout where none is
        set). Called where the attempt starts, so loading the task's code and reading its
        inputs count, and a slow import is interrupted where it is, like the task itself.

        Raises:
            TaskTimeoutError: the timeout had passed before the attempt started here.
        """
        seconds = request.task.timeout_s
        if not seconds:
            return _NO_TIMEOUT
        if not request.deadline:
            return cls(seconds, in_process=in_process)
        # Never more than the timeout: a worker whose clock is behind the executor's (another
        # node) would otherwise fire after the executor's hard stop.
        left = min(seconds, request.deadline - time.time())
        if left <= 0:
            raise TaskTimeoutError(
                f"the attempt ran past its timeout of {seconds:g}s before its worker could "
                f"start it (it was handed over {seconds - left:.2f}s ago: a worker slow to "
                "start, or a busy machine); the timeout counts from that hand-off"
            )
        return cls(seconds, in_process=in_process, left=left)

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            if self._outer_left > 0:  # the caller's timer goes on where it was
                used = time.monotonic() - self._started
                signal.setitimer(signal.ITIMER_REAL, max(0.001, self._outer_left - used), _REPEAT_S)


def _run_coroutine(coro: Any) -> Any:
    """Run an ``async def`` task's coroutine; inside a running event loop (an async task
    calling an async task) in a thread of its own, with this context."""
    import asyncio  # async tasks only: asyncio costs a plain run ~10% of its start-up

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures
    import contextvars

    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # This thread blocks until the attempt ends: its thread may drive the loop for the
        # attempt's own child calls though this one holds the drive lock.
        return pool.submit(ctx.run, drive_lock.nested(asyncio.run), coro).result()


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame outside Airfoil's own runtime."""
    tb = exc.__traceback__
    while tb is not None and "/airfoil/runtime/" in tb.tb_frame.f_code.co_filename:
        tb = tb.tb_next
    from airfoil.runtime._packages import user_paths

    return user_paths("".join(traceback.format_exception(type(exc), exc, tb)))


def _message(exc: BaseException) -> str:
    """``str(exc)``, or what went wrong making it: a user's ``__str__`` that raises (or
    returns a non-string) must not turn the task's failure into the platform's."""
    try:
        return str(exc)
    except Exception as inner:  # the user's __str__, called at the user-code boundary
        try:
            why = f"{type(inner).__name__}: {inner}"
        except Exception:
            why = type(inner).__name__
        return f"<str() of the exception failed: {why}>"


_OWN_INTERRUPT = (
    "the task raised KeyboardInterrupt itself (no Ctrl-C reached the process): it fails as "
    "the task's own error; raise another exception to fail a task on purpose"
)


def _error(kind: ErrorKind, exc: BaseException) -> ErrorInfo:
    etype = type(exc)
    # Builtins and Airfoil's own errors by bare name; user-defined types fully qualified.
    if etype.__module__ == "builtins" or etype.__module__.startswith("airfoil."):
        name = etype.__qualname__
    else:
        name = f"{etype.__module__}.{etype.__qualname__}"
    return ErrorInfo(kind=kind, type=name, message=_message(exc), traceback=_user_traceback(exc))


def _clipped(error: ErrorInfo) -> ErrorInfo:
    """``error`` as recorded: its message and traceback clipped (head and tail), since it is
    copied into several records and printed. Secrets are scrubbed *before* this: a secret
    across the cut would otherwise keep its head, unrecognised by the scrubber."""
    if len(error.message) <= ERROR_MESSAGE_MAX and len(error.traceback) <= ERROR_TRACEBACK_MAX:
        return error
    import msgspec

    return msgspec.structs.replace(
        error,
        message=clipped(error.message, ERROR_MESSAGE_MAX),
        traceback=clipped(error.traceback, ERROR_TRACEBACK_MAX),
    )


def _check_inputs_match(request: AttemptRequest, iface: Any) -> None:
    """Refuse to run a task whose code now takes other inputs than the run gives it: the code
    changed after the execution (or the launch plan a schedule fires) was made. Reading the
    inputs was a bare ``KeyError: 'n'``, and a new required input a ``TypeError``.

    Raises:
        InvalidInputError: naming the inputs given and taken, and what to do.
    """
    takes = iface.input_types
    if request.inputs.keys() == takes.keys():  # the common case: one comparison in C
        return
    unknown = sorted(set(request.inputs) - set(takes))
    missing = sorted(set(takes) - set(request.inputs) - set(iface.defaults))
    if not unknown and not missing:
        return
    spec = request.task
    said = []
    if unknown:
        said.append(f"it no longer takes {', '.join(map(repr, unknown))}")
    if missing:
        said.append(f"it now needs {', '.join(map(repr, missing))}")
    raise InvalidInputError(
        f"task {spec.name!r} ({spec.module}.{spec.qualname}) was given inputs "
        f"{', '.join(sorted(request.inputs)) or 'none'} but its code now takes "
        f"{', '.join(takes) or 'none'}: {'; '.join(said)}. The code changed after this "
        "execution was launched (or after its launch plan was activated): launch it again, or "
        "re-activate the plan (`airfoil schedules activate FILE PLAN`) so its schedule "
        "launches the new workflow"
    )


def _record_code_version(taskdef: Any, spec: TaskSpec, blobs: BlobStore) -> str:
    """Store the manifest of a cached task's code version for ``airfoil cache explain``,
    whoever computed the version (a client registering for a server, a caller, a ``@dynamic``
    task): this worker computes the same version from the same code. Best effort.

    Returns the version this process computed where it is not ``spec``'s ("": the same, or
    not known): the task's code changed after the execution was launched (a recover or a
    resume after an edit), so what it returns must not be cached under ``spec``'s version.
    """
    if not spec.cache.enabled or spec.cache.version:
        return ""
    try:
        here = taskdef.spec.version  # computes this process's version (and its manifest)
    except TaskTimeoutError:  # the attempt's own timer: it stops the attempt, here too
        raise
    except Exception:  # explain loses its diff; the attempt runs regardless
        return ""
    if here != spec.version:
        return str(here)
    try:
        save_manifests(blobs, spec, manifest_for)
    except TaskTimeoutError:
        raise
    except Exception:  # best effort: explain loses its diff
        pass
    return ""


def _read_input(engine: TypeEngine, name: str, value: Value, annotation: Any, vctx: Any) -> Any:
    """Input ``name`` as a Python value; a damaged blob is named as that input's."""
    try:
        return engine.to_python(value, annotation, vctx)
    except CorruptBlobError as exc:
        raise CorruptBlobError(
            f"input {name!r} cannot be read: {exc}. The attempt is not retried (the same "
            "bytes would be read again): rerun the producing task without its cache, or launch "
            "again with the input given anew"
        ) from None


def _scrub_error(error: ErrorInfo, secrets: tuple[str, ...]) -> ErrorInfo:
    """``error`` with the secret values removed from its message and traceback."""
    import msgspec

    return msgspec.structs.replace(
        error,
        message=scrub(error.message, secrets),
        traceback=scrub(error.traceback, secrets),
    )


class _LiveLog:
    """An attempt's log that is also copied to the blob store while the attempt runs (at most
    every ``interval`` seconds after something is written), so it can be tailed; the copy is
    removed when the attempt ends and its whole log is written.

    Slotted and holding its text in a ``StringIO`` rather than being one: one is made per
    attempt, and a subclass of an ``io`` type costs ~2 us to make and finalise. The
    ``StringIO``, the copy's key and the lock that orders a copy against the end are made
    when something is first written (most attempts never write). Written by its
    :class:`StampedLog` only, under that log's lock."""

    __slots__ = (
        "_blobs",
        "_buf",
        "_copied",
        "_done",
        "_interval",
        "_key",
        "_lock",
        "_secrets",
        "_timer",
    )

    def __init__(
        self,
        blobs: BlobStore,
        log_key: str,
        interval: float = 0.5,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._buf: io.StringIO | None = None
        self._blobs, self._key, self._interval = blobs, log_key, interval
        self._secrets = secrets
        self._lock: threading.Lock | None = None
        self._timer: threading.Timer | None = None
        self._done = False
        self._copied = False

    def write(self, s: str) -> int:
        buf = self._buf
        if buf is None:
            buf = self._buf = io.StringIO()
        n = buf.write(s)
        if self._timer is None and not self._done:
            with _LIVE_LOCK:  # the first write makes the lock; once, whichever thread
                if self._lock is None:
                    self._lock = threading.Lock()
            with self._lock:
                if self._timer is None and not self._done:
                    self._timer = threading.Timer(self._interval, self._copy)
                    self._timer.daemon = True
                    self._timer.start()
        return n

    def flush(self) -> None:
        return None

    def getvalue(self) -> str:
        buf = self._buf
        return "" if buf is None else buf.getvalue()

    def _copy(self) -> None:
        assert self._lock is not None  # made before the timer that calls this
        with self._lock:
            self._timer = None
            if self._done:
                return
            try:
                text = scrub(self.getvalue(), self._secrets)
                key = live_log_key(self._key)
                self._blobs.put_bytes(key, text.encode("utf-8", "replace"))
                self._copied = True
            except Exception:  # logs are best effort
                pass

    def finish(self) -> str:
        """Stop copying and return the whole log."""
        if self._lock is None:  # nothing was ever written: no timer to stop
            self._done = True
            return self.getvalue()
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()
        return self.getvalue()

    def drop_copy(self) -> None:
        """Remove the copy (once the whole log is written)."""
        if self._copied:
            try:
                self._blobs.delete(self._blobs.uri(live_log_key(self._key)))
            except Exception:  # logs are best effort
                pass


_LIVE_LOCK = threading.Lock()


class WorkerRuntime:
    """The runtime an executor is given (:class:`~airfoil.executors.base.AttemptRuntime`).

    Args:
        codecs: the type engine that decodes inputs and encodes outputs (default: the
            process's, :func:`~airfoil.types.default_type_engine`, as it is at each attempt).
        converters: converters to add to the process's type engine before the first attempt,
            as ``(import path, first)`` pairs (:func:`~airfoil.types.added_converters` of the
            process that built the executor); loaded after the first task's code root is on
            ``sys.path``, so converters defined next to the tasks are found.
        task_types: the runners of task types (default: ``python`` and ``dynamic``).
    """

    def __init__(
        self,
        codecs: TypeEngine | None = None,
        converters: tuple[tuple[str, bool], ...] = (),
        task_types: TaskTypes | None = None,
    ) -> None:
        self._codecs = codecs
        self._converters = converters
        self.task_types = task_types or default_task_types()

    @property
    def codecs(self) -> TypeEngine:
        if self._codecs is not None:
            return self._codecs
        return default_type_engine()

    def run_attempt(
        self,
        request: AttemptRequest,
        blobs: BlobStore,
        *,
        in_process: bool = False,
        child_calls: ChildTransport | None = None,
    ) -> AttemptResult:
        if self._converters:
            from airfoil.core.errors import AirfoilError
            from airfoil.types import load_converters

            started = time.time()
            try:
                # Under the attempt's timer (a slow import is the attempt's, as in run_attempt)
                with _Timeout.of(request, in_process):
                    self.preload(request.task, request.code_root)  # the code root on sys.path
                    before_import()  # converter modules may configure logging too
                    load_converters(self._converters)
            except AirfoilError as exc:
                return ended_result(
                    request,
                    started=started,
                    worker=_worker_name(in_process),
                    error=_clipped(_error(ErrorKind.SYSTEM, exc)),
                )
            self._converters = ()
        return run_attempt(
            request,
            blobs,
            type_engine=self._codecs,
            in_process=in_process,
            child_calls=child_calls,
            task_types=self.task_types,
        )

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with hold_capture(), hold_sigint():
            yield

    @contextlib.contextmanager
    def worker_session(self) -> Iterator[None]:
        with hold_capture(), hold_fds(), hold_sigint():
            yield

    def open_blobs(self, url: str, durability: str = "process") -> BlobStore:
        from airfoil.store.blob import open_blob_store

        return open_blob_store(url, durability)

    def preload(self, task: TaskSpec, code_root: str) -> None:
        from airfoil.core.errors import AirfoilError

        try:
            load_task(task, code_root)
        except TaskTimeoutError:  # the attempt's timeout passed while it loaded
            raise
        except AirfoilError:  # reported by the attempt itself, with its context
            pass


def worker_runtime(converters: tuple[tuple[str, bool], ...] = ()) -> AttemptRuntime:
    """A worker process's runtime (a :data:`~airfoil.executors.base.RuntimeFactory`, or one
    once ``converters`` are bound with :func:`functools.partial`): the process's type engine
    with those converters added."""
    return WorkerRuntime(converters=converters)


def _write_notes(stamped: StampedLog, notes: Sequence[tuple[float, str]]) -> None:
    for at, text in notes:
        stamped.write_record("INFO", at, text)


def run_attempt(
    request: AttemptRequest,
    blobs: BlobStore,
    *,
    type_engine: TypeEngine | None = None,
    in_process: bool = False,
    child_calls: ChildTransport | None = None,
    task_types: TaskTypes | None = None,
) -> AttemptResult:
    """Run one attempt and report its outcome (never raises for the task's failures).

    With ``child_calls``, tasks the attempt calls run as durable child nodes through it
    (see :mod:`airfoil.runtime._children`); without, such calls are plain function calls.
    The task's type (``TaskSpec.task_type``) picks its runner from ``task_types`` (default:
    ``python`` and ``dynamic``).
    """
    started = time.time()
    known = tuple(v for v in request.secrets.values() if v) if request.secrets else ()
    log = _LiveLog(blobs, request.log_key, 0.5, known) if request.log_key else io.StringIO()
    stamped = StampedLog(log)  # lines and logging records with their time and level
    traceparent = request.context.get("traceparent", "")
    if traceparent.count("-") == 3:  # traced (an OTLP endpoint is configured): say which trace
        stamped.write_record("INFO", started, f"airfoil: trace_id={traceparent.split('-')[1]}")
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    ctx_obj: ExecutionContext | None = None
    old_env: dict[str, str | None] = {}
    vctx: ValueContext | None = None
    fd_output: list[str] = []
    metric_chunks = 0
    ran_version = ""
    signalled = sigints()  # a Ctrl-C, told from the task's own KeyboardInterrupt
    try:
        runner = (task_types or _DEFAULT_TYPES).get(request.task.task_type)
        # The timeout's interrupt covers loading the code and reading the inputs too; the
        # outputs, once the function returned, are bounded by the executor's hard stop only.
        with _Timeout.of(request, in_process) if request.task.timeout_s else _NO_TIMEOUT:
            taskdef = load_task(request.task, request.code_root)
            if request.task.cache.enabled and not request.task.cache.version:
                ran_version = _record_code_version(taskdef, request.task, blobs)
            # After loading: a task module may add converters to the process's engine.
            engine = type_engine or default_type_engine()
            vctx = ValueContext(blobs=blobs)
            iface = taskdef.py_interface
            if request.inputs.keys() != iface.input_types.keys():  # (one comparison in C)
                _check_inputs_match(request, iface)
            kwargs = {
                name: _read_input(engine, name, v, iface.input_types[name], vctx)
                for name, v in request.inputs.items()
            }
            if notes := blobs.take_notes():  # where the inputs came from (a node's blob cache)
                _write_notes(stamped, notes)
            # The context (and its child-call runner) is made when the task first asks for it
            # (current_context(), a call of another task): most attempts never do.
            lazy = LazyContext(partial(_make_context, request, blobs, stamped, child_calls, engine))
            if environment := request.task.environment:
                for k, v in environment.items():
                    old_env[k] = os.environ.get(k)
                    os.environ[k] = v
            token = set_context(lazy)
            try:
                # (an inline attempt captures its thread's streams, not the process's fds)
                with capture_streams(stamped, None if in_process else fd_output):
                    result = runner.run(taskdef, kwargs, request.task, blobs)
                    if isinstance(result, CoroutineType):  # (iscoroutine takes generators)
                        result = _run_coroutine(result)
            finally:
                ctx_obj = lazy.ctx
                if ctx_obj is not None and ctx_obj.child_runner is not None:
                    ctx_obj.child_runner.finish()
                reset_context(token)
        produced = runner.outputs(result, taskdef, engine, vctx)
        if request.secrets:
            refuse_secret_outputs(produced, request.secrets, blobs, request.task.name)
        outputs = produced
    except TaskTimeoutError as exc:
        error = _error(ErrorKind.SYSTEM, exc)
    except MemoryError as exc:
        error = _error(ErrorKind.SYSTEM, OutOfMemoryError(f"the attempt ran out of memory: {exc}"))
    except CorruptBlobError as exc:  # reading the same damaged bytes again cannot succeed
        error = _error(ErrorKind.DATA, exc)
    except PlatformError as exc:
        error = _error(ErrorKind.SYSTEM, exc)
    except OutputError as exc:
        error = _error(ErrorKind.USER, exc.cause)
    except KeyboardInterrupt as exc:
        if signalled is not None and sigints() == signalled:  # the task's own: its failure
            said = f" ({message})" if (message := _message(exc)) else ""
            error = msgspec.structs.replace(
                _error(ErrorKind.USER, exc), message=_OWN_INTERRUPT + said
            )
        elif in_process:  # Ctrl-C in an inline run stops the run, as the user asked...
            _keep_interrupted_log(log, blobs, request.log_key, known)  # ...its log so far
            raise
        else:
            error = _error(ErrorKind.SYSTEM, PlatformError("the attempt was interrupted"))
    except BaseException as exc:  # the user-code boundary (SystemExit included)
        error = _error(ErrorKind.USER, exc)
    finally:
        if old_env:
            _restore_environment(old_env)
        if ctx_obj is not None:
            if ctx_obj._metrics is not None:  # flush what the task logged
                metric_chunks = ctx_obj._metrics.close()
            if ctx_obj._report:  # only a task that reported writes anything
                page = ctx_obj._report.render()  # read by the project's viewers: redacted
                _write_report(blobs, request, scrub(page, known) if known else page, stamped)
            ctx_obj.cleanup()
        if vctx is not None:
            vctx.close()  # materialised input files of this attempt
    if notes := blobs.take_notes():  # blobs the task itself read
        _write_notes(stamped, notes)
    if isinstance(log, _LiveLog):
        log.finish()  # no more copies while the tail is written
    # what bypassed Python's streams (C code, subprocesses), stamped as the attempt ends
    if fd_output:
        stamped.write_stream("OUT", "".join(fd_output))
    if error is not None and known:
        error = _scrub_error(error, known)
    if error is not None:
        error = _clipped(error)
    if error is not None and error.traceback:
        stamped.write_record("ERROR", time.time(), error.traceback.rstrip("\n"))
    text = log.getvalue()
    if known:
        text = scrub(text, known)
    log_uri = ""
    if text and request.log_key:
        try:
            log_uri = blobs.append_text(request.log_key, text)
        except Exception:  # logs are best effort; never fail a finished attempt on them
            log_uri = ""
    if isinstance(log, _LiveLog):
        log.drop_copy()
    return ended_result(
        request,
        started=started,
        worker=_worker_name(in_process),
        outputs=outputs,
        error=error,
        log_uri=log_uri,
        metric_chunks=metric_chunks,
        ran_version=ran_version,
    )


def _restore_environment(old_env: dict[str, str | None]) -> None:
    for k, old in old_env.items():
        if old is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = old


def _worker_name(in_process: bool) -> str:
    """``host:pid`` (``:worker`` added in a worker process), made once per process: a forked
    child forgets the parent's names (:func:`at_fork_in_child`), so it never reports the
    parent's pid, and no attempt pays a ``getpid`` system call."""
    global _names
    if _names is None:
        at_fork_in_child(_forget_names)  # on first use, not at import
        pid = os.getpid()
        _names = (f"{_HOST}:{pid}", f"{_HOST}:{pid}:worker")
    return _names[0] if in_process else _names[1]


def _forget_names() -> None:
    global _names
    _names = None


_names: tuple[str, str] | None = None


def _make_context(
    request: AttemptRequest,
    blobs: BlobStore,
    stamped: StampedLog,
    child_calls: ChildTransport | None,
    types: TypeEngine,
) -> ExecutionContext:
    """The context of the attempt ``request`` asks for (see :class:`LazyContext`)."""
    children = None
    if child_calls is not None:
        children = ChildCaller(
            child_calls,
            execution_id=request.execution_id,
            node_id=request.node_id,
            attempt=request.attempt,
            blobs=blobs,
            types=types,
        )
    return ExecutionContext(
        execution_id=request.execution_id,
        node_id=request.node_id,
        attempt=request.attempt,
        task=request.task.name,
        secrets=Secrets(request.secrets) if request.secrets else _NO_SECRETS,
        context=dict(request.context),
        log_stream=stamped,
        child_runner=children,
        blobs=blobs,
        metric_writer=_metric_writer(blobs, request),
        project=request.project,
        domain=request.domain,
        execution_name=request.execution_name or request.execution_id,
    )


def _metric_writer(blobs: BlobStore, request: AttemptRequest) -> Callable[[int, bytes], None]:
    """Writes an attempt's metric chunks to the blob store (see :mod:`airfoil.core.metrics`)."""
    eid, nid, attempt = request.execution_id, request.node_id, request.attempt

    def write(index: int, data: bytes) -> None:
        blobs.put_bytes(metric_chunk_key(eid, nid, attempt, index), data)

    return write


def _write_report(blobs: BlobStore, request: AttemptRequest, page: str, log: Any) -> None:
    """Store an attempt's report (best effort: a note in the log if it cannot be written)."""
    key = report_key(request.execution_id, request.node_id, request.attempt)
    try:
        blobs.put_bytes(key, page.encode("utf-8"))
    except Exception as exc:
        log.write(f"airfoil: the report could not be stored: {exc}\n")


def _keep_interrupted_log(
    log: Any, blobs: BlobStore, log_key: str, secrets: tuple[str, ...]
) -> None:
    """Write an interrupted attempt's log so far where a finished attempt's log goes (best
    effort: the interrupt must still stop the run)."""
    text = log.finish() if isinstance(log, _LiveLog) else log.getvalue()
    if secrets:  # as a finished attempt's log: no value the task printed
        text = scrub(text, secrets)
    if not log_key:
        return
    try:
        blobs.append_text(log_key, text + "(interrupted: Ctrl-C stopped this attempt here)\n")
    except Exception:  # logs are best effort
        return
    if isinstance(log, _LiveLog):
        log.drop_copy()
