"""What runs on the Ray cluster for the Ray executor: the warm worker actor and the mailbox.

Import this module only where Ray runs it (a Ray worker process) or from
:mod:`airfoil.executors.ray`, which turns these plain classes into Ray actors lazily. It does
not import Ray at module level: the classes are defined here so Ray pickles them by reference
(workers import this module by name instead of receiving the code).

- :class:`AttemptWorker` is one warm worker: an actor that builds its runtime once with the
  executor's :data:`~airfoil.executors.base.RuntimeFactory`, then runs attempts one at a time
  (msgpack-encoded :class:`~airfoil.executors.base.AttemptRequest` in, msgpack-encoded
  :class:`~airfoil.executors.base.AttemptResult` out). Inputs and outputs travel through the
  blob store the request names (an fsspec URL every node reaches), never through Ray's object
  store, so a result is durable before it is reported.
- :class:`Mailbox` carries child calls (a running task calling a task) from workers to the
  driver and their outcomes back: an async actor the driver long-polls with
  :meth:`Mailbox.take`, so a call wakes the driver's ``ray.wait`` at once.

Invariants:

- A worker runs one attempt at a time, in its main thread (the runtime's in-process timeout
  uses ``SIGALRM``); nothing a task does escapes :meth:`AttemptWorker.run` (it is reported
  as the attempt's error, as in the process executor's worker).
- A task's ``limits.mem`` caps how much the attempt may grow the worker's address space.
- When Ray assigned GPUs to the worker, Ray's ``CUDA_VISIBLE_DEVICES`` wins over the one the
  engine's queue put in the task's environment (that one numbers the cluster's GPUs, not the
  node's).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from typing import Any

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import AirfoilError, WorkerLostError
from airfoil.executors._blob_cache import BlobCacheConfig, CachingBlobStore, NodeBlobCache
from airfoil.executors._process_worker import (
    _address_space_limit,
    _escaped,
    _restore_cwd,
)
from airfoil.executors.base import (
    AttemptRequest,
    AttemptRuntime,
    ChildCall,
    ChildOutcome,
    RuntimeFactory,
)

__all__ = ["AttemptWorker", "Mailbox", "MailboxChildCalls", "child_key"]


def child_key(execution_id: str, caller: str, attempt: int, node_id: str) -> str:
    """The mailbox key of a child node's outcome for one calling attempt. Each attempt has
    its own: a caller retried while its child ran waits on the same child as the attempt
    before it, whose wait may still be pending in the mailbox (its worker was killed) and
    must not take the retry's outcome."""
    return f"{execution_id}/{caller}/{attempt}/{node_id}"


class MailboxChildCalls:
    """The child-call transport of a Ray worker: calls go to the mailbox actor, outcomes are
    awaited there (several threads of one task may wait at once: ``af.gather``)."""

    def __init__(self, mailbox: Any, execution_id: str, caller: str, attempt: int) -> None:
        self._mailbox = mailbox
        self._execution_id = execution_id
        self._caller = caller
        self._attempt = attempt
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(ChildOutcome)

    def submit(self, call: ChildCall) -> None:
        import ray

        # Waited for, so a call is in the mailbox before this attempt can end.
        try:
            ray.get(self._mailbox.call.remote(self._encoder.encode(call)))
        except ray.exceptions.RayError as exc:  # a platform failure, not the task's
            raise WorkerLostError(
                f"the mailbox to the driver was lost calling {call.callee}: {exc}"
            ) from exc

    def wait(self, node_id: str) -> ChildOutcome:
        import ray

        try:
            key = child_key(self._execution_id, self._caller, self._attempt, node_id)
            data = ray.get(self._mailbox.outcome.remote(key))
        except ray.exceptions.RayError as exc:
            raise WorkerLostError(
                f"the mailbox to the driver was lost while child {node_id} ran: {exc}"
            ) from exc
        outcome: ChildOutcome = self._decoder.decode(data)
        return outcome


