"""Interceptors: code that observes attempts (tracing, metrics, reports) without touching the
engine, and the context that travels with each attempt to its worker (trace ids).

A :class:`Hooks` subclass overrides what it needs; an entry point passes it to the runtime it
builds (``LocalRuntime(settings, hooks=...)``), which wraps every executor it makes in a
:class:`HookedExecutor`. Every runtime also wraps its executors for its own observability
hooks (:mod:`airfoil.executors.observe`), which pass everything on to the entry point's.

- :meth:`Hooks.attempt_context` is asked when an attempt is handed to the executor; what it
  returns is merged into :attr:`AttemptRequest.context` and the task reads it as
  ``current_context().context`` in the worker (an OpenTelemetry ``traceparent``, a job id).
- :meth:`Hooks.attempt_started` / :meth:`Hooks.attempt_ended` bracket each attempt, on the
  driver's thread, with the request and its :class:`AttemptResult`.
- :meth:`Hooks.command_carried_out` is called by the driver loop once for each command of
  the state machine it carries out (enqueue, start an attempt, look up the cache, schedule a
  retry, ...), with the command and its cause id: the ``seq`` of the event-log entry the
  command follows from (``EventRecord.cause_id`` links the log the same way).
- :meth:`Hooks.http_request` is called by the server for every request it answered.

A hook that raises is logged and ignored: an observer must never fail a run.
"""

from __future__ import annotations

import logging

import msgspec

from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    DelegatingExecutor,
    Executor,
)

__all__ = ["HookedExecutor", "Hooks"]

log = logging.getLogger("airfoil.hooks")


class Hooks:
    """Interceptors; every method does nothing by default."""

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        """Context to send with the attempt to its worker (default: none)."""
        return {}

    def attempt_started(self, request: AttemptRequest) -> None:
        """An attempt was handed to the executor."""

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        """An attempt ended (outputs or an error) and the executor reported it."""

    def command_carried_out(self, execution_id: str, command: object, cause: int) -> None:
        """The driver loop of ``execution_id`` carries out ``command`` (one of the engine's
        commands, ``airfoil.engine.state.Command``), which follows from the event-log entry
        ``cause`` (its ``seq``; 0: from outside the engine). Called on the driver's thread,
        before the command's effect; keep it quick."""

    def http_request(self, method: str, path: str, status: int, duration_s: float) -> None:
        """The server answered an HTTP request."""


class HookedExecutor(DelegatingExecutor):
    """An executor whose attempts are reported to :class:`Hooks` (see the module docstring)."""

    def __init__(self, inner: Executor, hooks: Hooks) -> None:
        super().__init__(inner)
        self.hooks = hooks
        self._running: dict[tuple[str, str, int], AttemptRequest] = {}

    def _with_context(self, request: AttemptRequest) -> AttemptRequest:
        try:
            extra = self.hooks.attempt_context(request)
            if extra:
                request = msgspec.structs.replace(request, context={**request.context, **extra})
            self.hooks.attempt_started(request)
        except Exception:
            log.exception(
                "a hook failed when attempt %s/%s started", request.execution_id, request.node_id
            )
        return request

    def _ended(self, results: list[AttemptResult]) -> list[AttemptResult]:
        for result in results:
            request = self._running.pop((result.execution_id, result.node_id, result.attempt), None)
            if request is None:
                continue
            try:
                self.hooks.attempt_ended(request, result)
            except Exception:
                log.exception(
                    "a hook failed when attempt %s/%s ended", result.execution_id, result.node_id
                )
        return results

    def submit(self, request: AttemptRequest) -> None:
        request = self._with_context(request)
        self._running[(request.execution_id, request.node_id, request.attempt)] = request
        self.inner.submit(request)

    def run_now(self, request: AttemptRequest) -> AttemptResult:
        request = self._with_context(request)
        self._running[(request.execution_id, request.node_id, request.attempt)] = request
        return self._ended([self.inner.run_now(request)])[0]

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        return self._ended(self.inner.poll(timeout))

    def cancel(self, execution_id: str, node_id: str) -> None:
        # Executors report nothing for a cancelled attempt: forget it here too, or a
        # long-lived runtime (a server) would keep every cancelled attempt's request.
        for key in [k for k in self._running if k[:2] == (execution_id, node_id)]:
            del self._running[key]
        self.inner.cancel(execution_id, node_id)
