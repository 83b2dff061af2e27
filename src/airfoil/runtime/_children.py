"""Tasks called by a running task (Python-native composition), on the caller's side.

A call made while an attempt runs is turned into a :class:`~airfoil.executors.base.ChildCall`
-- the callee's spec, its inputs as stored values, and the child's node id, derived from the
caller's node, the call's order in the attempt and the inputs -- and handed to a *transport*:
the engine itself on the inline executor (it runs the child right away, re-entrantly), or the
pipe to the driver in a worker process (the driver schedules the child like any attempt, on
another worker). The outcome comes back as outputs, decoded into the callee's return type, or
as an error, re-raised here as the same exception type with the child's traceback as a note.

Invariants:

- Child ids depend only on the caller's node, the call order and the inputs, so a caller
  re-run after a crash makes the same calls with the same ids, and the engine answers the
  ones that had succeeded from the store without running them again.
- An attempt never ends with a child still running: calls started without waiting (gathered,
  or async calls never awaited) are waited for before the attempt reports its outcome.
"""

from __future__ import annotations

import builtins
import importlib
import threading
from typing import TYPE_CHECKING, Any

from airfoil.core import drive_lock
from airfoil.core import errors as core_errors
from airfoil.core.blobs import BlobStore
from airfoil.core.code_versions import save_manifests
from airfoil.core.errors import UserCodeError
from airfoil.core.ids import stable_hash
from airfoil.core.records import ErrorInfo, Value, WorkflowSpec
from airfoil.executors.base import ChildCall, ChildOutcome, ChildTransport
from airfoil.sdk._gather import PendingCall
from airfoil.sdk._values import convert_values, decode_values
from airfoil.sdk._versioning import manifest_for

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["ChildCaller", "ChildTransport", "child_exception", "child_node_id"]


def child_node_id(caller: str, order: int, task_name: str, inputs: dict[str, Value]) -> str:
    """``<caller>.call<order>-<hash of the callee and its inputs>``."""
    digest = stable_hash(task_name, *(f"{k}={v.hash}" for k, v in sorted(inputs.items())))
    return f"{caller}.call{order}-{digest[:8]}"


class _Pending(PendingCall):
    def __init__(self, caller: ChildCaller, taskdef: Any, node_id: str) -> None:
        self._caller = caller
        self._taskdef = taskdef
        self.node_id = node_id
        self._lock = threading.Lock()
        self._outcome: ChildOutcome | None = None

    def outcome(self) -> ChildOutcome:
        with self._lock:
            if self._outcome is None:
                self._outcome = self._caller.transport.wait(self.node_id)
                self._caller.open.pop(self.node_id, None)
            return self._outcome

    def result(self) -> Any:
        out = self.outcome()
        if out.error is not None or out.outputs is None:
            raise child_exception(out.error, self._taskdef.name, self.node_id)
        c = self._caller
        return decode_values(self._taskdef, out.outputs, c.types, c.blobs)

    async def wait_async(self) -> Any:
        """The result, awaited without blocking the event loop."""
        if self._outcome is None:
            import asyncio  # async tasks only: not imported by every run

            await asyncio.to_thread(drive_lock.concurrent(self.outcome))
        return self.result()


#: Numbers the child calls of every attempt (held for an increment only: one lock for all
#: attempts costs nothing, a lock per attempt is made on every inline attempt).
_ORDER_LOCK = threading.Lock()


class ChildCaller:
    """The ``child_runner`` of one attempt's context: makes its child calls."""

    def __init__(
        self,
        transport: ChildTransport,
        *,
        execution_id: str,
        node_id: str,
        attempt: int,
        blobs: BlobStore,
        types: TypeEngine,
    ) -> None:
        self.transport = transport
        self.execution_id = execution_id
        self.node_id = node_id
        self.attempt = attempt
        self.blobs = blobs
        self.types = types
        self.open: dict[str, _Pending] = {}
        self._order = 0

    def __call__(self, taskdef: Any, given: dict[str, Any], *, deferred: bool = False) -> Any:
        """Call ``taskdef`` (a task, or a workflow) as a child node: its result, or
        (``deferred``) a pending call, or (an async task) an awaitable of its result."""
        for name, value in list(given.items()):
            if isinstance(value, PendingCall):  # a gathered result passed on: wait for it
                given[name] = value.result()
        values = convert_values(taskdef, given, self.types, self.blobs)
        with _ORDER_LOCK:  # calls from several threads of one task still get distinct orders
            self._order += 1
            order = self._order
        nid = child_node_id(self.node_id, order, taskdef.spec.name, values)
        save_manifests(self.blobs, taskdef.spec, manifest_for)  # the version computed here
        pending = _Pending(self, taskdef, nid)
        self.open[nid] = pending
        spec = taskdef.spec
        called = isinstance(spec, WorkflowSpec)  # a workflow: its nodes run as the child's
        self.transport.submit(
            ChildCall(
                execution_id=self.execution_id,
                parent=self.node_id,
                parent_attempt=self.attempt,
                node_id=nid,
                task=None if called else spec,
                inputs=values,
                workflow=spec if called else None,
            )
        )
        if getattr(taskdef, "is_async", False):
            return pending.wait_async()
        if deferred:
            return pending
        return pending.result()

    def finish(self) -> None:
        """Wait for children the task started but never waited for (however they end): no
        answer may reach the worker once the attempt has reported."""
        for pending in list(self.open.values()):
            pending.outcome()


def child_exception(error: ErrorInfo | None, name: str, nid: str) -> BaseException:
    """The child's exception as the caller sees it: the same type when it can be made."""
    if error is None:
        return UserCodeError("ChildFailed", f"child {nid} of {name} failed")
    cls: Any = None
    module, _, qual = error.type.rpartition(".")
    try:
        if not module:
            cls = getattr(builtins, qual, None)
            if cls is None:
                cls = getattr(core_errors, qual, None)
        else:
            cls = importlib.import_module(module)
            for part in qual.split("."):
                cls = getattr(cls, part)
    except Exception:
        cls = None
    exc: BaseException
    try:
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise TypeError
        exc = cls(error.message)
    except Exception:
        exc = UserCodeError(error.type, error.message, error.traceback)
    exc.add_note(f"raised in child task {name} (node {nid}):\n{error.traceback}".rstrip())
    return exc
