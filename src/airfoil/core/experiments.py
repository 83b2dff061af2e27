"""The experiment-tracking view: N runs of one workflow as a table of their inputs and
chosen metrics (``airfoil runs``, ``GET .../workflows/W/runs``, the console's Runs page).

Pure: execution records and per-series summaries (:class:`SeriesStat`, which the metadata
store keeps as columns beside each stored series, so a table of 1,000 runs never decodes a
curve) in, a :class:`RunsTable` out.

How a metric is summarised per run: over every series of that name in the run -- each node
that logged it (map items included) and each attempt (retries included):

- ``min`` / ``max``: over all their finite points (NaN and infinities are gaps, never a min);
- ``last``: the last point of the series whose last point was logged latest (by time, then
  attempt, then node id): the value the run ended with. None when that point was NaN;
- ``points``: the number of points, ``series``: how many (node, attempt) series.

A run without the metric has no entry for it (an empty cell; it sorts after every number).

Filters by value (``--where``, :func:`parse_where`): ``KEY OP VALUE`` with ``OP`` one of
``< <= > >= = !=`` and ``KEY`` a run's own column (``duration``, ``phase``, ``id``,
``started``), an input's name, or ``METRIC[:last|min|max]`` (``last`` when not said). A run
without the value never matches. Order comparisons need a number on both sides (or text
on both); ``=`` compares a JSON value (``lr=0.1``, ``name="a b"``) or, when the text is not
JSON, the text itself (``phase=failed``).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from airfoil.core.compare import preview
from airfoil.core.errors import InvalidInputError
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import ExecutionRecord, ExecutionRunHead, Value

__all__ = [
    "AGGREGATES",
    "Condition",
    "MetricSummary",
    "RunRow",
    "RunsTable",
    "SeriesStat",
    "filter_runs",
    "parse_metric_column",
    "parse_where",
    "runs_table",
    "series_stat",
    "sort_key_names",
    "summarise_metrics",
]

#: What a metric column can show of a run's summary.
AGGREGATES = ("last", "min", "max")
#: The run's own columns a table can be sorted by (besides inputs and metrics).
_RUN_KEYS = ("started", "duration", "phase", "id")


class SeriesStat(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a run's table needs of one stored series (one metric of one attempt)."""

    execution_id: str
    node_id: str
    attempt: int
    name: str
    kind: str = "gauge"
    points: int = 0
    last: float | None = None
    last_at: float | None = None
    min: float | None = None
    max: float | None = None


def series_stat(s: MetricSeries) -> SeriesStat:
    """The summary of a series as the store keeps it (finite values only for min/max)."""
    finite = [v for v in s.values if v is not None and math.isfinite(v)]
    last = s.values[-1] if s.values else None
    return SeriesStat(
        execution_id=s.execution_id,
        node_id=s.node_id,
        attempt=s.attempt,
        name=s.name,
        kind=s.kind,
        points=len(s.values),
        last=last if last is not None and math.isfinite(last) else None,
        last_at=s.times[-1] if s.times else None,
        min=min(finite) if finite else None,
        max=max(finite) if finite else None,
    )


class MetricSummary(msgspec.Struct, frozen=True):
    """One metric of one run, over all its nodes' and attempts' series."""

    name: str
    last: float | None
    min: float | None
    max: float | None
    points: int
    series: int

    def get(self, aggregate: str) -> float | None:
        """``last``, ``min`` or ``max``."""
        value: float | None = getattr(self, aggregate)
        return value


def summarise_metrics(stats: Iterable[SeriesStat]) -> dict[str, dict[str, MetricSummary]]:
    """``execution id -> metric name -> summary`` (see the module's rules)."""
    grouped: dict[tuple[str, str], list[SeriesStat]] = {}
    for s in stats:
        grouped.setdefault((s.execution_id, s.name), []).append(s)
    out: dict[str, dict[str, MetricSummary]] = {}
    for (eid, name), items in grouped.items():
        latest = max(
            items,
            key=lambda s: (s.last_at if s.last_at is not None else -math.inf, s.attempt, s.node_id),
        )
        mins = [s.min for s in items if s.min is not None]
        maxs = [s.max for s in items if s.max is not None]
        out.setdefault(eid, {})[name] = MetricSummary(
            name=name,
            last=latest.last,
            min=min(mins) if mins else None,
            max=max(maxs) if maxs else None,
            points=sum(s.points for s in items),
            series=len(items),
        )
    return out


class RunRow(msgspec.Struct, frozen=True):
    """One run in the table: its phase and times, inputs and metric summaries.

    ``inputs`` holds previews (JSON values as they are, others by format and size);
    ``input_values`` the decoded JSON of inputs stored inline as JSON (what sorting uses).
    ``id``: the run's name in its project (its execution id when none was chosen), and
    ``domain`` the domain it ran in: a name is unique within its project and domain only, so
    the two together are the run's address (``?domain=``, ``--domain``).
    """

    id: str
    phase: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None
    inputs: dict[str, str]
    input_values: dict[str, Any]
    metrics: dict[str, MetricSummary]
    domain: str = ""


