"""Gangs: starting the ranks of a multi-worker task all at once, and stopping them together.

A :class:`GangLauncher` starts ``workers`` ranks of one entry function, each in a process of its
own with the environment collective libraries read (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``), waits until they all finish or one fails,
and then stops the rest: a gang ends whole. Restarting it (from a checkpoint) is the caller's
decision (:mod:`airfoil.runtime._training`).

- :class:`ProcessGang` runs the ranks as local processes (a laptop, the process executor).
- :class:`~airfoil.executors._ray_gang.RayGang` runs them as Ray actors in a placement group
  (the ray executor's workers use it; see :func:`use_gang_launcher`).

The entry is a module-level callable taking the payload bytes and returning result bytes,
pickled by reference: the launcher never imports the code that defines it.

Invariants:

- Every rank of a gang is stopped before :meth:`GangLauncher.run` returns, whatever happened.
- A rank that died without reporting (a signal, a lost node) is reported ``lost``: a system
  fault, distinct from an error the rank's code raised.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Protocol

import msgspec

from airfoil.core import ports
from airfoil.core.errors import PlatformError

__all__ = [
    "GangLauncher",
    "GangOutcome",
    "GangPlan",
    "GangStartError",
    "ProcessGang",
    "RankEntry",
    "RankOutcome",
    "call_rank",
    "free_port",
    "gang_launcher",
    "port_taken",
    "rank_env",
    "run_gang",
    "use_gang_launcher",
]

#: A rank's entry: payload bytes in, result bytes out (module-level, pickled by reference).
RankEntry = Callable[[bytes], bytes]

_POLL_S = 0.02  # how often the process gang checks its ranks
_STOP_GRACE_S = 2.0  # how long a stopped rank has to end after SIGTERM before SIGKILL
#: After a rank raised, how long the others have to end on their own before they are stopped:
#: a rank that died makes its peers' collectives raise, often before its own death is seen,
#: and the death, not the peer's error, is the cause to report (and to restart for).
PEER_GRACE_S = 3.0


class GangStartError(PlatformError):
    """The gang could not be placed (not enough resources within the start timeout)."""


#: The environment variable that tells a training gang's supervisor the node of each rank
#: (cluster node ids, comma-separated), as the engine's scheduling policy placed the gang.
GANG_NODES_ENV = "AIRFOIL_GANG_NODES"


class GangPlan(msgspec.Struct, frozen=True):
    """What a gang needs: its size, per-worker resources, placement and start timeout."""

    workers: int
    cpu: float = 1.0
    mem: int = 0
    gpu: int = 0
    placement: str = "auto"
    start_timeout_s: float = 120.0
    restart: int = 0  # which start of the gang this is (0: the first)
    #: The gang's identity across attempts (``<execution>/<node>``): a launcher that keeps
    #: reservations by name (Ray's placement groups) frees one a lost supervisor left behind.
    name: str = ""
    #: The node of each rank as the engine's policy placed the gang (a launcher placing on
    #: a cluster pins rank ``i`` to ``nodes[i]``); empty: the launcher places them.
    nodes: tuple[str, ...] = ()


class RankOutcome(msgspec.Struct, frozen=True):
    """How one rank ended.

    Attributes:
        rank: the rank.
        ok: it returned (``result`` holds what it returned).
        lost: it died without reporting (a signal, out of memory, its node lost) or was
            stopped because another rank failed (``stopped``).
        stopped: the gang stopped it (another rank failed first).
        error_type / message / traceback: what its code raised (not ``ok``, not ``lost``).
        log: what it wrote to stdout and stderr.
        node: where it ran (``host`` or a Ray node id).
    """

    rank: int
    ok: bool = False
    result: bytes = b""
    lost: bool = False
    stopped: bool = False
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    log: str = ""
    node: str = ""


def call_rank(entry: RankEntry, payload: bytes, rank: int) -> RankOutcome:
    """How ``entry(payload)`` ended as rank ``rank``: what it returned, or what it raised
    (the rank's boundary: every failure is reported, ``SystemExit`` included)."""
    try:
        return RankOutcome(rank=rank, ok=True, result=entry(payload))
    except BaseException as exc:
        etype = type(exc)
        return RankOutcome(
            rank=rank,
            error_type=f"{etype.__module__}.{etype.__qualname__}",
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
        )


class GangOutcome(msgspec.Struct, frozen=True):
    """A gang's end: every rank's outcome (by rank) and when all ranks were running."""

    ranks: list[RankOutcome]
    running_at: float  # wall clock when the last rank was started
    started_at: float  # wall clock when the launcher was asked

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.ranks)

    def first_failure(self) -> RankOutcome | None:
        """The rank whose failure ended the gang, or None: a rank that died before one that
        raised (a peer's death makes the others' collectives raise), the lowest rank among
        equals; a rank the gang stopped is never the cause."""
        failed = [r for r in self.ranks if not r.ok and not r.stopped]
        died = [r for r in failed if r.lost]
        return (died or failed)[0] if failed else None


