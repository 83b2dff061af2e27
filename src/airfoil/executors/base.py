"""The executor seam: ``submit(request)`` then ``poll()`` for results.

An executor runs attempts somewhere (this thread, worker processes, a Ray cluster) and reports
each one's outcome exactly once as an :class:`AttemptResult`. It never touches the metadata
store: the engine records everything.

Two seams are handed to an executor, never looked up by it:

- the :class:`AttemptRuntime`, the code that runs an attempt inside a worker (loads the task,
  decodes inputs, calls it, encodes outputs): ``airfoil.runtime``'s, given by the entry point
  that builds the executor, as an object (inline) or as a :data:`RuntimeFactory` -- a
  module-level function, pickled by reference, that each worker process calls once (process);
- the :class:`ChildTransport`, through which tasks that a running attempt calls reach the
  driver loop and their outcomes come back: given by the engine with :meth:`Executor.connect`.
"""

from __future__ import annotations

import abc
import functools
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.cluster import ClusterNode
from airfoil.core.errors import NotFoundError
from airfoil.core.records import ErrorInfo, TaskSpec, Value, WorkflowSpec
from airfoil.core.resources import ResourceSpec

__all__ = [
    "AttemptRequest",
    "AttemptResult",
    "AttemptRuntime",
    "ChildCall",
    "ChildOutcome",
    "ChildTransport",
    "DelegatingExecutor",
    "Executor",
    "RuntimeFactory",
    "attempt_log_key",
    "attempt_log_text",
    "detect_gpus",
    "ended_result",
    "live_log_key",
    "rank_log_key",
    "read_attempt_log",
    "machine_capacity",
    "machine_memory",
    "with_deadline",
]


def attempt_log_key(execution_id: str, node_id: str, attempt: int) -> str:
    """Where the log of an attempt is written in the blob store when the attempt ends."""
    return f"logs/{execution_id}/{node_id}/{attempt}.log"


def rank_log_key(execution_id: str, node_id: str, attempt: int, rank: int) -> str:
    """Where rank ``rank`` of a training attempt's gang keeps its log (every gang start of the
    attempt appended under a ``--- gang start N on WHERE (TIME) ---`` line)."""
    return f"logs/{execution_id}/{node_id}/{attempt}.rank-{rank}.log"


def live_log_key(log_key: str) -> str:
    """Where a running attempt's log so far is copied (removed when the attempt ends)."""
    return log_key + ".live"


def read_attempt_log(blobs: BlobStore, log_key: str) -> str | None:
    """The log of an attempt whose record names no log yet (running, or ending now): its
    whole log if written, else its live copy, else None (it has written nothing).

    A worker writes the whole log, then removes the copy, so the whole log is read again
    when neither was found (or the whole log was still empty: created, its text not yet
    written): an attempt ending between the first two reads left its whole log (read in
    one order only, that moment read as no log at all: an empty log view for one poll, a
    short read for followers).
    """
    whole, copy = blobs.uri(log_key), blobs.uri(live_log_key(log_key))
    found: str | None = None
    for uri in (whole, copy, whole):
        try:
            text = blobs.get_bytes(uri).decode("utf-8", errors="replace")
        except NotFoundError:
            continue
        if text:
            return text
        found = text  # an empty whole log is one just created (never written empty)
    return found


def attempt_log_text(
    blobs: BlobStore,
    execution_id: str,
    node_id: str,
    attempt: int,
    log_uri: str | None,
    rank: int | None = None,
) -> str | None:
    """What a reader shows of an attempt's log (the server's log route, ``airfoil logs -f``):
    rank ``rank``'s own log if given (as far as it got, while it runs), else the whole log
    the attempt's record names, else (running, or ending now) :func:`read_attempt_log`;
    None when there is none."""
    if rank is None and not log_uri:
        return read_attempt_log(blobs, attempt_log_key(execution_id, node_id, attempt))
    uri = log_uri or ""
    if rank is not None:
        uri = blobs.uri(rank_log_key(execution_id, node_id, attempt, rank))
    try:
        return blobs.get_bytes(uri).decode("utf-8", errors="replace")
    except NotFoundError:
        return None


class AttemptRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """Everything a worker needs to run one attempt."""

    execution_id: str
    node_id: str
    attempt: int
    task: TaskSpec
    inputs: dict[str, Value]
    blob_url: str
    code_root: str = ""
    log_key: str = ""
    secrets: dict[str, str] = {}
    #: Propagated to the worker (trace ids...): what :class:`~airfoil.executors.hooks.Hooks`
    #: added; the task reads it as ``current_context().context``.
    context: dict[str, str] = {}
    #: The cluster node of each worker, as the engine's scheduling policy placed the attempt
    #: (an executor placing beyond this machine starts it there; empty: the executor picks).
    placement: tuple[str, ...] = ()
    #: The execution's project and domain, and its name there ("": its id is its name): what
    #: the task reads as ``current_context().project`` / ``.domain`` / ``.execution_name``.
    project: str = "default"
    domain: str = "development"
    execution_name: str = ""
    #: When the attempt's timeout passes (wall clock, ``time.time()``), set by an executor that
    #: hands the attempt to another process as it does so (0: no timeout, or counted from the
    #: start of the run, in-process). A timeout counts from that hand-off: the worker arms its
    #: interrupt for what is left of it, so it fires before the executor's own hard stop.
    deadline: float = 0.0


def with_deadline(request: AttemptRequest, timeout_s: float) -> AttemptRequest:
    """``request`` as an executor hands it to a worker now: its timeout of ``timeout_s``
    seconds counts from this instant (see :attr:`AttemptRequest.deadline`)."""
    return msgspec.structs.replace(request, deadline=time.time() + timeout_s)


class AttemptResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """The outcome of one attempt: outputs, or an error of kind ``user`` or ``system``."""

    execution_id: str
    node_id: str
    attempt: int
    started_at: float
    ended_at: float
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    log_uri: str = ""
    worker: str = ""
    #: How many chunks of metric points the attempt wrote (``airfoil.core.metrics``).
    metric_chunks: int = 0
    #: The code version of a cached task that ran, set only where it is not the version the
    #: execution was launched with (the task's source changed before a recover or a resume):
    #: its outputs are then not written to the cache under the launched version's key.
    ran_version: str = ""
    #: Seconds the attempt waited, after the engine submitted it, for a worker to be handed
    #: to (a shared pool's queue, the executor's own), measured on the submitting host's
    #: monotonic clock; 0: handed over at once. The engine records the attempt's start that
    #: much after its admission (not at it), so a queued attempt's duration is its run.
    queued_s: float = 0.0


def ended_result(
    request: AttemptRequest,
    *,
    started: float,
    worker: str,
    outputs: dict[str, Value] | None = None,
    error: ErrorInfo | None = None,
    log_uri: str = "",
    metric_chunks: int = 0,
    ran_version: str = "",
) -> AttemptResult:
    """The result of ``request``'s attempt, started at ``started`` and ending now, as its
    runtime reports it or, where that could not, its worker or executor (``error``)."""
    return AttemptResult(
        execution_id=request.execution_id,
        node_id=request.node_id,
        attempt=request.attempt,
        started_at=started,
        ended_at=time.time(),
        outputs=outputs,
        error=error,
        log_uri=log_uri,
        worker=worker,
        metric_chunks=metric_chunks,
        ran_version=ran_version,
    )