class RunsTable(msgspec.Struct, frozen=True):
    """Runs of one workflow, newest first unless sorted.

    ``inputs`` and ``metrics`` are the columns shown (metric names); ``available_metrics``
    every metric name any of the runs logged (what a console offers to pick).
    """

    workflow: str
    inputs: list[str]
    metrics: list[str]
    available_metrics: list[str]
    sort: str
    rows: list[RunRow]


def parse_metric_column(text: str) -> tuple[str, str | None]:
    """``"loss:min"`` -> ``("loss", "min")``; ``"loss"`` -> ``("loss", None)`` (all three).
    A colon not followed by last, min or max is part of the name (``"val:loss"``).

    Raises:
        InvalidInputError: an empty name.
    """
    name, sep, agg = text.rpartition(":")
    if not sep or agg not in AGGREGATES:
        name, agg = text, ""
    if not name.strip():
        raise InvalidInputError(
            f"metric column {text!r} has no name: write NAME or NAME:last|min|max"
        )
    return name, (agg or None)


def sort_key_names(inputs: Sequence[str], metrics: Sequence[str]) -> list[str]:
    """Every key a table with these columns can be sorted by (``-`` before one reverses)."""
    keys = list(_RUN_KEYS) + list(inputs)
    for m in metrics:
        keys += [f"{m}:{a}" for a in AGGREGATES]
    return keys


def _input(v: Value) -> tuple[str, Any]:
    """A value's preview and, for inline JSON, its decoded value (None otherwise)."""
    if v.inline is not None and v.format == "json":
        try:
            data = msgspec.json.decode(v.inline)
        except msgspec.DecodeError:
            return preview(v, 40), None
        if isinstance(data, int | float | bool) or data is None:
            text = json.dumps(data)  # preview()'s text, without decoding twice
            return (text if len(text) <= 40 else text[:39] + "…"), data
        return preview(v, 40), data
    return preview(v, 40), None


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


def _row(
    rec: ExecutionRecord | ExecutionRunHead, metrics: dict[str, MetricSummary], names: Sequence[str]
) -> RunRow:
    inputs = {k: _input(v) for k, v in sorted((rec.inputs or {}).items())}
    return RunRow(
        id=rec.display_name,  # what the project calls the run, and addresses it by
        phase=rec.phase,
        created_at=rec.created_at,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        duration=_duration(rec.started_at, rec.ended_at),
        inputs={k: p for k, (p, _) in inputs.items()},
        input_values={k: v for k, (_, v) in inputs.items()},
        metrics={n: metrics[n] for n in names if n in metrics},
        domain=rec.domain,
    )


