"""Metric points a task logs (``current_context().log_metric``), as they travel from the
worker to the metadata store.

A running attempt buffers its points in memory and writes them to the blob store in
*chunks* (:class:`MetricChunk`, msgpack) under :func:`metric_chunk_key` -- periodically while
it runs and once when it ends -- so a worker that crashes keeps what it flushed. When the
attempt ends, the driver merges the chunks into one :class:`MetricSeries` per metric name and
stores them with the attempt (``ObservabilityStore.put_metric_series``).

Invariants:

- Chunk ``i`` of an attempt is written before chunk ``i + 1`` and chunks are never rewritten,
  so the points of a metric, read chunk by chunk, are in the order the task logged them.
- A step that is not given is the metric's previous step plus one (0 for its first point).
- A ``counter`` (``count(name, n)``) stores its running total at each call.
- A NaN or infinite value is kept as a point whose value is None (a gap in a chart).
"""

from __future__ import annotations

import math

import msgspec

__all__ = [
    "METRIC_KINDS",
    "MetricChunk",
    "MetricSeries",
    "decode_chunk",
    "encode_chunk",
    "merge_chunks",
    "metric_chunk_key",
]

#: ``gauge``: a value logged as it is (``log_metric``); ``counter``: a running total (``count``).
METRIC_KINDS = ("gauge", "counter")


def metric_chunk_key(execution_id: str, node_id: str, attempt: int, index: int) -> str:
    """Where chunk ``index`` (0, 1, ...) of an attempt's metric points is written."""
    return f"metrics/{execution_id}/{node_id}/{attempt}/{index:06d}.msgpack"


class MetricChunk(msgspec.Struct, frozen=True, array_like=True):
    """Points flushed together: ``points`` are ``(name index, step, value, time)``, the
    name index pointing into ``names`` (and its kind into ``kinds``)."""

    names: list[str]
    kinds: list[str]
    points: list[tuple[int, int, float, float]]


class MetricSeries(msgspec.Struct, frozen=True, omit_defaults=True):
    """One metric of one attempt: its points in the order they were logged.

    Attributes:
        execution_id / node_id / attempt: the attempt that logged it.
        task: the task's name.
        name: the metric's name.
        kind: ``gauge`` or ``counter``.
        steps / values / times: the points (times in seconds since the epoch); a value
            that was NaN or infinite is None (JSON has no spelling for it).
    """

    execution_id: str
    node_id: str
    attempt: int
    task: str
    name: str
    kind: str = "gauge"
    steps: list[int] = msgspec.field(default_factory=list)
    values: list[float | None] = msgspec.field(default_factory=list)
    times: list[float] = msgspec.field(default_factory=list)

    @property
    def count(self) -> int:
        """How many points."""
        return len(self.values)

    @property
    def last(self) -> float | None:
        """The last value logged (None without points)."""
        return self.values[-1] if self.values else None

    def finite(self) -> list[float]:
        """The values that are numbers (no NaN or infinity)."""
        return [v for v in self.values if v is not None]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(MetricChunk)


def encode_chunk(chunk: MetricChunk) -> bytes:
    """The bytes of a chunk as stored."""
    return _ENCODER.encode(chunk)


def decode_chunk(data: bytes) -> MetricChunk:
    """A chunk from its stored bytes (``msgspec.DecodeError`` if damaged)."""
    return _DECODER.decode(data)


def merge_chunks(
    chunks: list[MetricChunk], execution_id: str, node_id: str, attempt: int, task: str
) -> list[MetricSeries]:
    """One series per metric name from an attempt's chunks (in chunk order), by name."""
    steps: dict[str, list[int]] = {}
    values: dict[str, list[float | None]] = {}
    times: dict[str, list[float]] = {}
    kinds: dict[str, str] = {}
    for chunk in chunks:
        for name, kind in zip(chunk.names, chunk.kinds, strict=True):
            if name not in kinds:
                kinds[name] = kind
                steps[name], values[name], times[name] = [], [], []
        for index, step, value, when in chunk.points:
            name = chunk.names[index]
            steps[name].append(step)
            values[name].append(value if math.isfinite(value) else None)
            times[name].append(when)
    return [
        MetricSeries(
            execution_id=execution_id,
            node_id=node_id,
            attempt=attempt,
            task=task,
            name=name,
            kind=kinds[name],
            steps=steps[name],
            values=values[name],
            times=times[name],
        )
        for name in sorted(kinds)
    ]