class ChildCall(msgspec.Struct, frozen=True, omit_defaults=True):
    """A running attempt called a task or a workflow: run it as the child node ``node_id``
    of the caller (a called workflow's nodes run as that node's children).

    Sent by a worker while the calling attempt waits for the :class:`ChildOutcome` (or goes
    on, for calls gathered to run concurrently). Exactly one of ``task`` and ``workflow``
    is set.
    """

    execution_id: str
    parent: str  # the calling node
    parent_attempt: int
    node_id: str  # the child node: derived from the caller, the call's order and its inputs
    task: TaskSpec | None
    inputs: dict[str, Value]
    workflow: WorkflowSpec | None = None

    @property
    def callee(self) -> str:
        """The called task's or workflow's name."""
        spec = self.task if self.task is not None else self.workflow
        return spec.name if spec is not None else ""

    def made_by(self, request: AttemptRequest | None) -> bool:
        """Whether the attempt of ``request`` made this call."""
        return request is not None and (
            request.execution_id,
            request.node_id,
            request.attempt,
        ) == (self.execution_id, self.parent, self.parent_attempt)


class ChildOutcome(msgspec.Struct, frozen=True, omit_defaults=True):
    """How a child node ended: its outputs, or the error of its last attempt."""

    node_id: str
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None


class ChildTransport(Protocol):
    """Where the child calls of running attempts go, and how their outcomes come back.

    The engine's driver loop implements it and gives it to the executor
    (:meth:`Executor.connect`). On the worker's side of a process executor the same protocol
    is a pipe to the driver. ``submit`` must not block the driver for long; ``wait`` is called
    from the calling attempt's thread (inline: the driver's own, so the engine runs the child
    to its end there).
    """

    def submit(self, call: ChildCall) -> None:
        """A running attempt called a task: schedule the child node ``call.node_id``."""
        ...

    def wait(self, node_id: str) -> ChildOutcome:
        """Block until the child ``node_id`` has ended; its outcome (thread-safe)."""
        ...


class AttemptRuntime(Protocol):
    """The code that runs one attempt where the executor put it (``airfoil.runtime``)."""

    def run_attempt(
        self,
        request: AttemptRequest,
        blobs: BlobStore,
        *,
        in_process: bool = False,
        child_calls: ChildTransport | None = None,
    ) -> AttemptResult:
        """Run the attempt to its end; never raises for anything the task does."""
        ...

    def open_blobs(self, url: str, durability: str = "process") -> BlobStore:
        """The blob store at ``url`` (a worker opens the one its requests name), with the
        given durability (``process`` or ``power``)."""
        ...

    def preload(self, task: TaskSpec, code_root: str) -> None:
        """Import a task's code ahead of its first attempt (errors are left for the attempt
        to report, in its own context)."""
        ...

    def session(self) -> AbstractContextManager[None]:
        """A span in which attempts run in this process one after another (a drive on the
        inline executor): what every in-process attempt sets up and takes down again (the
        stream routers, the logging record handler) stays set up from its start to its end.
        Attempts behave the same inside one or not; it only saves their cost."""
        ...

    def worker_session(self) -> AbstractContextManager[None]:
        """:meth:`session` for a worker process, whose whole life is this span (a process
        executor's worker, never a driver's process): the process's stdout and stderr file
        descriptors also stay pointed at the attempts' capture between attempts (what the
        worker writes there meanwhile reaches its stderr at the next attempt's start)."""
        ...


#: Builds the runtime inside a worker process: a module-level function (pickled by reference).
RuntimeFactory = Callable[[], AttemptRuntime]


