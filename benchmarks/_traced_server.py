"""``airfoil server start`` with every API request's phases traced (a diagnostic, not a
user entry point): used by ``bench_server.py --trace FILE``.

Each HTTP request gets one JSON line in ``AIRFOIL_TRACE_FILE`` when its response has been
sent: its path, its ``x-probe`` header (the benchmark's prober numbers its requests), when
the app got it (``time.time()``), its total time in the app, and for each hop to the thread
pool (FastAPI runs sync dependencies, sync routes and the validation of their answers
there) how long it waited for a thread (``queued``: submitted on the event loop until the
thread started it), how long it ran (wall, and the thread's own CPU) and how long the
event loop took to resume the request after the thread was done (``resumed``); the SQL
statements run inside each hop (count and wall time) and the slowest of them (``worst``:
its wall ms, its text, then from ``/proc/<pid>/schedstat`` the ms its PostgreSQL backend
ran and waited for a core meanwhile, and the ms this thread waited for one: what is left of
the wall time was neither running nor runnable, e.g. a lock). The rest of the request's
time is the event loop's own work for it (routing, encoding, sending) plus waits for the loop.

A second record kind, ``{"lag": ...}``, is written whenever a 2 ms ``asyncio.sleep`` on
the event loop woke more than 10 ms late (the loop was busy or did not get the GIL), with
how late it was; ``{"gil": ...}`` lines give, every 0.5 s, the CPU seconds each kind of
thread of the process used in it; ``{"gc": generation, "ms": ...}`` lines each garbage
collection over 5 ms (its process, the thread that paid for it, and for a full one the objects
it tracks), in the server and in its engine process, and ``{"gc_total": ...}`` lines every
collection's time and count so far per generation (each process, at each full collection and
every 500th of a generation). ``AIRFOIL_TRACE_TYPES=1`` adds, at each
full collection, the 25 most common types of the objects tracked. ``{"connect": ms}`` lines
each new PostgreSQL connection (its process, its thread, how long it took to open).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import os
import re
import signal
import sys
import threading
import time
from typing import Any

OUT = os.environ["AIRFOIL_TRACE_FILE"]
_out = open(OUT, "a", buffering=1)  # noqa: SIM115
_out_lock = threading.Lock()
_trace: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "_trace", default=None
)
_sql = threading.local()


def _write(record: dict[str, Any]) -> None:
    with _out_lock:
        _out.write(json.dumps(record) + "\n")


def _name(func: Any) -> str:
    """A callable's name (never its repr: a partial's holds the server's whole state)."""
    while isinstance(func, functools.partial):
        kw = func.keywords.get("function")  # FastAPI's _run_sync_endpoint(function=route)
        func = kw if kw is not None else func.func
    return str(getattr(func, "__qualname__", type(func).__name__))[-40:]


def _patch_threadpool() -> None:
    import anyio.to_thread

    original = anyio.to_thread.run_sync

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        trace = _trace.get()
        if trace is None:
            return await original(func, *args, **kwargs)
        hop: dict[str, Any] = {"fn": _name(func)}
        submitted = time.perf_counter()

        def timed(*a: Any) -> Any:
            started = time.perf_counter()
            cpu = time.thread_time()
            _sql.n, _sql.s, _sql.worst = 0, 0.0, (0.0,)
            try:
                return func(*a)
            finally:
                ended = time.perf_counter()
                hop["queued"] = round((started - submitted) * 1000, 2)
                hop["ran"] = round((ended - started) * 1000, 2)
                hop["cpu"] = round((time.thread_time() - cpu) * 1000, 2)
                hop["sql_n"], hop["sql_ms"] = _sql.n, round(_sql.s * 1000, 2)
                if _sql.worst[0] > 0.005:
                    hop["worst"] = [round(_sql.worst[0] * 1000, 1), *_sql.worst[1:]]
                hop["_ended"] = ended

        try:
            return await original(timed, *args, **kwargs)
        finally:
            if "_ended" in hop:
                hop["resumed"] = round((time.perf_counter() - hop.pop("_ended")) * 1000, 2)
            trace["hops"].append(hop)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


