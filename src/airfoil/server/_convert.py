"""Stored records -> wire models: the one place the server shapes what it answers.

Previews use the type engine's ``to_jsonable`` (no user code, nothing unpickled). Values kept
inline are previewed from their bytes; offloaded ones only when ``read_blobs`` is set (the
node view), so an execution's detail never reads thousands of blobs; in an execution's
detail, only small inline node values (up to 512 bytes) are previewed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import msgspec

from airfoil.core.errors import UnreadableRecordError
from airfoil.core.records import (
    AttemptRecord,
    ErrorInfo,
    EventRecord,
    ExecutionHead,
    ExecutionRecord,
    Interface,
    NodeRecord,
    Param,
    TypeSpec,
    Value,
)
from airfoil.core.trace_ids import attempt_span_hex, attempt_span_id, execution_trace_id
from airfoil.types import TypeEngine, ValueContext, ValueRef
from airfoil.wire import (
    API_PREFIX,
    AttemptOut,
    ErrorOut,
    EventOut,
    ExecutionSummary,
    InterfaceOut,
    NodeOut,
    ParamOut,
    RawValue,
    UnreadableOut,
)

__all__ = [
    "NodeViews",
    "attempt_dict",
    "attempt_out",
    "error_dict",
    "node_dict",
    "summary_dict",
    "error_out",
    "event_out",
    "interface_out",
    "node_out",
    "raw_value",
    "summary_out",
    "type_name",
    "unreadable_out",
    "unreadable_outs",
    "value_download",
    "values_out",
]

_ANY = TypeSpec("any")
_json = msgspec.json.Decoder()
_names: dict[TypeSpec, str] = {}


def type_name(spec: TypeSpec) -> str:
    """A type's name as the API shows it."""
    return _type_name(spec)


def _type_name(spec: TypeSpec) -> str:
    found = _names.get(spec)
    if found is None:
        if len(_names) > 4096:
            _names.clear()
        found = _names[spec] = str(spec)
    return found


#: Inline values up to this size are previewed in lists; larger ones in the node view only.
_CHEAP_PREVIEW = 512


def _duration(started: float | None, ended: float | None) -> float | None:
    if started is None or ended is None:
        return None
    return _span(started, ended)


def _span(started: float, ended: float) -> float:
    """Seconds from ``started`` to ``ended`` as shown (never negative: clocks of hosts)."""
    return round(max(0.0, ended - started), 6)


def error_dict(err: ErrorInfo | None) -> dict[str, Any] | None:
    if err is None:
        return None
    return {"kind": err.kind, "type": err.type, "message": err.message, "traceback": err.traceback}


def error_out(err: ErrorInfo | None) -> ErrorOut | None:
    return None if err is None else ErrorOut(**error_dict(err))  # type: ignore[arg-type]


def summary_out(
    rec: ExecutionRecord | ExecutionHead, node_count: int | None = None
) -> ExecutionSummary:
    return ExecutionSummary.model_validate(summary_dict(rec, node_count))


def summary_dict(
    rec: ExecutionRecord | ExecutionHead, node_count: int | None = None
) -> dict[str, Any]:
    return dict(
        id=rec.id,
        name=rec.display_name,
        project=rec.project,
        domain=rec.domain,
        workflow=rec.workflow,
        version=rec.version,
        phase=rec.phase,
        created_at=rec.created_at,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        duration_s=_duration(rec.started_at, rec.ended_at),
        error=error_dict(rec.error),
        labels=dict(rec.labels),
        node_count=node_count,
    )


def _param(p: Param, types: TypeEngine, ctx: ValueContext) -> ParamOut:
    default: Any = None
    if p.has_default and p.default is not None:
        try:
            default = types.to_jsonable(p.default, p.type, ctx)
        except Exception:  # a default that cannot be shown is still usable
            default = None
    return ParamOut(
        name=p.name,
        type=str(p.type),
        type_spec=msgspec.to_builtins(p.type),
        description=p.description,
        has_default=p.has_default,
        default=default,
    )


def interface_out(iface: Interface, types: TypeEngine, ctx: ValueContext) -> InterfaceOut:
    return InterfaceOut(
        inputs=[_param(p, types, ctx) for p in iface.inputs],
        outputs=[_param(p, types, ctx) for p in iface.outputs],
    )


def value_download(project: str, execution_id: str, value: Value) -> str:
    return f"{API_PREFIX}/projects/{project}/executions/{execution_id}/values/{value.hash}"