class Executor(abc.ABC):
    """Runs attempts. One scheduling loop drives every executor the same way."""

    name: str = "executor"
    #: Set by :meth:`connect`: where child calls of running attempts go.
    child_transport: ChildTransport | None = None

    def connect(self, transport: ChildTransport | None) -> None:
        """Give the executor the driver's transport for the child calls that its running
        attempts make (``None``: calls inside attempts run as plain function calls)."""
        self.child_transport = transport

    def run_now(self, request: AttemptRequest) -> AttemptResult:
        """Run an attempt right here, to its end, and return its outcome without reporting it
        through :meth:`poll` (executors whose attempts run in this process: inline).

        Raises:
            NotImplementedError: the executor's attempts run elsewhere.
        """
        raise NotImplementedError(f"the {self.name} executor does not run attempts in-process")

    def preload(self, task: TaskSpec, code_root: str) -> None:  # noqa: B027 - optional hook
        """Import a task's code ahead of its attempts where they run in this process, so that
        threads driving at once never import one module concurrently. Default: nothing."""

    @abc.abstractmethod
    def submit(self, request: AttemptRequest) -> None:
        """Start an attempt. Must not block for long (the inline executor is the exception:
        it runs the attempt right away, which makes debugging with a breakpoint trivial)."""

    @abc.abstractmethod
    def poll(self, timeout: float | None) -> list[AttemptResult]:
        """Return finished attempts, waiting up to ``timeout`` seconds (None: until one
        finishes) if none has finished yet. Each attempt is reported exactly once."""

    @abc.abstractmethod
    def cancel(self, execution_id: str, node_id: str) -> None:
        """Stop an attempt if it is running. Nothing further is reported for it."""

    def has_results(self) -> bool:
        """Whether :meth:`poll` would return finished attempts at once (the inline executor,
        whose attempts end inside :meth:`submit`): the loop then collects them in the turn
        that submitted them. Default: False (the loop's next turn polls)."""
        return False

    def take_child_calls(self) -> list[ChildCall]:
        """Child calls made by running attempts since the last call (each returned once).

        :meth:`poll` returns early when one arrives. Executors whose attempts run in this
        process (inline) hand calls to the engine directly and never queue any.
        """
        return []

    def answer_child(self, call: ChildCall, outcome: ChildOutcome) -> None:
        """Send a child's outcome to the attempt that made ``call`` (dropped if it is gone)."""
        raise NotImplementedError(f"the {self.name} executor does not take child calls")

    def capacity(self) -> ResourceSpec:
        """The resources attempts can use at once (default: this machine)."""
        return machine_capacity()

    def cluster_capacity(self) -> ResourceSpec | None:
        """The resources of the cluster the executor places attempts on, when it places them
        beyond this machine (Ray): the engine's queue then admits against the cluster and
        counts its GPUs, and the cluster (not the queue) picks the GPUs. None: this machine.
        """
        return None

    def cluster_nodes(self) -> list[ClusterNode] | None:
        """The nodes of the cluster the executor places attempts on (alive and lost ones),
        when it places them beyond this machine: the engine's queue then places attempts on
        those nodes and the executor starts each where :attr:`AttemptRequest.placement`
        says. Cheap to call often (implementations cache). None: this machine only."""
        return None

    def preferred_nodes(self, inputs: dict[str, Value]) -> tuple[str, ...]:
        """Cluster nodes an attempt with these inputs would best run on (they hold its
        largest inputs already), best first: a soft preference for the engine's placement,
        which takes the first with room and never waits for one. Default: none."""
        return ()

    def session(self) -> AbstractContextManager[None]:
        """A span around one drive of the engine's loop (see :meth:`AttemptRuntime.session`);
        an executor whose attempts run in this process keeps their per-attempt setup in place
        across it. Default: nothing."""
        return nullcontext()

    def warm(self) -> None:  # noqa: B027 - optional hook
        """Start now what the first attempts would otherwise start (worker processes), so
        that they do not pay for it: a server calls it before it says it is ready.
        Default: nothing (nothing to start ahead)."""

    def max_parallel(self) -> int:
        """How many attempts may run at once."""
        return 1

    def max_out(self) -> int | None:
        """How many attempts the engine's drive may have out (submitted, not yet reported)
        right now, where the executor decides it as it goes (a slot's view of a shared
        worker pool: its share of the workers, deeper while the pool's attempts are short;
        see :mod:`airfoil.executors._process_shared`). Asked at each admission, so it must
        be cheap. None (the default): :meth:`max_parallel`, fixed."""
        return None

    def running(self) -> int:
        """How many attempts are running now."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop workers and release resources."""


