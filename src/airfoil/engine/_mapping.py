"""Map nodes in the run state machine: one task fanned out over lists, item by item.

State per item is compact (a few bytes in arrays, plus its inputs and outputs): a map of
100,000 items keeps no Python object graph per item. Items are named ``<node>[<index>]``;
each try of an item is an :class:`AttemptRecord` under that name, which also carries the
item's outputs, so finished items survive a crash and are not run again on resume. Listings
show the map node with counts per phase instead of one row per item.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airfoil.core.collections import NULL_VALUE, list_value
from airfoil.core.phases import AttemptPhase, CacheStatus, ErrorKind
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    ErrorInfo,
    MapSpec,
    TaskSpec,
    Value,
)
from airfoil.engine import _commands as _c
from airfoil.engine._recording import RunRecorder
from airfoil.engine._retry import RetryPolicy, decide_retry, failed_attempt_phase
from airfoil.engine.cache import cache_key, key_parts, outputs_written
from airfoil.engine.transitions import ITEM_MOVES, ITEM_PHASES, check_item_move

__all__ = ["ItemEnds", "MapState", "item_id", "split_item_id"]

# Item phases (one byte each: the index of the phase in ``ITEM_PHASES``). Every change goes
# through ``MapState.move``, checked against the node transition table.
PENDING, QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED, ABORTED = range(len(ITEM_PHASES))
#: Unfinished item phases to ABORTED (legal moves in the table), for ``bytes.translate``.
_TO_ABORTED = bytes(ABORTED if c in (QUEUED, RUNNING, RETRYING) else c for c in range(256))
_NAMES = tuple(p.value for p in ITEM_PHASES)
_UNFINISHED_NAMES = frozenset(_NAMES[c] for c in (QUEUED, RUNNING, RETRYING))
# Attempt phase values, looked up once (an enum's ``.value`` is a Python-level call).
_RUNNING = AttemptPhase.RUNNING.value
_SUCCEEDED = AttemptPhase.SUCCEEDED.value
DEFAULT_WINDOW = 1024
#: The worker of an item's record when the item was served from the cache.
CACHE_WORKER = "cache"


#: How many ended item attempts keep their duration for observers (``ItemEnds.durations``).
ITEM_DURATIONS_KEPT = 10_000


@dataclass
class ItemEnds:
    """The attempts of map items that ended in this state, for observers (the server's
    Prometheus counters): an item's attempt ends inside the state machine and, once
    committed, is kept nowhere in memory, so a reader of ``RunState.attempts`` never sees it.

    ``phases`` counts them exactly (phase -> ended attempts, since this state was built);
    ``durations`` keeps the durations of the latest ``ITEM_DURATIONS_KEPT`` (None when unknown)
    and ``total`` how many ended in all, so an observer reading every half second takes the
    ``total - seen`` newest and misses durations only past that many in between. Counting is
    an increment and an append per attempt.
    """

    phases: dict[str, int] = field(default_factory=dict)
    durations: deque[float | None] = field(
        default_factory=lambda: deque(maxlen=ITEM_DURATIONS_KEPT)
    )
    total: int = 0

    def ended(self, att: AttemptRecord) -> None:
        """Count ``att``, which has just ended."""
        self.phases[att.phase] = self.phases.get(att.phase, 0) + 1
        took = None if att.ended_at is None else max(0.0, att.ended_at - att.started_at)
        self.durations.append(took)
        self.total += 1


def item_id(node_id: str, index: int) -> str:
    return f"{node_id}[{index}]"


def split_item_id(name: str) -> tuple[str, int] | None:
    """``("n3", 17)`` for ``"n3[17]"``; None for a plain node id."""
    if not name.endswith("]") or "[" not in name:
        return None
    base, _, index = name[:-1].rpartition("[")
    return base, int(index)


@dataclass
class MapState:
    """The items of one map node."""

    inputs: list[dict[str, Value]]
    window: int
    node_id: str = ""
    phase: bytearray = field(init=False)
    attempts: array[int] = field(init=False)
    user_failures: array[int] = field(init=False)
    system_failures: array[int] = field(init=False)
    outputs: list[dict[str, Value] | None] = field(init=False)
    errors: dict[int, ErrorInfo] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)
    cache_keys: dict[int, tuple[str, Any]] = field(default_factory=dict)
    next: int = 0
    active: int = 0  # queued + running + retrying
    cached: int = 0  # items served from the cache

    def __post_init__(self) -> None:
        n = len(self.inputs)
        self.phase = bytearray(n)
        self.attempts = array("H", bytes(2 * n))
        self.user_failures = array("H", bytes(2 * n))
        self.system_failures = array("H", bytes(2 * n))
        self.outputs = [None] * n

    @property
    def n(self) -> int:
        return len(self.inputs)

    def done(self) -> bool:
        return self.active == 0 and self.next >= len(self.inputs)

    def move(self, i: int, to: int) -> None:
        """Move item ``i`` to phase ``to``, if the transition table allows it.

        Raises:
            InvalidTransition: it does not (a bug in the engine).
        """
        frm = self.phase[i]
        if not _MOVES[frm * _N + to]:
            check_item_move(item_id(self.node_id, i), frm, to)
        self.phase[i] = to

    def apply_history(
        self, history: list[AttemptRecord], task: TaskSpec, now: float
    ) -> list[AttemptRecord]:
        """Replay earlier attempts of the items (resume). Returns attempts now lost."""
        lost: list[AttemptRecord] = []
        streaks: dict[int, int] = {}  # item -> attempts lost with their driver, in a row
        for att in sorted(history, key=lambda a: a.attempt):
            parsed = split_item_id(att.node_id)
            if parsed is None or parsed[1] >= self.n:
                continue
            i = parsed[1]
            self.attempts[i] = max(self.attempts[i], att.attempt)
            streak = streaks.pop(i, 0)
            if att.phase == AttemptPhase.SUCCEEDED.value:
                if self.phase[i] != SUCCEEDED:
                    self.move(i, SUCCEEDED)
                self.outputs[i] = att.outputs or {}
                self.cached += att.worker == CACHE_WORKER
            elif att.phase == AttemptPhase.RUNNING.value:
                att.phase = AttemptPhase.LOST.value
                att.ended_at = now
                att.error, charged = _c.driver_lost(streak)
                self.system_failures[i] += charged
                self.errors[i] = att.error
                streaks[i] = streak + 1
                lost.append(att)
            elif att.error is not None and att.error.type == _c.DRIVER_LOST:
                self.system_failures[i] += streak > 0  # the first loss in a row is free
                self.errors[i] = att.error
                streaks[i] = streak + 1
            elif att.error is not None:
                if att.error.kind == ErrorKind.SYSTEM and att.error.type == _c.PREEMPTED:
                    pass  # preemptions use no retry budget
                elif att.error.kind == ErrorKind.USER:
                    self.user_failures[i] += 1
                elif att.error.kind == ErrorKind.DATA:  # never retried: past any budget
                    self.system_failures[i] = task.system_retries + 1
                else:
                    self.system_failures[i] += 1
                self.errors[i] = att.error
        for i in range(self.n):
            if self.phase[i] == SUCCEEDED:
                continue
            if self.user_failures[i] > task.retries or (
                self.system_failures[i] > task.system_retries
            ):
                self.move(i, FAILED)
        # Items before the first pending one need no enqueueing; the rest are enqueued in order.
        return lost

    def result(
        self, output_names: list[str], min_success_ratio: float
    ) -> tuple[dict[str, Value] | None, ErrorInfo | None]:
        """The map's outputs (lists, None for failed items), or why it failed."""
        ok = self.phase.count(SUCCEEDED)
        if self.n and ok / self.n < min_success_ratio:
            failed = self.phase.count(FAILED)  # not the items still running (cancelled)
            first = (
                min(self.errors)
                if self.errors
                else next(i for i, p in enumerate(self.phase) if p == FAILED)
            )
            err = self.errors.get(first)
            detail = f"{err.type}: {err.message}" if err else "failed"
            return None, ErrorInfo(
                kind=err.kind if err else ErrorKind.USER,
                type=err.type if err else "MapItemError",
                message=(
                    f"{failed} of {self.n} items failed (min_success_ratio "
                    f"{min_success_ratio:g}); item {first}: {detail}"
                ),
                traceback=err.traceback if err else "",
            )
        outputs = {
            name: list_value([(o[name] if o is not None else NULL_VALUE) for o in self.outputs])
            for name in output_names
        }
        return outputs, None