class GangLauncher(Protocol):
    """Starts a gang, waits for it to end, stops what is left."""

    def run(self, plan: GangPlan, entry: RankEntry, payload: bytes) -> GangOutcome:
        """Run ``entry(payload)`` on ``plan.workers`` ranks at once until all return or one
        fails (then stop the others).

        Raises:
            GangStartError: the gang could not be placed within ``plan.start_timeout_s``.
        """
        ...


def rank_env(
    rank: int, world: int, local_rank: int, local_world: int, addr: str, port: int, restart: int
) -> dict[str, str]:
    """The environment a rank starts with (built in the gang's supervisor)."""
    return {
        "MASTER_ADDR": addr,
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "WORLD_SIZE": str(world),
        "LOCAL_RANK": str(local_rank),
        "LOCAL_WORLD_SIZE": str(local_world),
        "GROUP_RANK": "0",
        "AIRFOIL_GANG_RESTART": str(restart),
        "TORCHELASTIC_RESTART_COUNT": str(restart),
        # Where the gang's supervisor runs (host:pid), for logs and tests.
        "AIRFOIL_GANG_SUPERVISOR": f"{socket.gethostname()}:{os.getpid()}",
    }


#: How many times a gang is started again on a fresh port when its rendezvous port was taken.
PORT_TRIES = 3
_PORT_TAKEN = ("Address already in use", "EADDRINUSE", "errno: 98")


def free_port() -> int:
    """A TCP port for a gang's rendezvous (``MASTER_PORT``): free on this host now and outside
    the kernel's ephemeral range (:func:`airfoil.core.ports.free_port`), so no outgoing
    connection can be given it in the second or so before rank 0 listens on it. A process
    binding that very number can still take it: :func:`run_gang` starts the gang again on a
    fresh port then."""
    return ports.free_port()


def port_taken(outcome: GangOutcome) -> bool:
    """Whether the gang failed because a rank could not bind its rendezvous port (another
    process took it after it was picked): torch's store says ``Address already in use``
    (errno 98), as does a plain ``socket.bind``."""
    failure = outcome.first_failure()
    if failure is None or failure.lost:
        return False
    text = " ".join((failure.error_type, failure.message, failure.traceback))
    return any(sign in text for sign in _PORT_TAKEN)


def run_gang(
    launcher: GangLauncher,
    plan: GangPlan,
    entry: RankEntry,
    payload: bytes,
    say: Callable[[str], None] = print,
) -> GangOutcome:
    """``launcher.run(plan, entry, payload)``, started again on a fresh port (up to
    :data:`PORT_TRIES` starts in all) while it fails because its rendezvous port was taken
    (:func:`port_taken`): no rank got past its rendezvous, so this is no restart of the gang.
    A rank that fails binding some other port in use is run again too, at most that often."""
    outcome = launcher.run(plan, entry, payload)
    for _ in range(PORT_TRIES - 1):
        if outcome.ok or not port_taken(outcome):
            break
        say(
            f"[training] gang start {plan.restart}: its rendezvous port was taken by another "
            "process (Address already in use); starting it again on another port"
        )
        outcome = launcher.run(plan, entry, payload)
    return outcome