def values_out(
    values: dict[str, Value] | None,
    specs: dict[str, TypeSpec],
    rec: ExecutionRecord,
    types: TypeEngine,
    ctx: ValueContext,
    *,
    read_blobs: bool,
    type_names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Wire views (``ValueOut`` fields) of named values, previews where cheap or asked for
    (``type_names``: the shown name of each type in ``specs``, where the caller keeps them)."""
    if not values:
        return []
    prefix = f"{API_PREFIX}/projects/{rec.project}/executions/{rec.id}/values/"
    return _values(values, specs, prefix, types, ctx, read_blobs, type_names)


def _values(
    values: dict[str, Value],
    specs: dict[str, TypeSpec],
    prefix: str,
    types: TypeEngine,
    ctx: ValueContext,
    read_blobs: bool,
    type_names: dict[str, str] | None,
) -> list[dict[str, Any]]:
    """:func:`values_out` with the values' download ``prefix`` given."""
    out: list[dict[str, Any]] = []
    for name, v in values.items():
        preview: Any = None
        problem: str | None = None
        inline, fmt = v.inline, v.format
        if inline is not None and fmt == "json" and b'"$' not in inline:
            preview = _json.decode(inline)  # plain JSON: what to_jsonable gives, faster
        elif read_blobs or (inline is not None and v.size <= _CHEAP_PREVIEW):
            try:
                preview = types.to_jsonable(v, specs.get(name, _ANY), ctx)
                if (
                    read_blobs
                    and isinstance(preview, dict)
                    and preview.get("format") in _FRAME_FORMATS
                ):
                    preview["head"] = frame_head(v, ctx)
            except Exception as exc:  # a missing blob must not hide the rest
                problem = f"{type(exc).__name__}: {exc}"
        out.append(
            {
                "name": name,
                "type": (type_names and type_names.get(name)) or _type_name(specs.get(name, _ANY)),
                "hash": v.hash,
                "format": fmt,
                "size": v.size,
                "preview": preview,
                "preview_error": problem,
                # frames are exported as Parquet (stored as Arrow IPC between tasks)
                "download": f"{prefix}{v.hash}?as=parquet" if fmt == "arrow" else prefix + v.hash,
            }
        )
    return out


_FRAME_FORMATS = ("arrow", "parquet")

#: Rows of a dataframe shown in a node's view, and the largest frame read for them.
HEAD_ROWS = 20
_HEAD_MAX_BYTES = 256 * 2**20


def _cell(x: Any) -> Any:
    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return x if x == x and x not in (float("inf"), float("-inf")) else str(x)
    return str(x)


def frame_head(v: Value, ctx: ValueContext, rows: int = HEAD_ROWS) -> list[dict[str, Any]] | None:
    """The first rows of a stored dataframe (Arrow IPC or Parquet) as JSON records, read with
    pyarrow (no user code; an IPC blob in a local store is memory-mapped and only its first
    batch read); None when pyarrow is not installed or the frame is too large to read."""
    if v.format == "parquet" and v.size > _HEAD_MAX_BYTES:
        return None
    try:
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    if v.inline is None and v.uri is None:
        return None
    if v.format == "arrow":
        local = ctx.blobs.local_path(v.uri) if v.inline is None and v.uri else None
        if local is None and v.size > _HEAD_MAX_BYTES:
            return None
        if local is not None:
            source: Any = pa.memory_map(local)
        else:
            source = pa.py_buffer(
                v.inline if v.inline is not None else ctx.blobs.get_bytes(v.uri or "")
            )
        reader = pa.ipc.open_stream(source)
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return []
        table = pa.Table.from_batches([batch.slice(0, rows)])
    else:
        data = v.inline if v.inline is not None else ctx.blobs.get_bytes(v.uri or "")
        f = pq.ParquetFile(io.BytesIO(data))
        if f.metadata.num_row_groups == 0:
            return []
        table = f.read_row_group(0).slice(0, rows)
    names = [n for n in table.column_names if not n.startswith("__index_level_")]
    return [{k: _cell(r.get(k)) for k in names} for r in table.to_pylist()]


def raw_value(rec: ExecutionRecord, v: Value) -> RawValue:
    ref = ValueRef.of_value(v, previews=True)
    return RawValue(
        hash=ref.hash,
        format=ref.format,
        inline=ref.inline_text,
        download=None if ref.inline is not None else value_download(rec.project, rec.id, v),
        size=ref.size,
        meta=ref.meta,
    )


@functools.lru_cache(maxsize=1024)
def _trace_hex(execution_id: str) -> str:
    """An execution's trace id as the API shows it: the same for each of its attempts (a
    detail shows ~100-1,000 of them, each a SHA-256 of the execution's id otherwise)."""
    return f"{execution_trace_id(execution_id):032x}"


def attempt_out(a: AttemptRecord) -> AttemptOut:
    return AttemptOut.model_validate(attempt_dict(a))


def attempt_dict(a: AttemptRecord) -> dict[str, Any]:
    span = f"{attempt_span_id(a.execution_id, a.node_id, a.attempt):016x}"
    return _attempt(a, _trace_hex(a.execution_id), span)


def _attempt(a: AttemptRecord, trace: str, span: str) -> dict[str, Any]:
    """:func:`attempt_dict` with its trace id and span id given."""
    started, ended = a.started_at, a.ended_at
    return {
        "attempt": a.attempt,
        "phase": a.phase,
        "started_at": started,
        "ended_at": ended,
        "duration_s": None if started is None or ended is None else _span(started, ended),
        "worker": a.worker,
        "error": None if a.error is None else error_dict(a.error),
        "has_log": bool(a.log_uri),
        "trace_id": trace,
        "span_id": span,
    }


def node_dict(
    n: NodeRecord,
    rec: ExecutionRecord,
    attempts: list[AttemptRecord],
    iface: Interface | None,
    types: TypeEngine,
    ctx: ValueContext,
    *,
    read_blobs: bool,
    task_type: str = "",
    workers: int = 0,
) -> dict[str, Any]:
    """The ``NodeOut`` fields of a node (``task_type``: its task's, when known; ``workers``:
    a training task's ranks)."""
    ins = {p.name: p.type for p in iface.inputs} if iface else {}
    outs = {p.name: p.type for p in iface.outputs} if iface else {}
    views = NodeViews(rec, types, ctx, read_blobs)
    return views.node(n, attempts, ins, outs, task_type, workers)


class NodeViews:
    """The views of one execution's nodes (:func:`node_dict`'s fields): a dict literal each,
    in ``NodeOut``'s field order (what the API answers is these dicts encoded as they
    are). What every node of the execution shares is worked out once: its values' download
    prefix, its trace id and the span ids' hash of its id (an ended execution's detail is
    built whole, ~100-1,000 nodes and attempts, when a waiting client reads it last)."""

    __slots__ = ("_ctx", "_prefix", "_read_blobs", "_span", "_trace", "_types", "execution_id")

    def __init__(
        self, rec: ExecutionRecord, types: TypeEngine, ctx: ValueContext, read_blobs: bool
    ) -> None:
        self.execution_id = rec.id
        self._types, self._ctx, self._read_blobs = types, ctx, read_blobs
        self._prefix = f"{API_PREFIX}/projects/{rec.project}/executions/{rec.id}/values/"
        self._trace = _trace_hex(rec.id)
        self._span = attempt_span_hex(rec.id)

    def node(
        self,
        n: NodeRecord,
        attempts: Iterable[AttemptRecord],
        ins: dict[str, TypeSpec],
        outs: dict[str, TypeSpec],
        task_type: str,
        workers: int,
        type_names: tuple[dict[str, str], dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """A node's view (``ins``, ``outs``: its task's input and output types, looked up
        once a workflow version; ``type_names``: their shown names, where kept)."""
        started, ended = n.started_at, n.ended_at
        in_names, out_names = type_names or (None, None)
        prefix, types, ctx, blobs = self._prefix, self._types, self._ctx, self._read_blobs
        trace, span, own = self._trace, self._span, self.execution_id
        return {
            "id": n.node_id,
            "task": n.task,
            "kind": n.kind,
            "task_type": task_type or ("python" if n.kind == "task" else ""),
            "workers": workers,
            "parent": n.parent,
            "phase": n.phase,
            "attempts": n.attempts,
            "cache_status": n.cache_status,
            "cache_reason": n.cache_reason,
            "cache_key": n.cache_key,
            "queued_at": n.queued_at,
            "started_at": started,
            "ended_at": ended,
            "duration_s": None if started is None or ended is None else _span(started, ended),
            "error": None if n.error is None else error_dict(n.error),
            "inputs": _values(n.inputs, ins, prefix, types, ctx, blobs, in_names)
            if n.inputs
            else [],
            "outputs": _values(n.outputs, outs, prefix, types, ctx, blobs, out_names)
            if n.outputs
            else [],
            "attempt_list": [
                _attempt(a, trace, span(a.node_id, a.attempt))
                if a.execution_id == own
                else attempt_dict(a)
                for a in attempts
            ],
            "map_counts": dict(n.map_counts) if n.map_counts else {},
            "branch_taken": n.branch_taken,
        }


def node_out(
    n: NodeRecord,
    rec: ExecutionRecord,
    attempts: list[AttemptRecord],
    iface: Interface | None,
    types: TypeEngine,
    ctx: ValueContext,
    *,
    read_blobs: bool,
    task_type: str = "",
    workers: int = 0,
) -> NodeOut:
    return NodeOut.model_validate(
        node_dict(
            n,
            rec,
            attempts,
            iface,
            types,
            ctx,
            read_blobs=read_blobs,
            task_type=task_type,
            workers=workers,
        )
    )


def event_out(e: EventRecord) -> EventOut:
    return EventOut(
        seq=e.seq,
        at=e.at,
        kind=e.kind,
        to_phase=e.to_phase,
        cause=e.cause,
        node_id=e.node_id,
        attempt=e.attempt,
        from_phase=e.from_phase,
        cause_id=e.cause_id,
    )


def unreadable_out(exc: UnreadableRecordError) -> UnreadableOut:
    return UnreadableOut(kind=exc.kind, id=exc.record_id, reason=exc.reason, why=exc.why)


def unreadable_outs(found: Iterable[UnreadableRecordError]) -> list[UnreadableOut]:
    """Each damaged record once (a record read twice, or by two reads, is reported once)."""
    seen: dict[tuple[str, str], UnreadableOut] = {}
    for exc in found:
        seen.setdefault((exc.kind, exc.record_id), unreadable_out(exc))
    return list(seen.values())
