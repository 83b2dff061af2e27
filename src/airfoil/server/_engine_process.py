"""The driver slots in a process of their own, beside the server's API process.

The API's requests and the driver slots used to share one interpreter: every database call a
request made gave up the GIL and waited for it behind four slots computing state machines and
store batches, so the API's latency under the engine's load followed the engine's work
(p99 140-300 ms at 600-900 tasks/s). ``airfoil server start`` on PostgreSQL (see
``ServerConfig.engine_process``) runs the slots in a child process instead:

- the API process keeps the API, the console, the schedules loop and the deployments'
  supervisor; :class:`EngineProcess` stands for the driver there (``notify``, ``alive``,
  ``paused``, ``busy``, ``stop``: what the API asks a driver);
- the engine process (forked at the server's start, before any other thread; spawned when
  threads run, e.g. a restart) opens its own stores and connections and runs a
  :class:`~airfoil.server._driver.Driver` with its own runtime: every durability guarantee is
  the driver's and the store's, as in one process (leases, fencing, pauses, recovery);
- they talk over one pipe: the API sends ``wake`` (an execution was launched) and ``stop``;
  the engine sends its status (slots alive, paused and driven executions) when it changes,
  the metrics the driver's hooks found (finished attempts, cache lookups, restarts, pauses),
  which the API process's ``/metrics`` counts;
- the engine process ends when the API process does: ``stop`` releases its leases and stops
  its workers; if the API process dies without a word (SIGKILL), the pipe ends and the engine
  stops the same way, so no orphan keeps driving; Ctrl-C (SIGINT to the terminal's process
  group) is left to the API process, which stops the engine; a SIGTERM sent to the engine
  process alone stops it gracefully too;
- an engine process that ends while the server runs (killed, out of memory) is started again
  after ``restart_after_s`` (counted as a driver restart, reason ``died``); the executions it
  held are taken back when their leases expire (or at once, after a graceful stop).

Both processes share the admission authority through the database (``AIRFOIL_ADMISSION``
``database``, the default on PostgreSQL), which is why a server on SQLite, whose resource
queue lives in its process, keeps its slots in one process with its API.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from airfoil.server._config import ENGINE_STOP_MARGIN_S, freeze_heap
from airfoil.server._driver import Driver
from airfoil.server._metrics import Metrics

if TYPE_CHECKING:
    from airfoil.local import Runtime
    from airfoil.server._config import ServerConfig

__all__ = ["EngineProcess", "serve_engine"]

log = logging.getLogger("airfoil.server")

#: How often the engine process looks whether its status changed.
_STATUS_EVERY_S = 0.1


class EngineProcess:
    """The driver of an API process whose slots run in a child process.

    Args:
        config: the server's configuration (pickled when the child is spawned).
        target: the child's entry, ``target(config, connection, switch_interval,
            close_fd)``: a module-level function that closes ``close_fd`` (the API's end of
            the pipe in a forked child; -1 when spawned), opens the runtime and calls
            :func:`serve_engine`.
        metrics: the API process's metrics, which count what the engine reports (settable
            later: the engine may start before the API process has opened its stores).
        restart_after_s: wait before starting an engine process that ended unasked.
    """

    def __init__(
        self,
        config: ServerConfig,
        target: Callable[[ServerConfig, Connection, float, int], None],
        metrics: Metrics | None = None,
        *,
        restart_after_s: float = 1.0,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.target = target
        self.restart_after_s = restart_after_s
        #: Fork the engine process when this process runs no other thread (else spawn it).
        self.fork_when_alone = "fork" in multiprocessing.get_all_start_methods()
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # the process, its pipe and its status
        self._proc: Any = None  # a multiprocessing Process (forked or spawned)
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._alive = False
        self._starting = False
        self._paused: frozenset[str] = frozenset()
        self._busy: tuple[str, ...] = ()

    # --- what the API asks a driver ------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The engine process's pid (None before it started)."""
        proc = self._proc
        return None if proc is None else int(proc.pid)

    @property
    def paused(self) -> frozenset[str]:
        """Executions paused through a database outage (as last reported)."""
        return self._paused

    def busy(self) -> list[str]:
        """Executions being driven (as last reported)."""
        return list(self._busy)

    def alive(self) -> bool:
        """Whether the engine process runs and reported every slot running."""
        proc = self._proc
        return not self.stopping.is_set() and proc is not None and proc.is_alive() and self._alive

    def starting(self) -> bool:
        """Whether the engine process is opening its stores or starting its workers (as
        last reported): not ready yet, as it should be."""
        proc = self._proc
        return (
            not self.stopping.is_set() and proc is not None and proc.is_alive() and self._starting
        )

    def notify(self) -> None:
        """Wake idle slots (an execution was launched)."""
        self._send(("wake",))

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine process (nothing if it runs already)."""
        if self._proc is not None and self._proc.is_alive() and not self.stopping.is_set():
            return
        self.stopping.clear()
        self._spawn()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the engine process: its slots release their leases and stop their workers
        (within the config's ``stop_grace_s``; killed if it takes ``timeout_s``, default
        that plus ``ENGINE_STOP_MARGIN_S``)."""
        if timeout_s is None:
            timeout_s = float(self.config.stop_grace_s + ENGINE_STOP_MARGIN_S)
        self.stopping.set()
        with self._lock:
            proc, reader = self._proc, self._reader
        self._send(("stop",))
        if proc is not None:
            _stop_or_kill(proc, timeout_s)
        if reader is not None and reader is not threading.current_thread():
            reader.join(5)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._alive = False

    def _spawn(self) -> None:
        # Forked while this process has no other thread (the server's start: nothing to
        # import again, the engine is up as soon as its stores are open; no lock can be held
        # by a thread the child lacks), spawned otherwise (a restart, a server in a thread).
        alone = threading.active_count() == 1 and self.fork_when_alone
        ctx: Any = multiprocessing.get_context("fork" if alone else "spawn")
        # No fields that only make sense here (the Ray Serve factory is the supervisor's).
        config = replace(self.config, ray_serve=None)
        with self._lock:  # stop() sees either this process or, set before, ``stopping``
            if self.stopping.is_set():
                return
            ours, theirs = ctx.Pipe()
            # A forked child holds a copy of our end too: it closes it, so that our death
            # ends its reads.
            close_fd = ours.fileno() if alone else -1
            proc = ctx.Process(
                target=self.target,
                args=(config, theirs, sys.getswitchinterval(), close_fd),
                name="airfoil-engine",
                daemon=False,  # its slots start worker processes
            )
            proc.start()
            theirs.close()  # the child's end: so its death ends our reads
            self._proc, self._conn = proc, ours
            self._alive, self._paused, self._busy = False, frozenset(), ()
            self._starting = True  # until its first status says otherwise
            self._reader = threading.Thread(
                target=self._read, args=(ours,), name="airfoil-engine-reader", daemon=True
            )
            self._reader.start()

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # it ended: the reader restarts it
                pass

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(message)
            except Exception:  # a bad message must not end the reader
                log.exception("an engine process message failed: %r", message[:1])
        self._alive = False
        if self.stopping.is_set():
            return
        log.error("the engine process ended; starting a new one in %.1f s", self.restart_after_s)
        if self.metrics is not None:
            self.metrics.driver_restarted("died")
        if self.stopping.wait(self.restart_after_s):
            return
        with self._lock:
            proc = self._proc
        if proc is not None:
            proc.join(5)
        try:
            self._spawn()
        except Exception:  # pragma: no cover - e.g. out of processes: readyz shows it
            log.exception("starting the engine process again failed")

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "status":
            _, alive, paused, busy, starting = message
            self._paused, self._busy, self._alive = frozenset(paused), tuple(busy), alive
            self._starting = starting
        elif self.metrics is None:  # pragma: no cover - nothing ran before it was set
            return
        elif kind == "metrics":
            self.metrics.record(message[1])
        elif kind == "restart":
            self.metrics.driver_restarted(message[1])
        elif kind == "pause":
            self.metrics.driver_paused()