class ProcessGang:
    """Ranks as local processes (``python -m airfoil.executors._gang_rank``), on this host.

    Args:
        python: the interpreter that runs the ranks (default: this one).
        ports: picks the rendezvous port of each start (default: :func:`free_port`).
    """

    def __init__(self, python: str | None = None, ports: Callable[[], int] = free_port) -> None:
        self._python = python or sys.executable
        self._ports = ports

    def run(self, plan: GangPlan, entry: RankEntry, payload: bytes) -> GangOutcome:
        started_at = time.time()
        port = self._ports()
        workdir = tempfile.mkdtemp(prefix="airfoil-gang-")
        job = os.path.join(workdir, "job.pkl")
        with open(job, "wb") as f:
            pickle.dump((entry, payload), f, protocol=pickle.HIGHEST_PROTOCOL)
        procs: list[subprocess.Popen[bytes]] = []
        logs: list[str] = []
        results: list[str] = []
        try:
            for rank in range(plan.workers):
                env = dict(os.environ)
                env.update(
                    rank_env(
                        rank, plan.workers, rank, plan.workers, "127.0.0.1", port, plan.restart
                    )
                )
                env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
                log = os.path.join(workdir, f"rank-{rank}.log")
                result = os.path.join(workdir, f"rank-{rank}.out")
                logs.append(log)
                results.append(result)
                with open(log, "wb") as out:
                    procs.append(
                        subprocess.Popen(
                            [self._python, "-m", "airfoil.executors._gang_rank", job, result],
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,  # stopping a rank stops what it started
                        )
                    )
            running_at = time.time()
            stopped = _wait_all_or_first_failure(procs)
            return GangOutcome(
                ranks=[
                    _outcome(rank, proc, results[rank], logs[rank], rank in stopped)
                    for rank, proc in enumerate(procs)
                ],
                running_at=running_at,
                started_at=started_at,
            )
        finally:
            _stop(procs)
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def _wait_all_or_first_failure(procs: list[subprocess.Popen[bytes]]) -> set[int]:
    """Wait until every rank ended, or one failed; stop the others then. Returns the ranks
    stopped that way."""
    stop_at: float | None = None  # when the ranks still running are stopped
    while True:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes):
            return set()
        if stop_at is None and any(c not in (None, 0) for c in codes):
            stop_at = time.monotonic() + PEER_GRACE_S
        if stop_at is not None and (
            time.monotonic() >= stop_at or any(c is not None and c < 0 for c in codes)
        ):
            alive = {i for i, c in enumerate(codes) if c is None}
            _stop([procs[i] for i in alive])
            return alive
        time.sleep(_POLL_S)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every running rank's process group, SIGKILL after a grace period."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _outcome(
    rank: int, proc: subprocess.Popen[bytes], result: str, log: str, stopped: bool
) -> RankOutcome:
    text = ""
    with contextlib.suppress(OSError), open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    host = socket.gethostname()
    if os.path.exists(result):
        with open(result, "rb") as f:
            reported = msgspec.msgpack.decode(f.read(), type=RankOutcome)
        return msgspec.structs.replace(reported, rank=rank, log=text, node=host)
    if stopped:
        return RankOutcome(rank=rank, lost=True, stopped=True, log=text, node=host)
    code = proc.returncode
    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    return RankOutcome(
        rank=rank, lost=True, message=f"rank {rank} died ({why})", log=text, node=host
    )


_launcher: GangLauncher | None = None


def gang_launcher() -> GangLauncher:
    """The launcher gangs in this process use (default: :class:`ProcessGang`)."""
    return _launcher if _launcher is not None else ProcessGang()


def use_gang_launcher(launcher: GangLauncher | None) -> None:
    """Set the launcher of this process's gangs (a worker's entry point does, once: the ray
    executor's workers use :class:`~airfoil.executors._ray_gang.RayGang`); None: the default."""
    global _launcher
    _launcher = launcher
