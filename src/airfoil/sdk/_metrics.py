"""What ``current_context().log_metric`` and ``.count`` do: buffer points in memory and hand
them to a writer in chunks (see :mod:`airfoil.core.metrics`).

A :class:`MetricRecorder` belongs to one attempt. Logging a point is an append to a list
under a lock (no I/O on the task's thread); a timer flushes what was logged at most every
``interval`` seconds, and :meth:`MetricRecorder.close` flushes the rest when the attempt
ends. Outside a running task the recorder has no writer: points stay in memory (a plain
training loop may call ``log_metric`` without checking where it runs), bounded by
``max_points``.

Invariants: steps per metric never go backwards unless the task says so (an explicit
``step``); a name is a gauge or a counter, never both (an :class:`InvalidInputError` says
which); NaN and infinities are kept (a diverging loss is worth seeing).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from airfoil.core.errors import InvalidInputError
from airfoil.core.metrics import MetricChunk, encode_chunk

__all__ = ["ChunkWriter", "MetricRecorder"]

_now = time.time

#: Writes chunk ``index`` (its encoded bytes); raises if it could not (kept for next time).
ChunkWriter = Callable[[int, bytes], None]

#: Longest metric name.
MAX_NAME = 200


def _number(name: str, value: object) -> float:
    """``value`` as a float (ints, numpy scalars, 0-d tensors), or a clear error."""
    if isinstance(value, bool):
        raise InvalidInputError(
            f"metric {name!r}: value {value!r} is a bool, not a number; log 1.0/0.0 or count() it"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"metric {name!r}: value {value!r} is not a number; log a float or int"
        ) from None


def _step(name: str, step: object) -> int:
    """``step`` as an int (numpy integers too), or a clear error."""
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidInputError(f"metric {name!r}: step {step!r} is not an int")
    return int(step.__index__())


class MetricRecorder:
    """The metric points of one attempt.

    Args:
        writer: where chunks go (None: kept in memory, for code run outside a task).
        interval: seconds between periodic flushes while points keep coming.
        max_points: with a writer, a buffer this large is flushed at once (bounds memory);
            without one, the oldest points beyond it are dropped.
    """

    def __init__(
        self, writer: ChunkWriter | None = None, interval: float = 2.0, max_points: int = 200_000
    ) -> None:
        self._writer = writer
        self._interval = interval
        self._max = max_points
        self._lock = threading.Lock()
        self._index: dict[str, int] = {}
        self._names: list[str] = []
        self._kinds: list[str] = []
        self._steps: list[int] = []
        self._totals: list[float] = []
        self._points: list[tuple[int, int, float, float]] = []
        self._chunks = 0
        self._timer: threading.Timer | None = None
        self._closed = False

    def _slot(self, name: str, kind: str) -> int:
        i = self._index.get(name)
        if i is None:
            if not isinstance(name, str) or not name or len(name) > MAX_NAME:
                raise InvalidInputError(
                    f"metric name {name!r}: give a non-empty string of at most {MAX_NAME} "
                    "characters"
                )
            i = self._index[name] = len(self._names)
            self._names.append(name)
            self._kinds.append(kind)
            self._steps.append(-1)
            self._totals.append(0.0)
        elif self._kinds[i] != kind:
            was = "log_metric" if self._kinds[i] == "gauge" else "count"
            raise InvalidInputError(
                f"metric {name!r} was logged with {was}: a name is either a value "
                "(log_metric) or a counter (count); use another name"
            )
        return i

    def log(self, name: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of gauge ``name`` at ``step`` (default: its last step + 1)."""
        # The hot path of a training loop: a float, a known name, no step.
        if type(value) is not float:
            value = _number(name, value)
        if step is not None and type(step) is not int:
            step = _step(name, step)
        with self._lock:
            i = self._index.get(name)
            if i is None or self._kinds[i] != "gauge":
                i = self._slot(name, "gauge")
            s = self._steps[i] = self._steps[i] + 1 if step is None else step
            self._points.append((i, s, value, _now()))
            if self._timer is None or len(self._points) >= self._max:
                self._after_append()

    def count(self, name: str, n: float = 1) -> None:
        """Add ``n`` to counter ``name`` (its running total is recorded)."""
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n):
            raise InvalidInputError(f"counter {name!r}: n={n!r} is not a finite number")
        with self._lock:
            i = self._index.get(name)
            if i is None or self._kinds[i] != "counter":
                i = self._slot(name, "counter")
            total = self._totals[i] = self._totals[i] + n
            s = self._steps[i] = self._steps[i] + 1
            self._points.append((i, s, float(total), _now()))
            if self._timer is None or len(self._points) >= self._max:
                self._after_append()

    def _after_append(self) -> None:
        """Arrange the next flush; call with the lock held."""
        if self._writer is None:
            if len(self._points) > self._max:
                del self._points[: len(self._points) - self._max]
            return
        if len(self._points) >= self._max:
            self._flush_locked()
        elif self._timer is None and not self._closed:
            self._timer = threading.Timer(self._interval, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._points or self._writer is None:
            return
        chunk = MetricChunk(list(self._names), list(self._kinds), self._points)
        try:
            self._writer(self._chunks, encode_chunk(chunk))
        except Exception:  # best effort now; the points stay for the next flush
            return
        self._chunks += 1
        self._points = []

    def flush(self) -> None:
        """Write what was logged so far (the task may call it before risky work)."""
        with self._lock:
            self._flush_locked()

    def close(self) -> int:
        """Stop the timer, write the rest; the number of chunks written."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._flush_locked()
            return self._chunks

    def logged(self) -> dict[str, list[tuple[int, float]]]:
        """The points not yet written, as ``{name: [(step, value), ...]}`` (outside a task:
        everything logged, up to ``max_points``)."""
        with self._lock:
            out: dict[str, list[tuple[int, float]]] = {}
            for i, step, value, _ in self._points:
                out.setdefault(self._names[i], []).append((step, value))
            return out
