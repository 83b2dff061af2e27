"""Prometheus metrics of one server process (``/metrics``).

- ``airfoil_executions{phase}``: executions by phase (from the store, at scrape time);
- ``airfoil_queue_depth``: executions queued and not yet claimed by any driver;
- ``airfoil_attempts_total{phase}``: finished attempts by phase (driven by this process),
  the attempts of map items included;
- ``airfoil_task_duration_seconds``: attempt durations (histogram; a map item's too, except
  when more than ``ITEM_DURATIONS_KEPT`` items of one execution end between two looks);
- ``airfoil_scheduling_latency_seconds``: from a node becoming ready (queued) to its first
  attempt starting in a worker (histogram; retries are left out, their wait is backoff, and
  so are map items, whose wait is the map's window);
- ``airfoil_cache_lookups_total{result}`` and ``airfoil_cache_hit_ratio``;
- ``airfoil_api_request_duration_seconds{method,route,status}``: API latency (histogram);
- ``airfoil_driver_restarts_total{reason}``: driver slots restarted (``error``: a turn
  failed and the slot carried on; ``died``: its thread ended and the supervisor replaced it);
- ``airfoil_driver_pauses_total``: executions paused through a database outage;
- ``airfoil_store_retries_total``: transient store failures retried (connection lost,
  serialization failure, deadlock, timeout).

Each app has its own registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from airfoil.core.phases import ExecutionPhase
from airfoil.store.base import MetaStore

if TYPE_CHECKING:
    from airfoil.engine._mapping import ItemEnds

__all__ = ["Metrics", "Observation"]

#: One thing :meth:`Metrics.changes` found: ``("attempt", phase, duration or None, wait from
#: queued to the first attempt's start or None)``, ``("attempts", phase, how many, None)`` and
#: ``("duration", "", duration, None)`` (map items' attempts: counted, and timed, apart) or
#: ``("cache", "hit" | "miss", None, None)``.
Observation = tuple[str, str, float | None, float | None]

_EVERY_S = 0.5
_TERMINAL_ATTEMPT = frozenset({"succeeded", "failed", "lost", "aborted"})


class _StoreCollector(Collector):
    def __init__(self, meta: MetaStore, metrics: Metrics) -> None:
        self.meta = meta
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        fam = GaugeMetricFamily("airfoil_executions", "Executions by phase", labels=["phase"])
        queued = 0
        for phase in ExecutionPhase:
            try:
                n = self.meta.count_executions(phase=phase.value)
            except Exception:  # a store outage must not break the scrape
                continue
            if phase is ExecutionPhase.QUEUED:
                queued = n
            fam.add_metric([phase.value], n)
        yield fam
        depth = GaugeMetricFamily("airfoil_queue_depth", "Executions waiting for a driver")
        depth.add_metric([], queued)
        yield depth
        retries = CounterMetricFamily("airfoil_store_retries", "Transient store failures retried")
        retries.add_metric([], float(getattr(self.meta, "retries", 0)))
        yield retries
        ratio = GaugeMetricFamily("airfoil_cache_hit_ratio", "Cache hits / lookups")
        ratio.add_metric([], self.metrics.hit_ratio())
        yield ratio


class Metrics:
    """The metrics of one app, and the engine hook that feeds them."""

    def __init__(self, meta: MetaStore) -> None:
        self._seen_attempts: dict[str, set[tuple[str, int]]] = {}
        self._seen_cache: dict[str, set[str]] = {}
        #: execution -> (its state's ``ItemEnds`` as last seen: phases, total)
        self._seen_items: dict[str, tuple[dict[str, int], int]] = {}
        self._hits = 0
        self._lookups = 0
        self._lock = threading.Lock()
        self._next_look: dict[str, float] = {}
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "airfoil_attempts", "Finished attempts by phase", ["phase"], registry=self.registry
        )
        self.durations = Histogram(
            "airfoil_task_duration_seconds",
            "Attempt durations",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600),
            registry=self.registry,
        )
        self.scheduling = Histogram(
            "airfoil_scheduling_latency_seconds",
            "Node ready to first attempt started",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300),
            registry=self.registry,
        )
        self.cache = Counter(
            "airfoil_cache_lookups", "Cache lookups by result", ["result"], registry=self.registry
        )
        self.api = Histogram(
            "airfoil_api_request_duration_seconds",
            "API latency",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )
        self.restarts = Counter(
            "airfoil_driver_restarts",
            "Driver slots restarted",
            ["reason"],
            registry=self.registry,
        )
        self.pauses = Counter(
            "airfoil_driver_pauses",
            "Executions paused through a database outage",
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(meta, self))

    def driver_restarted(self, reason: str) -> None:
        """Driver hook: a slot restarted (``error`` or ``died``)."""
        self.restarts.labels(reason).inc()

    def driver_paused(self) -> None:
        """Driver hook: an execution was paused through a database outage."""
        self.pauses.inc()

    def hit_ratio(self) -> float:
        with self._lock:
            return self._hits / self._lookups if self._lookups else 0.0

    def on_change(self, state: Any) -> None:
        """Engine hook (after each write): count newly finished attempts and cache results.

        Looks at an execution at most every ``_EVERY_S`` (and when it ends), so a large
        execution's thousands of writes do not each rescan its nodes.
        """
        found = self.changes(state)
        if found:
            self.record(found)

    def changes(self, state: Any) -> list[Observation]:
        """What :meth:`on_change` counts for ``state``, not yet counted: an engine in
        another process sends these to the server's metrics (:meth:`record`)."""
        ex = state.execution
        terminal = ex.phase in ("succeeded", "failed", "aborted")
        now = time.monotonic()
        if not terminal and now < self._next_look.get(ex.id, 0.0):
            return []
        self._next_look[ex.id] = now + _EVERY_S
        out: list[Observation] = []
        with self._lock:
            seen = self._seen_attempts.setdefault(ex.id, set())
            for key, a in state.attempts.items():
                if key in seen or a.phase not in _TERMINAL_ATTEMPT:
                    continue
                seen.add(key)
                took = None if a.ended_at is None else max(0.0, a.ended_at - a.started_at)
                node = state.records.get(key[0])
                waited = None
                if a.attempt == 1 and node is not None and node.queued_at is not None:
                    waited = max(0.0, a.started_at - node.queued_at)
                out.append(("attempt", a.phase, took, waited))
            self._item_changes(ex.id, state.item_ends, out)
            looked = self._seen_cache.setdefault(ex.id, set())
            for nid, n in state.records.items():
                if nid in looked or n.cache_status not in ("hit", "put"):
                    continue
                looked.add(nid)
                out.append(("cache", "hit" if n.cache_status == "hit" else "miss", None, None))
            if terminal:
                self._seen_attempts.pop(ex.id, None)
                self._seen_cache.pop(ex.id, None)
                self._seen_items.pop(ex.id, None)
                self._next_look.pop(ex.id, None)
        return out

    def _item_changes(self, ex_id: str, ends: ItemEnds, out: list[Observation]) -> None:
        """The map items' attempts ended since the last look (under the lock)."""
        phases, total = self._seen_items.get(ex_id, ({}, 0))
        if total > ends.total:  # a new state of the execution (driven again): counts anew
            phases, total = {}, 0
        if ends.total == total:
            return
        for phase, n in ends.phases.items():
            if n > phases.get(phase, 0):
                out.append(("attempts", phase, float(n - phases.get(phase, 0)), None))
        # the newest durations, whatever their phase: timed apart from the counts (a phase's
        # count does not say which of its attempts are new)
        kept = len(ends.durations)
        new = islice(ends.durations, max(0, kept - (ends.total - total)), None)
        out.extend(("duration", "", d, None) for d in new if d is not None)
        self._seen_items[ex_id] = (dict(ends.phases), ends.total)

    def record(self, found: list[Observation]) -> None:
        """Count what :meth:`changes` found (in this process or an engine process)."""
        with self._lock:
            for kind, label, took, waited in found:
                if kind == "duration" and took is not None:
                    self.durations.observe(took)
                elif kind == "attempts" and took is not None:
                    self.attempts.labels(label).inc(took)
                elif kind == "attempt":
                    self.attempts.labels(label).inc()
                    if took is not None:
                        self.durations.observe(took)
                    if waited is not None:
                        self.scheduling.observe(waited)
                elif kind == "cache":
                    self.cache.labels(label).inc()
                    self._lookups += 1
                    self._hits += int(label == "hit")