class DelegatingExecutor(Executor):
    """An executor that hands everything to ``inner``: subclass it to change a few methods
    (hooks around attempts, a server slot's capped polls) and keep the rest as they are."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name

    def connect(self, transport: ChildTransport | None) -> None:
        self.child_transport = transport
        self.inner.connect(transport)

    def run_now(self, request: AttemptRequest) -> AttemptResult:
        return self.inner.run_now(request)

    def preload(self, task: TaskSpec, code_root: str) -> None:
        self.inner.preload(task, code_root)

    def submit(self, request: AttemptRequest) -> None:
        self.inner.submit(request)

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        return self.inner.poll(timeout)

    def has_results(self) -> bool:
        return self.inner.has_results()

    def cancel(self, execution_id: str, node_id: str) -> None:
        self.inner.cancel(execution_id, node_id)

    def take_child_calls(self) -> list[ChildCall]:
        return self.inner.take_child_calls()

    def answer_child(self, call: ChildCall, outcome: ChildOutcome) -> None:
        self.inner.answer_child(call, outcome)

    def capacity(self) -> ResourceSpec:
        return self.inner.capacity()

    def cluster_capacity(self) -> ResourceSpec | None:
        return self.inner.cluster_capacity()

    def cluster_nodes(self) -> list[ClusterNode] | None:
        return self.inner.cluster_nodes()

    def preferred_nodes(self, inputs: dict[str, Value]) -> tuple[str, ...]:
        return self.inner.preferred_nodes(inputs)

    def warm(self) -> None:
        self.inner.warm()

    def max_parallel(self) -> int:
        return self.inner.max_parallel()

    def max_out(self) -> int | None:
        return self.inner.max_out()

    def running(self) -> int:
        return self.inner.running()

    def session(self) -> AbstractContextManager[None]:
        return self.inner.session()

    def close(self) -> None:
        self.inner.close()


def machine_capacity() -> ResourceSpec:
    """This machine's CPUs, memory and GPUs (see :func:`detect_gpus`)."""
    return ResourceSpec(
        cpu=float(os.cpu_count() or 1),
        mem=machine_memory(),
        gpu=len(detect_gpus()),
    )


def machine_memory() -> int:
    """This machine's physical memory in bytes (psutil's ``virtual_memory().total``).

    Asked of the OS directly where it can say (Linux, macOS): importing psutil costs a
    local ``airfoil run`` more than the rest of its admission does.
    """
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        pages = size = -1
    if pages > 0 and size > 0:
        return int(pages * size)
    import psutil

    return int(psutil.virtual_memory().total)


def detect_gpus() -> tuple[str, ...]:
    """The GPU indices attempts may be placed on, in order of preference:

    1. ``AIRFOIL_GPUS=N``: pretend there are N GPUs, ``0`` to ``N-1`` (tests, laptops);
    2. ``CUDA_VISIBLE_DEVICES`` when set: only the GPUs this process was given;
    3. ``nvidia-smi --query-gpu=index --format=csv,noheader`` when it is installed;
    4. none.

    Raises:
        ConfigError: ``AIRFOIL_GPUS`` is not a whole number of GPUs.
    """
    pretend = os.environ.get("AIRFOIL_GPUS", "").strip()
    if pretend:
        if not pretend.isdigit():
            from airfoil.core.errors import ConfigError

            raise ConfigError(
                f"invalid AIRFOIL_GPUS={pretend!r}: give a whole number of GPUs, like 4"
            )
        return tuple(str(i) for i in range(int(pretend)))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1")
    return _nvidia_smi_gpus()


@functools.cache
def _nvidia_smi_gpus() -> tuple[str, ...]:
    """GPU indices nvidia-smi reports (asked once per process), or none without it."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.splitlines() if line.strip().isdigit())