class AttemptWorker:
    """A warm worker (a Ray actor): runs attempts of one task environment, one at a time.

    Args:
        runtime_factory: builds the runtime that runs attempts (once, in this process).
        blob_url: the blob store to use when a request names none.
        durability: the blob store's durability (``process`` or ``power``).
        mailbox: where child calls go (None: calls inside attempts are plain calls).
        blob_cache: how the node's cache of fetched blobs works (None: no cache).
    """

    def __init__(
        self,
        runtime_factory: RuntimeFactory,
        blob_url: str,
        durability: str = "process",
        mailbox: Any = None,
        blob_cache: BlobCacheConfig | None = None,
    ) -> None:
        self._runtime: AttemptRuntime = runtime_factory()
        self._cache_config = blob_cache
        self._cache: NodeBlobCache | None = None
        self._node = _node_id()
        self._blob_url = blob_url
        self._durability = durability
        self._mailbox = mailbox
        self._stores: dict[str, BlobStore] = {}
        self._home = os.getcwd()
        self._name = f"{socket.gethostname()}:{os.getpid()}:ray"
        # Training gangs started by attempts here are placed on the cluster, not local.
        from airfoil.executors._gang import use_gang_launcher
        from airfoil.executors._ray_gang import RayGang

        use_gang_launcher(RayGang())
        self._decoder = msgspec.msgpack.Decoder(AttemptRequest)
        self._encoder = msgspec.msgpack.Encoder()

    def ready(self) -> tuple[str, tuple[str, int, float]]:
        """Where this worker runs: ``host:pid:ray``, and its node, pid and start time (to
        stop its process tree: :mod:`airfoil.executors._ray_reaper`); answered once it is up."""
        from airfoil.executors._ray_reaper import where_am_i

        return self._name, where_am_i()

    def run(self, data: bytes) -> tuple[bytes, bytes | None]:
        """Run one attempt to its end: its encoded result (never raises), and the encoded
        :class:`~airfoil.executors._blob_cache.FetchReport` of its reads (None: it read no
        blob through the node's cache)."""
        started = time.time()
        request = self._decoder.decode(data)
        request = self._ray_gpus(request)
        blobs: BlobStore | None = None
        try:
            url = request.blob_url or self._blob_url
            blobs = self._stores.get(url)
            if blobs is None:
                blobs = self._stores[url] = self._cached(
                    self._runtime.open_blobs(url, self._durability)
                )
            calls = (
                MailboxChildCalls(
                    self._mailbox, request.execution_id, request.node_id, request.attempt
                )
                if self._mailbox is not None
                else None
            )
            with _address_space_limit(request.task.limits.mem):
                result = self._runtime.run_attempt(request, blobs, child_calls=calls)
        except BaseException as exc:  # sys.exit or a runtime bug: report it, never die
            result = _escaped(request, exc, started, self._name)
        _restore_cwd(self._home)
        report = blobs.take_report() if isinstance(blobs, CachingBlobStore) else None
        return self._encoder.encode(result), (
            self._encoder.encode(report) if report is not None else None
        )

    def _cached(self, store: BlobStore) -> BlobStore:
        """``store``, its reads of values going through this node's cache when one is
        configured (a store with a local path only if the config says so)."""
        if self._cache_config is None:
            return store
        try:
            config = self._cache_config.on_this_node()
        except AirfoilError as exc:  # the node's own setting is wrong: say so, go on
            print(f"airfoil: no blob cache on this node: {exc}", file=sys.stderr)
            return store
        if config.max_bytes <= 0:
            return store
        if store.local_path(store.uri("values/probe")) is not None and not config.local_stores:
            return store  # a local folder: reading it is no fetch
        if self._cache is None:
            try:
                self._cache = NodeBlobCache(config.directory, config.max_bytes)
            except OSError as exc:
                print(
                    f"airfoil: no blob cache on this node ({exc}): inputs are read from the "
                    "blob store",
                    file=sys.stderr,
                )
                return store
        return CachingBlobStore(store, self._cache, node=self._node)

    @staticmethod
    def _ray_gpus(request: AttemptRequest) -> AttemptRequest:
        """Ray's ``CUDA_VISIBLE_DEVICES`` for a worker Ray gave GPUs (see the module)."""
        if request.task.requests.gpu <= 0:
            return request
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None or "CUDA_VISIBLE_DEVICES" not in request.task.environment:
            return request
        env = {**request.task.environment, "CUDA_VISIBLE_DEVICES": visible}
        task = msgspec.structs.replace(request.task, environment=env)
        return msgspec.structs.replace(request, task=task)


def _node_id() -> str:
    """The Ray node this process runs on ("" outside Ray)."""
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id() or "")
    except Exception:  # not in a Ray worker (tests of the class alone)
        return ""


class Mailbox:
    """Child calls of running attempts, and their outcomes (an async Ray actor).

    Calls wait in arrival order until the driver takes them; an outcome waits under its
    :func:`child_key` until the calling attempt asks for it (or forever, if it never does:
    the driver sends outcomes only to attempts still running).
    """

    def __init__(self) -> None:
        self._calls: list[bytes] = []
        self._arrived = asyncio.Event()
        self._outcomes: dict[str, bytes] = {}
        self._answered: dict[str, asyncio.Event] = {}

    async def call(self, data: bytes) -> None:
        self._calls.append(data)
        self._arrived.set()

    async def take(self, wait_s: float) -> list[bytes]:
        """The calls that arrived, waiting up to ``wait_s`` seconds for the first."""
        if not self._calls:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), wait_s)
            except TimeoutError:
                pass
        calls, self._calls = self._calls, []
        return calls

    async def answer(self, key: str, data: bytes) -> None:
        self._outcomes[key] = data
        self._event(key).set()

    async def outcome(self, key: str) -> bytes:
        await self._event(key).wait()
        self._answered.pop(key, None)
        return self._outcomes.pop(key)

    def _event(self, key: str) -> asyncio.Event:
        event = self._answered.get(key)
        if event is None:
            event = self._answered[key] = asyncio.Event()
        return event
