"""``airfoil server start`` with every thread under cProfile and every SQL statement counted.

Used by ``bench_server.py --profile DIR`` (not a user entry point): it runs the CLI in this
process with ``threading.Thread.run`` (and AnyIO's worker threads, where the API's routes
run) wrapped so each thread gets its own profiler of the thread's CPU time (not wall time:
waits cost nothing), the psycopg cursor's ``execute``/``executemany`` wrapped to count
statements by kind, and the metadata store's ``write`` wrapped to count its batches' records
by kind. At exit (SIGTERM: the server stops gracefully) it writes
``DIR/threads.prof`` (all threads merged, for ``pstats``; ``main.prof`` and one per kind
of thread too) and ``DIR/statements.json``
(statement counts, ``executemany`` rows, and CPU seconds per kind of thread).
``AIRFOIL_PROFILE_CPROFILE=0`` leaves cProfile out (CPU per thread kind only).

    AIRFOIL_PROFILE_DIR=out python benchmarks/_profiled_server.py server start ...
"""

from __future__ import annotations

import atexit
import cProfile
import json
import os
import pstats
import re
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

OUT = os.environ["AIRFOIL_PROFILE_DIR"]
PREFIX = ""  # "engine_" in the server's engine process (``_in_forked_child``)
_profiles: list[tuple[str, cProfile.Profile]] = []
_lock = threading.Lock()
statements: Counter[str] = Counter()
rows: Counter[str] = Counter()
records: Counter[str] = Counter()
thread_cpu: Counter[str] = Counter()
#: ``AIRFOIL_PROFILE_CPROFILE=0``: only CPU seconds per kind of thread, no cProfile.
PROFILE = os.environ.get("AIRFOIL_PROFILE_CPROFILE", "1") != "0"


def _kind(sql: Any) -> str:
    text = str(sql).strip()
    word = text.split(None, 1)[0].upper() if text else "?"
    table = re.search(r"\b(?:INTO|UPDATE|FROM)\s+\"?(\w+)", text, re.IGNORECASE)
    return f"{word} {table.group(1)}" if table and word != "BEGIN" else word


def _group(name: str) -> str:
    """A thread's kind: its name without the execution id or number in it."""
    if name.startswith("airfoil-lease-"):
        return "airfoil-lease"
    return re.sub(r"-\d+", "", name)


def _patch_threads() -> None:
    from anyio._backends._asyncio import WorkerThread  # the API's sync routes run there

    _wrap(threading.Thread)
    _wrap(WorkerThread)


def _wrap(cls: type[threading.Thread]) -> None:
    original = cls.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile(time.thread_time) if PROFILE else None
        if prof is not None:
            with _lock:
                _profiles.append((_group(self.name), prof))
            prof.enable()
        try:
            original(self)
        finally:
            if prof is not None:
                prof.disable()
            with _lock:
                thread_cpu[_group(self.name)] += time.thread_time()

    cls.run = run  # type: ignore[method-assign]


def _patch_psycopg() -> None:
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        statements[_kind(query)] += 1
        return execute(self, query, params, **kw)

    def counted_executemany(self: Any, query: Any, params_seq: Any, **kw: Any) -> Any:
        params_seq = list(params_seq)
        statements[_kind(query) + " (executemany)"] += 1
        rows[_kind(query)] += len(params_seq)
        return executemany(self, query, params_seq, **kw)

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]


def _patch_store() -> None:
    """Count the records of each batch the metadata store writes, by kind (``batch_records``:
    the rows a fenced statement's arrays carry, which statement counts do not show)."""
    from airfoil.store.sql import SqlMetaStore

    write = SqlMetaStore.write

    def counted_write(self: Any, batch: Any) -> None:
        records["batches" + (" (fenced)" if batch.lease is not None else "")] += 1
        records["execution"] += batch.execution is not None
        records["nodes"] += len(batch.nodes)
        records["attempts"] += len(batch.attempts)
        records["events"] += len(batch.events)
        records["cache_puts"] += len(batch.cache_puts)
        write(self, batch)

    SqlMetaStore.write = counted_write  # type: ignore[method-assign]


def _dump() -> None:
    with _lock:
        profiles = list(_profiles)
        thread_cpu["main (asyncio: the API)"] += time.thread_time()
        counted = sum(thread_cpu.values())
        thread_cpu["other threads (the API's thread pool, ...)"] = time.process_time() - counted
        for t in threading.enumerate():  # still running (daemons)
            if t is not threading.main_thread():
                thread_cpu[_group(t.name) + " (still running: not counted)"] += 0
    if PROFILE:
        main.disable()
        stats = pstats.Stats(main)
        stats.dump_stats(os.path.join(OUT, PREFIX + "main.prof"))
        kinds: dict[str, pstats.Stats] = {}
        for kind, p in profiles:
            p.disable()
            try:
                stats.add(p)
                if kind in kinds:
                    kinds[kind].add(p)
                else:
                    kinds[kind] = pstats.Stats(p)
            except TypeError:  # a profiler that never recorded anything
                pass
        stats.dump_stats(os.path.join(OUT, PREFIX + "threads.prof"))
        for kind, kstats in kinds.items():
            kstats.dump_stats(os.path.join(OUT, PREFIX + re.sub(r"\W+", "_", kind) + ".prof"))
    with open(os.path.join(OUT, PREFIX + "statements.json"), "w") as f:
        json.dump(
            {
                "statements": dict(statements),
                "executemany_rows": dict(rows),
                "batch_records": dict(records),
                "thread_cpu_s": {k: round(v, 3) for k, v in thread_cpu.most_common()},
            },
            f,
            indent=1,
        )


_patch_threads()
_patch_psycopg()
_patch_store()
main = cProfile.Profile(time.thread_time)
atexit.register(_dump)
_SERVER_PID = os.getpid()


def _in_forked_child() -> None:
    """The server's engine process (its driver slots), forked from the server at its start:
    its files are named ``engine_*``, counted from the fork on, and written when its
    ``serve_engine`` returns (the child ends with ``os._exit``: no atexit). Processes forked
    from others (the workers, from multiprocessing's fork server, which imports this file as
    ``__mp_main__``) write nothing."""
    global PREFIX
    engine = sys.modules.get("airfoil.server._engine_process")
    if os.getppid() != _SERVER_PID or __name__ != "__main__" or engine is None:
        return
    PREFIX = "engine_"
    statements.clear()
    rows.clear()
    records.clear()
    thread_cpu.clear()
    _profiles.clear()
    main.clear()
    serve = engine.serve_engine

    def serve_then_dump(*args: Any, **kwargs: Any) -> None:
        try:
            serve(*args, **kwargs)
        finally:
            _dump()

    engine.serve_engine = serve_then_dump


os.register_at_fork(after_in_child=_in_forked_child)
if PROFILE:
    main.enable()

if __name__ == "__main__":
    from airfoil.cli.main import main as cli

    # uvicorn re-raises the SIGTERM it stopped on once the server is down: exit normally
    # then, so the atexit hook writes the profile.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["airfoil", *sys.argv[1:]]
    cli()