def _patch_psycopg() -> None:
    import psycopg

    execute = psycopg.Cursor.execute

    def timed_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        traced = hasattr(_sql, "n")
        if traced:
            backend = _schedstat(f"/proc/{self.connection.info.backend_pid}/schedstat")
            mine = _schedstat(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        t0 = time.perf_counter()
        try:
            return execute(self, query, params, **kw)
        finally:
            if traced:
                took = time.perf_counter() - t0
                _sql.n += 1
                _sql.s += took
                if took > _sql.worst[0]:
                    # (wall, the statement, its backend's CPU and wait for a core, and this
                    # thread's wait for a core, ms): what is left of the wall time is
                    # neither running nor runnable (a lock, I/O, the socket)
                    b = _schedstat(f"/proc/{self.connection.info.backend_pid}/schedstat")
                    m = _schedstat(f"/proc/self/task/{threading.get_native_id()}/schedstat")
                    _sql.worst = (
                        took,
                        " ".join(str(query).split())[:60],
                        round((b[0] - backend[0]) / 1e6, 1),
                        round((b[1] - backend[1]) / 1e6, 1),
                        round((m[1] - mine[1]) / 1e6, 1),
                    )

    psycopg.Cursor.execute = timed_execute  # type: ignore[method-assign]

    connect = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def timed_connect(cls: Any, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return connect(cls, *args, **kw)
        finally:
            _write(
                {
                    "connect": round((time.perf_counter() - t0) * 1000, 2),
                    "thread": threading.current_thread().name,
                    "pid": os.getpid(),
                    "at": time.time(),
                }
            )

    psycopg.Connection.connect = classmethod(timed_connect)  # type: ignore[method-assign,assignment]
    psycopg.connect = psycopg.Connection.connect  # the module's alias, bound at its import


def _schedstat(path: str) -> tuple[int, int]:
    """A task's nanoseconds on a CPU and waiting for one (``/proc/.../schedstat``)."""
    try:
        with open(path) as f:
            run, wait, _ = f.read().split()
        return int(run), int(wait)
    except (OSError, ValueError):
        return 0, 0


def _patch_app() -> None:
    from fastapi import FastAPI

    original = FastAPI.__call__
    started = False

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        if not started:
            started = True
            asyncio.get_running_loop().create_task(_lag())
            threading.Thread(target=_cpu_by_thread, name="trace-cpu", daemon=True).start()
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        trace = {
            "path": scope["path"],
            "probe": headers.get(b"x-probe", b"").decode() or None,
            "at": time.time(),
            "hops": [],
        }
        token = _trace.set(trace)
        t0 = time.perf_counter()
        try:
            await original(self, scope, receive, send)
        finally:
            _trace.reset(token)
            trace["total"] = round((time.perf_counter() - t0) * 1000, 2)
            _write(trace)

    FastAPI.__call__ = call  # type: ignore[method-assign]


async def _lag() -> None:
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(0.002)
        late = time.perf_counter() - t0 - 0.002
        if late > 0.010:
            _write({"lag": round(late * 1000, 2), "at": time.time()})


def _cpu_by_thread() -> None:
    """CPU seconds per kind of thread every 0.5 s (from /proc: no GIL needed to be fair)."""
    pid = os.getpid()
    last: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    while True:
        now: dict[str, float] = {}
        names: dict[str, str] = {t.native_id: t.name for t in threading.enumerate()}  # type: ignore[misc]
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kind = re.sub(r"[-_]\d+", "", names.get(int(tid), "anon"))  # type: ignore[call-overload]
            now[tid + ":" + kind] = (int(fields[11]) + int(fields[12])) / tick
        grew: dict[str, float] = {}
        for key, v in now.items():
            kind = key.split(":", 1)[1]
            grew[kind] = grew.get(kind, 0.0) + v - last.get(key, v)
        last = now
        _write({"gil": {k: round(v, 3) for k, v in grew.items() if v > 0}, "at": time.time()})
        time.sleep(0.5)


def _patch_gc() -> None:
    """A ``{"gc": ...}`` line for every collection over 5 ms: its generation, its time, the
    thread that paid for it, and how many objects the collector tracked."""
    import gc

    started: list[float] = [0.0]
    # Every collection's time and count by generation, this process (``gc_total`` lines).
    totals = [[0.0, 0], [0.0, 0], [0.0, 0]]

    def observe(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        total = totals[info["generation"]]
        total[0] += took
        total[1] += 1
        if info["generation"] == 2 or total[1] % 500 == 0:
            _write(
                {
                    "gc_total": [[round(ms * 1000, 1), n] for ms, n in totals],
                    "pid": os.getpid(),
                    "at": time.time(),
                }
            )
        if info["generation"] == 2 and os.environ.get("AIRFOIL_TRACE_TYPES"):
            from collections import Counter

            kinds = Counter(type(o).__qualname__ for o in gc.get_objects())
            _write({"types": kinds.most_common(25), "pid": os.getpid(), "at": time.time()})
        if took > 0.005:
            _write(
                {
                    "gc": info["generation"],
                    "ms": round(took * 1000, 2),
                    "thread": threading.current_thread().name,
                    "pid": os.getpid(),
                    "objects": len(gc.get_objects()) if info["generation"] == 2 else None,
                    "at": time.time(),
                }
            )

    gc.callbacks.append(observe)


_patch_threadpool()
_patch_psycopg()
_patch_gc()
_patch_app()

if __name__ == "__main__":
    from airfoil.cli.main import main as cli

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["airfoil", *sys.argv[1:]]
    cli()