class _Stop(Exception):
    """SIGTERM to the engine process: stop like the server asked."""


def _ended(proc: Any) -> bool:
    """Whether ``proc`` (a multiprocessing Process) has ended: its sentinel is ready. Its
    ``is_alive()`` says True for a process another thread reaped (the reader joins a process
    that died), so it cannot tell."""
    return bool(multiprocessing.connection.wait([proc.sentinel], 0))


def _stop_or_kill(proc: Any, timeout_s: float) -> None:
    """Wait ``timeout_s`` for ``proc`` to end, then kill it; log what truly happened (it
    said "did not stop in 15 s: killed" at once of a process killed before the stop)."""
    proc.join(timeout_s)
    if _ended(proc):
        code = proc.exitcode
        if code is not None and code < 0:
            log.warning("the engine process ended on signal %d", -code)
        return
    proc.kill()
    proc.join(5)
    if _ended(proc):
        log.warning("the engine process did not stop in %.0f s: killed", timeout_s)
    else:
        log.error(
            "the engine process (pid %s) did not stop in %.0f s, nor 5 s after SIGKILL",
            proc.pid,
            timeout_s,
        )


def serve_engine(runtime: Runtime, config: ServerConfig, conn: Connection) -> None:
    """The engine process's life: drive until the API process says ``stop`` or is gone."""
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                conn.send(message)
            except (OSError, ValueError):  # the API process is gone: the main loop stops
                pass

    found = Metrics(runtime.meta)  # finds what to count; the API process counts it

    def on_change(state: Any) -> None:
        changes = found.changes(state)
        if changes:
            send(("metrics", changes))

    driver = Driver(
        runtime,
        slots=config.slots,
        max_parallel=config.attempts_per_execution,
        lease_ttl_s=config.lease_ttl_s,
        on_change=on_change,
        on_restart=lambda reason: send(("restart", reason)),
        on_pause=lambda: send(("pause",)),
        poster=config.webhook_poster(),
        warm=config.warm_workers,
        workers=config.workers or None,
    )

    def on_sigterm(_sig: int, _frame: Any) -> None:
        raise _Stop

    # Forked from the API process's event loop: its signal wake-up descriptor is that loop's,
    # and a signal here must not wake (and stop) the API process.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the API process stops us
    signal.signal(signal.SIGTERM, on_sigterm)
    driver.start()
    reporter = threading.Thread(
        target=_report,
        args=(driver, send, config.freeze_heap),
        name="airfoil-engine-status",
        daemon=True,
    )
    reporter.start()
    try:
        while True:
            message = conn.recv()
            if message[0] == "wake":
                driver.notify()
            elif message[0] == "stop":
                break
    except (EOFError, OSError, _Stop):  # the API process is gone, or SIGTERM
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the stop below is not interrupted
        driver.stop(config.stop_grace_s)
        reporter.join(1)
        runtime.close()
        conn.close()


def _report(driver: Driver, send: Callable[[tuple[Any, ...]], None], freeze: bool) -> None:
    """Send the driver's status when it changes (and at once); with ``freeze``, freeze the
    heap once the slots have started their workers, and again once the first drive has
    ended (``ServerConfig.freeze_heap``)."""
    last: tuple[Any, ...] = ()
    warm = False
    while True:
        if freeze and not warm and driver.alive():
            # What building the slots' engines and executors made (before the server says
            # it is ready, rather than in its first executions' time).
            warm = True
            freeze_heap()
        if freeze and driver.drives_ended:
            # Warm: what a drive imports and builds once (the executor's and store's
            # modules, statement caches) leaves the collector's reach, so a full collection
            # on a driver slot walks what executions allocate since, not ~110k objects.
            freeze = False
            freeze_heap()
        status = (
            "status",
            driver.alive(),
            sorted(driver.paused),
            sorted(driver.busy()),
            driver.starting(),
        )
        if status != last:
            send(status)
            last = status
        if driver.stopping.wait(_STATUS_EVERY_S):
            return
