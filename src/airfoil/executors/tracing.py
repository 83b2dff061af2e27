"""OpenTelemetry traces of runs, from the hooks seam (:mod:`airfoil.executors.hooks`):
one span per execution, a child span per node, a child span of the node per attempt
(retries are sibling attempts), and a task's child call (node ``<caller>.call<n>-...``) a
node under the caller's running attempt. Spans are exported over OTLP/HTTP.

Only built when an endpoint is configured (``AirfoilSettings.otel_endpoint`` or
``OTEL_EXPORTER_OTLP_ENDPOINT``): the runtime imports this module, and with it the
OpenTelemetry SDK (the ``otel`` extra), only then; nothing is imported or exported
otherwise.

Each attempt carries its span's W3C ``traceparent`` to its worker in
:attr:`AttemptRequest.context` (the task reads ``current_context().context``; the worker
writes the trace id at the top of the attempt's log).

Ends: an attempt's span when the executor reports it; a node's when an attempt succeeds
or the execution finishes (``Finished``); the execution's at ``Finished`` (or on
:meth:`TracingHooks.close`, for a run the process leaves unfinished).

Map items are sampled (:class:`MapSampling`), so a map of a million items does not make
two million spans: a map node gets one span (``map N``, under the execution) and only its
sampled items get spans under it (``node N[i]`` and their attempts): the first
``first`` items, every ``every``-th item, and up to ``failures`` failed items (a failed
item's spans are made when its attempt ends, with their real times and derived ids), plus
every later attempt of an item already traced (its retries). The map span counts what it
saw (``airfoil.map.items``, ``airfoil.map.items_traced``, ``airfoil.map.attempts_failed``) and
ends with the last item seen. An item outside the sample still gets its derived
``traceparent``, with the *not sampled* flag (``-00``), so a task's own spans follow the
same decision.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from airfoil.core.errors import ConfigError
from airfoil.core.phases import NodePhase
from airfoil.core.records import NodeRecord
from airfoil.core.trace_ids import attempt_span_id, execution_trace_id, traceparent
from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.hooks import Hooks

__all__ = ["MapSampling", "TracingHooks", "traces_url"]

log = logging.getLogger("airfoil.tracing")

#: Longest an export (with its retries) may take: a collector that is down delays the
#: runtime's close (a CLI run's exit) by about this much, never more.
EXPORT_TIMEOUT_S = 2.0


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of ``endpoint`` (a base URL gets ``/v1/traces``, as the
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` convention says)."""
    endpoint = endpoint.strip()
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"otel_endpoint {endpoint!r} is not an http(s) URL: give the OTLP/HTTP collector, "
            "e.g. http://127.0.0.1:4318"
        )
    return (
        endpoint
        if endpoint.rstrip("/").endswith("/v1/traces")
        else (endpoint.rstrip("/") + "/v1/traces")
    )


class _NextIds(Protocol):
    trace: int | None
    span: int | None


def _ids() -> Any:
    """An id generator for the SDK: random, except the next id asked for when one is set
    (an execution's trace id, an attempt's span id: :mod:`airfoil.core.trace_ids`)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class Ids(RandomIdGenerator):
        trace: int | None = None
        span: int | None = None

        def generate_trace_id(self) -> int:
            if self.trace is not None:
                trace, self.trace = self.trace, None
                return trace
            return super().generate_trace_id()

        def generate_span_id(self) -> int:
            if self.span is not None:
                span, self.span = self.span, None
                return span
            return super().generate_span_id()

    return Ids()


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


#: ``n3[12]`` or ``n3[12].n0``: the map node and the item index of a node inside a map.
_ITEM = re.compile(r"^(.*?)\[(\d+)\]")


@dataclass(frozen=True)
class MapSampling:
    """Which items of a map get spans (see the module docstring).

    Attributes:
        first: the first items traced (by index).
        every: every this-many-th item traced too (0: none).
        failures: at most this many failed items traced, per map.
    """

    first: int = 10
    every: int = 100
    failures: int = 100

    def __post_init__(self) -> None:
        if min(self.first, self.every, self.failures) < 0:
            raise ConfigError(
                f"map item sampling {self} takes counts of 0 or more "
                "(AIRFOIL_OTEL_MAP_FIRST, AIRFOIL_OTEL_MAP_EVERY, AIRFOIL_OTEL_MAP_FAILURES)"
            )

    def keeps(self, index: int) -> bool:
        """Whether item ``index`` is in the sample before anything is known of it."""
        return index < self.first or (self.every > 0 and index % self.every == 0)


@dataclass
class _Map:
    """What a map's span counts (numbers only: a map of a million items keeps no list)."""

    span: Any
    items: int = 0  # first attempts seen
    traced: int = 0  # items given spans
    failed: int = 0  # failed attempts
    failed_traced: int = 0  # items given spans when they failed
    last_end: float = 0.0