_MOVES = ITEM_MOVES
_N = len(ITEM_PHASES)


def cache_put(
    key: str, parts: Any, outputs: dict[str, Value], now: float, exec_id: str, name: str
) -> CacheEntry:
    return CacheEntry(
        key=key, parts=parts, outputs=outputs, created_at=now, execution_id=exec_id, node_id=name
    )


class MapMixin(RunRecorder):
    """The map-node part of :class:`~airfoil.engine.state.RunState`."""

    # Provided by RunState.
    maps: dict[str, MapState]
    _item_running: dict[str, AttemptRecord]
    _item_history: dict[str, list[AttemptRecord]]
    _dirty_maps: set[str]
    retry: RetryPolicy

    if TYPE_CHECKING:

        def _succeeded(self, nid: str, now: float) -> list[Any]: ...
        def _node_failed(self, nid: str, now: float) -> list[Any]: ...

    @cached_property
    def item_ends(self) -> ItemEnds:
        """The map items' ended attempts, for observers (made on first use)."""
        return ItemEnds()

    def _mtask(self, nid: str) -> TaskSpec:
        task = self.graph[nid].task
        assert task is not None
        return task

    def _mspec(self, nid: str) -> MapSpec:
        spec = self.graph[nid].map
        assert spec is not None
        return spec

    def task_of(self, name: str) -> TaskSpec | None:
        """The task a node or map item runs."""
        node = self.graph.get(name)
        if node is None:  # a map item (the engine asks twice per item: no int parsed here)
            node = self.graph[name[: name.rindex("[")]]
        task: TaskSpec | None = node.task
        return task

    def inputs_of(self, name: str) -> dict[str, Value]:
        """The inputs of a node or map item that waits for admission ({}: not known)."""
        rec = self.records.get(name)
        if rec is not None:
            return rec.inputs or {}
        parsed = split_item_id(name)
        ms = self.maps.get(parsed[0]) if parsed is not None else None
        if ms is None or parsed is None or parsed[1] >= len(ms.inputs):
            return {}
        return ms.inputs[parsed[1]]

    def _map_expanded(
        self, nid: str, items: list[dict[str, Value]] | None, error: str, now: float
    ) -> list[Any]:
        rec = self.records[nid]
        if rec.phase != N.QUEUED.value:
            return []
        if items is None:
            rec.error = ErrorInfo(kind=ErrorKind.USER, type="MapInputError", message=error)
            self._move(nid, N.FAILED, "map inputs could not be split", now)
            return self._node_failed(nid, now)
        spec = self._mspec(nid)
        window = spec.concurrency or DEFAULT_WINDOW
        ms = MapState(inputs=items, window=window, node_id=nid)
        for att in ms.apply_history(self._item_history.pop(nid, []), self._mtask(nid), now):
            self._dirty_attempts[(att.node_id, att.attempt)] = att
            self.item_ends.ended(att)  # lost with the driver that ran it
        self.maps[nid] = ms
        rec.attempts = sum(ms.attempts)
        self._move(nid, N.RUNNING, f"mapping {ms.n} items", now)
        self._caused_by(nid)  # its items follow from the map's start
        failed = ms.phase.count(FAILED)
        if failed and ms.n - failed < spec.min_success_ratio * ms.n:
            return self._map_finish(nid, now)  # items failed before the resume: no ratio left
        cmds: list[Any] = self._map_fill(nid)
        self._map_counts(nid)
        return cmds + self._map_maybe_finish(nid, now)

    def _map_counts(self, nid: str) -> None:
        self._dirty_maps.add(nid)

    def _map_fill(self, nid: str) -> list[Any]:
        ms = self.maps[nid]
        if ms.next >= len(ms.inputs):  # every item was queued already (the common case)
            return []
        task = self._mtask(nid)
        cmds: list[Any] = []
        while ms.active < ms.window and ms.next < ms.n:
            i = ms.next
            ms.next += 1
            if ms.phase[i] in (SUCCEEDED, FAILED):
                continue
            ms.active += 1
            ms.move(i, QUEUED)
            name = item_id(nid, i)
            if task.cache.enabled:
                parts = key_parts(task, ms.inputs[i], self.execution.project, self.execution.domain)
                key = cache_key(parts)
                ms.cache_keys[i] = (key, parts)
                cmds.append(_c.LookupCache(name, key, parts, task.cache.serialize))
            else:
                cmds.append(_c.Enqueue(name))
        return cmds

    def _item_cache_looked(
        self, nid: str, i: int, entry: CacheEntry | None, now: float, writable: bool = True
    ) -> list[Any]:
        ms = self.maps.get(nid)
        if ms is None or ms.phase[i] != QUEUED:
            return []
        if entry is not None:
            ms.move(i, SUCCEEDED)
            ms.outputs[i] = dict(entry.outputs)
            ms.active -= 1
            ms.cached += 1
            # Recorded as a try that ran nowhere (attempt 0, worker "cache"): listings show
            # the item as a cache hit, and a resume does not look it up again.
            name = item_id(nid, i)
            self._dirty_attempts[(name, 0)] = AttemptRecord(
                execution_id=self.execution.id,
                node_id=name,
                attempt=0,
                phase=AttemptPhase.SUCCEEDED.value,
                started_at=now,
                ended_at=now,
                worker=CACHE_WORKER,
                outputs=ms.outputs[i],
            )
            return self._map_progress(nid, now)
        if not writable:  # a reader of the task's cache scope: the result is not put
            ms.cache_keys.pop(i, None)
        return [_c.Enqueue(item_id(nid, i))]

    def _item_admit(self, nid: str, i: int, name: str, now: float) -> list[Any]:
        """Start item ``i`` (named ``name``) of map ``nid``."""
        ms = self.maps.get(nid)
        if ms is None or ms.phase[i] != QUEUED:
            return []
        ms.move(i, RUNNING)
        ms.attempts[i] += 1
        att = AttemptRecord(
            execution_id=self.execution.id,
            node_id=name,
            attempt=ms.attempts[i],
            phase=_RUNNING,
            started_at=now,
        )
        self._item_running[name] = att
        self._dirty_attempts[(name, att.attempt)] = att
        self._dirty_maps.add(nid)  # the node's attempt count follows with its counts
        return [_c.StartAttempt(name, att.attempt, ms.inputs[i])]

    def _item_finished(self, nid: str, i: int, ev: Any) -> list[Any]:
        ms = self.maps.get(nid)
        name = ev.node_id
        att = self._item_running.get(name)
        if ms is None or att is None or att.attempt != ev.attempt or ms.phase[i] != RUNNING:
            return []
        del self._item_running[name]
        if ev.started_at:
            att.started_at = ev.started_at  # the item's own start, not its admission
        att.ended_at = ev.now
        att.log_uri = ev.log_uri
        att.worker = ev.worker
        self._dirty_attempts[(name, att.attempt)] = att
        task = self._mtask(nid)
        if ev.error is None:
            att.phase = _SUCCEEDED
            att.outputs = dict(ev.outputs or {})
            self.item_ends.ended(att)
            ms.move(i, SUCCEEDED)
            ms.outputs[i] = att.outputs
            ms.active -= 1
            ms.errors.pop(i, None)
            cmds: list[Any] = []
            if task.cache.enabled and i in ms.cache_keys:
                key, parts = ms.cache_keys.pop(i)
                if not ev.ran_version:  # the launched code's outputs (else not its key's)
                    self._batch.cache_puts.append(
                        cache_put(key, parts, att.outputs, ev.now, self.execution.id, name)
                    )
                else:
                    why = outputs_written(ev.ran_version)
                    self._event("attempt", att.phase, why, ev.now, node=name, attempt=att.attempt)
                if task.cache.serialize:
                    cmds.append(_c.ReleaseCache(key))
            return cmds + self._map_progress(nid, ev.now)
        err = ev.error
        att.phase = failed_attempt_phase(err)
        att.error = err
        self.item_ends.ended(att)
        self._cause = self._event(
            "attempt",
            att.phase,
            f"item {i}: {err.kind} error: {err.type}",
            ev.now,
            node=name,
            attempt=att.attempt,
        )
        d = decide_retry(err, ms.user_failures[i], ms.system_failures[i], task, self.retry)
        ms.user_failures[i], ms.system_failures[i] = d.user_failures, d.system_failures
        if d.retry:
            ms.move(i, RETRYING)
            return [_c.ScheduleRetry(name, ev.now + d.delay_s)]
        ms.move(i, FAILED)
        ms.errors[i] = err
        ms.active -= 1
        spec = self._mspec(nid)
        if spec.min_success_ratio >= 1.0:
            return self._map_finish(nid, ev.now)  # fails now: no ratio can be met any more
        return self._map_progress(nid, ev.now)

    def _item_retry_due(self, nid: str, i: int, now: float) -> list[Any]:
        ms = self.maps.get(nid)
        if ms is None or ms.phase[i] != RETRYING:
            return []
        ms.move(i, QUEUED)
        return [_c.Enqueue(item_id(nid, i))]

    def _map_progress(self, nid: str, now: float) -> list[Any]:
        cmds = self._map_fill(nid)
        self._dirty_maps.add(nid)  # (_map_counts)
        if self.maps[nid].done():
            return cmds + self._map_finish(nid, now)
        return cmds

    def _map_abort_items(self, nid: str, now: float) -> list[Any]:
        """Stop the unfinished items of map ``nid`` (it failed, or its run is aborted):
        cancel their attempts and mark them aborted, so that the map's counts never show
        an item running (or queued, or retrying) after the map has ended."""
        prefix = nid + "["
        cmds: list[Any] = []
        for name in [n for n in self._item_running if n.startswith(prefix)]:
            att = self._item_running.pop(name)
            cmds.append(_c.CancelAttempt(name))
            att.phase = AttemptPhase.ABORTED.value
            att.ended_at = now
            self._dirty_attempts[(name, att.attempt)] = att
            self.item_ends.ended(att)
        ms = self.maps.get(nid)
        if ms is not None:  # in C: a million items take a millisecond, not a Python loop
            ms.phase = bytearray(bytes(ms.phase).translate(_TO_ABORTED))
            ms.active = 0
            self._map_counts(nid)
        else:  # aborted from the store (its drive stopped): as the drive left it
            cmds += self._abort_stored_items(nid, now)
        return cmds

    def _abort_stored_items(self, nid: str, now: float) -> list[Any]:
        """Abort the items of map ``nid`` in a state loaded to abort it (no map state built):
        its stored running item attempts and its unfinished counts."""
        cmds: list[Any] = []
        for att in self._item_history.get(nid, ()):
            if att.phase == _RUNNING:
                cmds.append(_c.CancelAttempt(att.node_id))
                att.phase = AttemptPhase.ABORTED.value
                att.ended_at = now
                self._dirty_attempts[(att.node_id, att.attempt)] = att
        rec = self.records[nid]
        if rec.map_counts:
            unfinished = (QUEUED, RUNNING, RETRYING)
            counts = {k: v for k, v in rec.map_counts.items() if k not in _UNFINISHED_NAMES}
            moved = sum(rec.map_counts.get(_NAMES[c], 0) for c in unfinished)
            if moved:
                counts[_NAMES[ABORTED]] = counts.get(_NAMES[ABORTED], 0) + moved
            rec.map_counts = counts
        return cmds

    def _map_maybe_finish(self, nid: str, now: float) -> list[Any]:
        if not self.maps[nid].done():
            return []
        return self._map_finish(nid, now)

    def _map_finish(self, nid: str, now: float) -> list[Any]:
        ms = self.maps[nid]
        rec = self.records[nid]
        if rec.phase != N.RUNNING.value:
            return []
        spec = self._mspec(nid)
        names = [p.name for p in self._mtask(nid).interface.outputs]
        outputs, error = ms.result(names, spec.min_success_ratio)
        self._map_counts(nid)
        if error is not None:
            cmds = self._map_abort_items(nid, now)
            rec.error = error
            self._move(nid, N.FAILED, error.message, now)
            return cmds + self._node_failed(nid, now)
        rec.outputs = outputs
        if ms.cached:
            rec.cache_reason = f"{ms.cached} of {ms.n} items were served from the cache"
            partly = ms.cached < ms.n
            rec.cache_status = (CacheStatus.PARTIAL if partly else CacheStatus.HIT).value
        self._move(nid, N.SUCCEEDED, f"{ms.n} items finished", now)
        return self._succeeded(nid, now)


def fast_counts(ms: MapState) -> dict[str, int]:
    # bytes.count runs in C: six passes over n bytes beat a Python loop for big maps.
    raw = bytes(ms.phase)
    out = {name: raw.count(bytes([code])) for code, name in enumerate(_NAMES)}
    return {k: v for k, v in out.items() if v}