def _sortable(value: Any) -> tuple[int, Any]:
    """Numbers before strings before everything else; a missing value (None) is last
    whichever the direction (see :func:`runs_table`)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int):
        return (0, value)  # exact: an int past a float's range sorts too
    if isinstance(value, float):
        return (0, value) if not math.isnan(value) else (3, 0.0)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=str))


def _sort_value(row: RunRow, key: str) -> Any:
    if key == "started":
        return row.started_at if row.started_at is not None else row.created_at
    if key == "duration":
        return row.duration
    if key == "phase":
        return row.phase
    if key == "id":
        return row.id
    if key in row.input_values or key in row.inputs:
        v = row.input_values.get(key)
        return v if v is not None else row.inputs.get(key)
    name, _, agg = key.rpartition(":")
    summary = row.metrics.get(name)
    return None if summary is None else summary.get(agg)


def runs_table(
    workflow: str,
    records: Sequence[ExecutionRecord | ExecutionRunHead],
    stats: Iterable[SeriesStat],
    *,
    metrics: Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
    sort: str = "-started",
) -> RunsTable:
    """The table of ``records`` (runs of ``workflow``) with the chosen metric names (every
    metric they logged if None) and inputs (all if None), sorted by ``sort``: ``started``,
    ``duration``, ``phase``, ``id``, an input's name or ``METRIC:last|min|max``, ``-`` first
    for descending. Runs without the value sort last either way; ties keep newest first.

    Raises:
        InvalidInputError: an input or metric none of the runs has, or an unknown sort key
            (the message lists the choices).
    """
    summaries = summarise_metrics(stats)
    available = sorted({n for per in summaries.values() for n in per})
    names = list(dict.fromkeys(metrics)) if metrics is not None else available
    unlogged = [n for n in names if n not in available]
    if unlogged and records:
        raise InvalidInputError(
            f"no run of these {len(records)} of {workflow} logged "
            f"{', '.join(map(repr, unlogged))}; they logged: {', '.join(available) or '(none)'}"
            " (a column is NAME or NAME:last|min|max)"
        )
    all_inputs = sorted({k for r in records for k in (r.inputs or {})})
    if inputs is not None:
        unknown = [i for i in inputs if i not in all_inputs]
        if unknown and records:
            raise InvalidInputError(
                f"no input named {', '.join(map(repr, unknown))} in these runs of {workflow}; "
                f"inputs: {', '.join(all_inputs) or '(none)'}"
            )
        shown = list(dict.fromkeys(inputs))
    else:
        shown = all_inputs
    rows = [_row(r, summaries.get(r.id, {}), names) for r in records]
    key = sort[1:] if sort.startswith("-") else sort
    if key not in sort_key_names(all_inputs, names):
        raise InvalidInputError(
            f"cannot sort by {key!r}: use one of {', '.join(sort_key_names(all_inputs, names))} "
            "(a '-' before it sorts descending)"
        )
    present = [r for r in rows if _sort_value(r, key) is not None]
    missing = [r for r in rows if _sort_value(r, key) is None]
    present.sort(key=lambda r: _sortable(_sort_value(r, key)), reverse=sort.startswith("-"))
    return RunsTable(
        workflow=workflow,
        inputs=shown,
        metrics=names,
        available_metrics=available,
        sort=sort,
        rows=present + missing,
    )


_OPS: dict[str, Any] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "==": operator.eq,
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
#: (A pattern string: ``re`` compiles it on first use and caches it; a plain run never
#: needs it, and compiling at import cost every ``airfoil run``: issue 17, W5.)
_WHERE = r"(?s)^\s*(.+?)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$"


class Condition(msgspec.Struct, frozen=True):
    """A filter ``key op value`` (see the module docstring); ``text`` as the user wrote it."""

    text: str
    key: str
    op: str
    value: Any

    def names(self) -> tuple[str, str | None]:
        """``(name, aggregate)``: the metric's name and aggregate, or the key and None."""
        name, agg = parse_metric_column(self.key)
        return name, agg

    def value_of(self, row: RunRow) -> Any:
        """What the condition compares in ``row`` (None: the run has no such value)."""
        if self.key in ("started", "duration", "phase", "id"):
            return _sort_value(row, self.key)
        if self.key in row.inputs:
            v = row.input_values.get(self.key)
            return v if v is not None else row.inputs[self.key]
        name, agg = self.names()
        summary = row.metrics.get(name)
        return None if summary is None else summary.get(agg or "last")

    def holds(self, row: RunRow) -> bool:
        """Whether ``row`` passes the condition."""
        have = self.value_of(row)
        if have is None:
            return False
        want = self.value
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (have, want))
        if self.op in ("=", "==", "!="):
            equal = have == want or (not numbers and str(have) == str(want))
            return equal if self.op != "!=" else not equal
        if not numbers and not (isinstance(have, str) and isinstance(want, str)):
            return False
        return bool(_OPS[self.op](have, want))


def parse_where(text: str) -> Condition:
    """``"loss:min<0.3"`` -> a :class:`Condition`.

    Raises:
        InvalidInputError: no operator, no key or no value, or an order comparison with a
            value that is neither a number nor text.
    """
    m = re.match(_WHERE, text)
    if m is None or not m.group(1) or m.group(3) == "":
        raise InvalidInputError(
            f"cannot read the filter {text!r}: write KEY OP VALUE with OP one of "
            "<, <=, >, >=, =, != (e.g. loss:min<0.3, lr=0.1, phase=failed)"
        )
    key, op, raw = m.group(1), m.group(2), m.group(3)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if op in ("<", "<=", ">", ">=") and (
        isinstance(value, bool) or not isinstance(value, int | float | str)
    ):
        raise InvalidInputError(
            f"the filter {text!r} compares with {raw!r}: '{op}' needs a number (or text)"
        )
    if isinstance(value, float) and math.isnan(value):
        raise InvalidInputError(f"the filter {text!r} compares with NaN, which nothing equals")
    return Condition(text=text, key=key, op=op, value=value)


def filter_runs(
    records: Sequence[ExecutionRecord | ExecutionRunHead],
    stats: Iterable[SeriesStat],
    conditions: Sequence[Condition],
) -> tuple[list[int], set[str]]:
    """The positions in ``records`` of the runs passing every condition, and every name a
    condition could have meant that these runs have (inputs, metrics logged): to tell a
    misspelt key from one that matched nothing."""
    summaries = summarise_metrics(stats)
    known = {k for r in records for k in (r.inputs or {})}
    known |= {n for per in summaries.values() for n in per}
    names = sorted({n for per in summaries.values() for n in per})
    kept = []
    for i, rec in enumerate(records):
        row = _row(rec, summaries.get(rec.id, {}), names)
        if all(c.holds(row) for c in conditions):
            kept.append(i)
    return kept, known