class TracingHooks(Hooks):
    """Spans for executions, nodes and attempts, then everything passed on to ``inner``.

    Args:
        endpoint: the OTLP/HTTP collector (base URL or its ``/v1/traces``).
        inner: the entry point's own hooks, if any.
        service: the ``service.name`` resource attribute.
        map_sampling: which map items get spans (default :class:`MapSampling`'s).
        nodes: reads an execution's nodes (the metadata store's ``get_nodes``): when it ends,
            a map that failed gets the error status (its items are only seen one by one).
    """

    def __init__(
        self,
        endpoint: str,
        inner: Hooks | None = None,
        service: str = "airfoil",
        map_sampling: MapSampling | None = None,
        nodes: Callable[[str], list[NodeRecord]] | None = None,
    ) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise ConfigError(
                "tracing is configured (otel_endpoint / OTEL_EXPORTER_OTLP_ENDPOINT) but the "
                "OpenTelemetry SDK is missing: pip install 'airfoil[otel]'"
            ) from None
        self.inner = inner
        self.url = traces_url(endpoint)
        ids = _ids()
        self._ids: _NextIds = ids
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service}), id_generator=ids
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=self.url, timeout=EXPORT_TIMEOUT_S))
        )
        self._tracer = self._provider.get_tracer("airfoil")
        self._lock = threading.Lock()
        self._executions: dict[str, Any] = {}
        self._nodes: dict[tuple[str, str], Any] = {}
        self._attempts: dict[tuple[str, str, int], Any] = {}
        self.map_sampling = map_sampling or MapSampling()
        self._maps: dict[tuple[str, str], _Map] = {}
        self._nodes_of = nodes

    # -- spans -------------------------------------------------------------------------

    def _execution(self, eid: str) -> Any:
        span = self._executions.get(eid)
        if span is None:
            self._ids.trace = execution_trace_id(eid)  # a root span: asks for a trace id
            span = self._executions[eid] = self._tracer.start_span(
                "execution", attributes={"airfoil.execution_id": eid}
            )
        return span

    def _node(self, request: AttemptRequest) -> Any:
        key = (request.execution_id, request.node_id)
        span = self._nodes.get(key)
        if span is None:
            from opentelemetry import trace

            parent = self._execution(request.execution_id)
            caller, dot, rest = request.node_id.rpartition(".")
            item = _ITEM.match(request.node_id)
            if item is not None:  # a map's item (or a node inside one): under the map
                parent = self._map(request.execution_id, item.group(1)).span
            elif dot and rest.startswith("call"):  # a child call: under the caller's attempt
                running = [
                    s
                    for (e, n, _), s in self._attempts.items()
                    if (e, n) == (request.execution_id, caller)
                ]
                if running:
                    parent = running[-1]
            span = self._nodes[key] = self._tracer.start_span(
                f"node {request.node_id}",
                context=trace.set_span_in_context(parent),
                attributes={
                    "airfoil.execution_id": request.execution_id,
                    "airfoil.node_id": request.node_id,
                    "airfoil.task": request.task.name,
                },
            )
        return span

    def _map(self, execution_id: str, map_id: str) -> _Map:
        m = self._maps.get((execution_id, map_id))
        if m is None:
            from opentelemetry import trace

            parent = self._execution(execution_id)
            span = self._tracer.start_span(
                f"map {map_id}",
                context=trace.set_span_in_context(parent),
                attributes={"airfoil.execution_id": execution_id, "airfoil.node_id": map_id},
            )
            m = self._maps[(execution_id, map_id)] = _Map(span)
        return m

    def _untraced_item(self, request: AttemptRequest) -> bool:
        """Notes a map item's attempt; True when it is outside the sample (no span now)."""
        item = _ITEM.match(request.node_id)
        if item is None:
            return False
        m = self._map(request.execution_id, item.group(1))
        first = request.attempt == 1
        m.items += first
        if (request.execution_id, request.node_id) in self._nodes:
            return False  # an item traced before (a retry after a traced failure)
        if self.map_sampling.keeps(int(item.group(2))):
            m.traced += first
            return False
        return True

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        extra: dict[str, str] = {}
        try:
            extra["traceparent"] = self._start_attempt(request)
        except Exception:
            log.exception(
                "starting the span of %s/%s failed", request.execution_id, request.node_id
            )
        if self.inner is not None:
            extra = {**extra, **self.inner.attempt_context(request)}
        return extra

    def _start_attempt(self, request: AttemptRequest) -> str:
        """Starts the attempt's span (none for a map item outside the sample); its
        ``traceparent``."""
        from opentelemetry import trace

        with self._lock:
            if self._untraced_item(request):
                parent = traceparent(request.execution_id, request.node_id, request.attempt)
                return parent[:-2] + "00"  # the ids as ever, flagged not sampled
            node = self._node(request)
            self._ids.span = attempt_span_id(request.execution_id, request.node_id, request.attempt)
            span = self._tracer.start_span(
                f"attempt {request.attempt}",
                context=trace.set_span_in_context(node),
                attributes={
                    "airfoil.execution_id": request.execution_id,
                    "airfoil.node_id": request.node_id,
                    "airfoil.attempt": request.attempt,
                    "airfoil.task": request.task.name,
                },
            )
            self._attempts[(request.execution_id, request.node_id, request.attempt)] = span
        c = span.get_span_context()
        return f"00-{c.trace_id:032x}-{c.span_id:016x}-01"

    def attempt_started(self, request: AttemptRequest) -> None:
        if self.inner is not None:
            self.inner.attempt_started(request)

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        from opentelemetry.trace import Status, StatusCode

        key = (request.execution_id, request.node_id, request.attempt)
        with self._lock:
            span = self._attempts.pop(key, None)
            if _ITEM.match(request.node_id) is not None:
                span = self._item_ended(request, result, span)
            node = self._nodes.get(key[:2])
        if span is not None:
            span.set_attribute("airfoil.worker", result.worker)
            if result.error is not None:
                span.set_status(Status(StatusCode.ERROR, result.error.message[:500]))
                span.set_attribute("airfoil.error_kind", str(result.error.kind))
            span.end(end_time=_ns(result.ended_at))
        if node is not None and result.error is None:
            with self._lock:
                self._nodes.pop(key[:2], None)
            node.end(end_time=_ns(result.ended_at))
        if self.inner is not None:
            self.inner.attempt_ended(request, result)

    def _item_ended(self, request: AttemptRequest, result: AttemptResult, span: Any) -> Any:
        """Counts a map item's ended attempt; a failed one outside the sample gets its
        spans now (within the failures bound). Returns the attempt's span, if any."""
        item = _ITEM.match(request.node_id)
        assert item is not None
        m = self._map(request.execution_id, item.group(1))
        m.last_end = max(m.last_end, result.ended_at)
        if result.error is None:
            return span
        m.failed += 1
        if span is not None or m.failed_traced >= self.map_sampling.failures:
            return span
        from opentelemetry import trace

        m.failed_traced += 1
        m.traced += 1
        key = (request.execution_id, request.node_id)
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = self._tracer.start_span(
                f"node {request.node_id}",
                context=trace.set_span_in_context(m.span),
                start_time=_ns(result.started_at),
                attributes={
                    "airfoil.execution_id": request.execution_id,
                    "airfoil.node_id": request.node_id,
                    "airfoil.task": request.task.name,
                },
            )
        self._ids.span = attempt_span_id(request.execution_id, request.node_id, request.attempt)
        return self._tracer.start_span(
            f"attempt {request.attempt}",
            context=trace.set_span_in_context(node),
            start_time=_ns(result.started_at),
            attributes={
                "airfoil.execution_id": request.execution_id,
                "airfoil.node_id": request.node_id,
                "airfoil.attempt": request.attempt,
                "airfoil.task": request.task.name,
            },
        )

    def _end_maps(self, maps: list[_Map]) -> None:
        for m in maps:
            m.span.set_attribute("airfoil.map.items", m.items)
            m.span.set_attribute("airfoil.map.items_traced", m.traced)
            m.span.set_attribute("airfoil.map.attempts_failed", m.failed)
            m.span.end(end_time=_ns(m.last_end) if m.last_end else None)

    def _failed_maps(self, execution_id: str, maps: dict[str, _Map]) -> None:
        """Marks the span of each of ``maps`` whose node failed (committed before the
        execution's end is carried out) with the error status and the node's message."""
        from opentelemetry.trace import Status, StatusCode

        if not maps or self._nodes_of is None:
            return
        try:
            nodes = self._nodes_of(execution_id)
        except Exception:  # an observer never fails a run
            log.exception("reading the nodes of %s for their map spans failed", execution_id)
            return
        for node in nodes:
            m = maps.get(node.node_id)
            if m is not None and node.phase == NodePhase.FAILED:
                message = node.error.message[:500] if node.error is not None else "failed"
                m.span.set_status(Status(StatusCode.ERROR, message))

    def command_carried_out(self, execution_id: str, command: object, cause: int) -> None:
        if type(command).__name__ == "Finished":
            self._finish(execution_id, str(getattr(command, "phase", "")))
        elif type(command).__name__ == "Enqueue":
            with self._lock:
                self._execution(execution_id)
        if self.inner is not None:
            self.inner.command_carried_out(execution_id, command, cause)

    def _finish(self, execution_id: str, phase: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        with self._lock:
            nodes = [k for k in self._nodes if k[0] == execution_id]
            open_nodes = [(k[1], self._nodes.pop(k)) for k in nodes]
            by_map = {k[1]: self._maps.pop(k) for k in list(self._maps) if k[0] == execution_id}
            span = self._executions.pop(execution_id, None)
        for node_id, node in open_nodes:
            node.set_status(Status(StatusCode.ERROR))
            item = _ITEM.match(node_id)
            m = by_map.get(item.group(1)) if item is not None else None
            # a failed item: it ended with its map's last item, not now
            node.end(end_time=_ns(m.last_end) if m is not None and m.last_end else None)
        self._failed_maps(execution_id, by_map)
        self._end_maps(list(by_map.values()))
        if span is not None:
            span.set_attribute("airfoil.phase", phase)
            if "FAIL" in phase.upper():
                span.set_status(Status(StatusCode.ERROR, phase))
            span.end()

    def http_request(self, method: str, path: str, status: int, duration_s: float) -> None:
        if self.inner is not None:
            self.inner.http_request(method, path, status, duration_s)

    def close(self) -> None:
        """End what is still open and export every span (call once, at shutdown)."""
        with self._lock:
            left = list(self._attempts.values()) + list(self._nodes.values())
            maps = list(self._maps.values())
            self._attempts.clear()
            self._nodes.clear()
            self._maps.clear()
        for span in left:
            span.end()
        self._end_maps(maps)
        with self._lock:
            roots = list(self._executions.values())
            self._executions.clear()
        for span in roots:
            span.end()
        self._provider.shutdown()
