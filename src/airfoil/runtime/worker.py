"""Running one attempt: inputs -> user function -> outputs, with logs and a user-code boundary.

``run_attempt`` never raises for anything the task does: every outcome is an
:class:`~airfoil.executors.base.AttemptResult` with outputs, or an error of kind ``user``
(the task's code raised, or returned a value that does not fit its type) or ``system``
(timeout, out of memory, code that cannot be loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import threading
import time
import traceback
from typing import Any

from airfoil.core.errors import (
    OutOfMemoryError,
    PlatformError,
    TaskTimeoutError,
    TypeTransformError,
)
from airfoil.core.ids import sha256_hex
from airfoil.core.records import ErrorInfo, Value, encode_json
from airfoil.executors.base import AttemptRequest, AttemptResult, live_log_key
from airfoil.runtime._children import ChildCaller, ChildTransport
from airfoil.runtime.loader import load_task
from airfoil.store.base import BlobStore

__all__ = ["run_attempt"]

_HOST = socket.gethostname()


class _Timeout:
    """Stops an in-process attempt after ``seconds`` (main thread only, via SIGALRM).

    Nests: a child attempt run inside its caller (inline composition) arms its own timer,
    bounded by what is left of the caller's, and hands the caller's back, less the time the
    child took, when it ends -- so the caller's timeout still holds after the call.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
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
            self._outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
            self._started = time.monotonic()

            def on_alarm(_sig: int, _frame: Any) -> None:
                raise TaskTimeoutError(f"the attempt ran past its timeout of {seconds:g}s")

            self._old = signal.signal(signal.SIGALRM, on_alarm)
            left = self._outer_left
            signal.setitimer(signal.ITIMER_REAL, min(seconds, left) if left > 0 else seconds)
            self.armed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            if self._outer_left > 0:  # the caller's timer goes on where it was
                used = time.monotonic() - self._started
                signal.setitimer(signal.ITIMER_REAL, max(0.001, self._outer_left - used))


def _run_coroutine(coro: Any) -> Any:
    """Run an ``async def`` task's coroutine; inside a running event loop (an async task
    calling an async task) in a thread of its own, with this context."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures
    import contextvars

    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(ctx.run, asyncio.run, coro).result()


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame outside Airfoil's own runtime."""
    tb = exc.__traceback__
    while tb is not None and "/airfoil/runtime/" in tb.tb_frame.f_code.co_filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _error(kind: str, exc: BaseException) -> ErrorInfo:
    etype = type(exc)
    # Builtins and Airfoil's own errors by bare name; user-defined types fully qualified.
    if etype.__module__ == "builtins" or etype.__module__.startswith("airfoil."):
        name = etype.__qualname__
    else:
        name = f"{etype.__module__}.{etype.__qualname__}"
    return ErrorInfo(kind=kind, type=name, message=str(exc), traceback=_user_traceback(exc))


class _LiveLog(io.StringIO):
    """An attempt's log that is also copied to the blob store while the attempt runs (at most
    every ``interval`` seconds after something is written), so it can be tailed; the copy is
    removed when the attempt ends and its whole log is written."""

    def __init__(self, blobs: BlobStore, key: str, interval: float = 0.5) -> None:
        super().__init__()
        self._blobs, self._key, self._interval = blobs, key, interval
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done = False
        self._copied = False

    def write(self, s: str) -> int:
        n = super().write(s)
        with self._lock:
            if self._timer is None and not self._done:
                self._timer = threading.Timer(self._interval, self._copy)
                self._timer.daemon = True
                self._timer.start()
        return n

    def _copy(self) -> None:
        with self._lock:
            self._timer = None
            if self._done:
                return
            try:
                self._blobs.put_bytes(self._key, self.getvalue().encode("utf-8", "replace"))
                self._copied = True
            except Exception:  # logs are best effort
                pass

    def finish(self) -> str:
        """Stop copying and return the whole log."""
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()
        return self.getvalue()

    def drop_copy(self) -> None:
        """Remove the copy (once the whole log is written)."""
        if self._copied:
            try:
                self._blobs.delete(self._blobs.uri(self._key))
            except Exception:  # logs are best effort
                pass


def run_attempt(
    request: AttemptRequest,
    blobs: BlobStore,
    *,
    type_engine: Any = None,
    in_process: bool = False,
    child_calls: ChildTransport | None = None,
) -> AttemptResult:
    """Run one attempt and report its outcome (never raises for the task's failures).

    With ``child_calls``, tasks the attempt calls run as durable child nodes through it
    (see :mod:`airfoil.runtime._children`); without, such calls are plain function calls.
    """
    from airfoil.sdk._context import ExecutionContext, reset_context, set_context
    from airfoil.types import ValueContext, default_type_engine

    started = time.time()
    engine = type_engine or default_type_engine()
    log = _LiveLog(blobs, live_log_key(request.log_key)) if request.log_key else io.StringIO()
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    ctx_obj: ExecutionContext | None = None
    old_env: dict[str, str | None] = {}
    vctx: Any = None
    children: ChildCaller | None = None
    try:
        taskdef = load_task(request.task, request.code_root)
        vctx = ValueContext(blobs=blobs)
        iface = taskdef.py_interface
        kwargs = {
            name: engine.to_python(v, iface.input_types[name], vctx)
            for name, v in request.inputs.items()
        }
        if child_calls is not None:
            children = ChildCaller(
                child_calls,
                execution_id=request.execution_id,
                node_id=request.node_id,
                attempt=request.attempt,
                blobs=blobs,
                types=engine,
            )
        ctx_obj = ExecutionContext(
            execution_id=request.execution_id,
            node_id=request.node_id,
            attempt=request.attempt,
            task=request.task.name,
            secrets=dict(request.secrets),
            log_stream=log,
            child_runner=children,
        )
        for k, v in request.task.environment.items():
            old_env[k] = os.environ.get(k)
            os.environ[k] = v
        token = set_context(ctx_obj)
        dynamic = request.task.task_type == "dynamic"
        try:
            with _Timeout(request.task.timeout_s), contextlib.redirect_stdout(log):
                result = taskdef.build(kwargs, blobs) if dynamic else taskdef.fn(**kwargs)
                if asyncio.iscoroutine(result):
                    result = _run_coroutine(result)
        finally:
            if children is not None:
                children.finish()
            reset_context(token)
        if dynamic:
            payload = encode_json(result)
            outputs = {
                "__dynamic__": Value(
                    hash=sha256_hex(payload),
                    format="af-dynamic",
                    inline=payload,
                    size=len(payload),
                )
            }
        else:
            outputs = _encode_outputs(result, taskdef, engine, vctx)
    except TaskTimeoutError as exc:
        error = _error("system", exc)
    except MemoryError as exc:
        error = _error("system", OutOfMemoryError(f"the attempt ran out of memory: {exc}"))
    except PlatformError as exc:
        error = _error("system", exc)
    except _OutputError as exc:
        error = _error("user", exc.cause)
    except KeyboardInterrupt:
        if in_process:  # Ctrl-C in an inline run stops the run, as the user asked...
            _keep_interrupted_log(log, blobs, request.log_key)  # ...keeping its log so far
            raise
        error = _error("system", PlatformError("the attempt was interrupted"))
    except BaseException as exc:  # the user-code boundary (SystemExit included)
        error = _error("user", exc)
    finally:
        for k, old in old_env.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        if ctx_obj is not None:
            ctx_obj.cleanup()
        if vctx is not None:
            vctx.close()  # materialised input files of this attempt
    text = log.finish() if isinstance(log, _LiveLog) else log.getvalue()
    if error is not None and error.traceback:
        text += error.traceback
    log_uri = ""
    if text and request.log_key:
        try:
            log_uri = blobs.append_text(request.log_key, text)
        except Exception:  # logs are best effort; never fail a finished attempt on them
            log_uri = ""
    if isinstance(log, _LiveLog):
        log.drop_copy()
    return AttemptResult(
        execution_id=request.execution_id,
        node_id=request.node_id,
        attempt=request.attempt,
        started_at=started,
        ended_at=time.time(),
        outputs=outputs,
        error=error,
        log_uri=log_uri,
        worker=f"{_HOST}:{os.getpid()}" + ("" if in_process else ":worker"),
    )


def _keep_interrupted_log(log: Any, blobs: BlobStore, log_key: str) -> None:
    """Write an interrupted attempt's log so far where a finished attempt's log goes (best
    effort: the interrupt must still stop the run)."""
    text = log.finish() if isinstance(log, _LiveLog) else log.getvalue()
    if not log_key:
        return
    try:
        blobs.append_text(log_key, text + "(interrupted: Ctrl-C stopped this attempt here)\n")
    except Exception:  # logs are best effort
        return
    if isinstance(log, _LiveLog):
        log.drop_copy()


class _OutputError(Exception):
    def __init__(self, cause: BaseException) -> None:
        self.cause = cause


def _encode_outputs(result: Any, taskdef: Any, engine: Any, vctx: Any) -> dict[str, Value]:
    iface = taskdef.py_interface
    style = iface.interface.output_style
    try:
        if style == "none":
            return {}
        if style == "single":
            return {"o0": engine.to_value(result, iface.output_types["o0"], vctx)}
        names = list(iface.output_types)
        if not isinstance(result, tuple) or len(result) != len(names):
            raise TypeTransformError(
                f"task {taskdef.name!r} must return a {iface.interface.output_tuple_name} "
                f"({', '.join(names)}), got {type(result).__name__}"
            )
        return {
            n: engine.to_value(v, iface.output_types[n], vctx)
            for n, v in zip(names, result, strict=True)
        }
    except TypeTransformError as exc:
        raise _OutputError(
            TypeTransformError(f"task {taskdef.name!r} returned a bad output: {exc}")
        ) from exc
