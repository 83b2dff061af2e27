"""Reading executions: lists and searches, outputs and values, events, logs and cache
entries, with other projects' execution ids hidden."""

from __future__ import annotations

import logging
import time

from airfoil.core.errors import (
    InvalidInputError,
    NotFoundError,
    TypeTransformError,
    UnreadableRecordError,
)
from airfoil.core.log_lines import filter_level, level_rank
from airfoil.core.records import ExecutionHead, Value
from airfoil.executors.base import attempt_log_text
from airfoil.server import _convert as cv
from airfoil.server import _interruption as intr
from airfoil.server._deps import Deps, check_domain, get_head, get_record
from airfoil.store.naming import ExecutionNames
from airfoil.wire import (
    CacheEntryOut,
    CacheList,
    EventList,
    ExecutionPage,
    LogOut,
    RawValues,
)

__all__ = [
    "EVENTS_PAGE",
    "EVENTS_PAGE_MAX",
    "SEARCH_WINDOW",
    "cache_entries",
    "events",
    "find_value",
    "list_executions",
    "logs",
    "now_s",
    "raw_outputs",
    "value_bytes",
    "value_export",
]

log = logging.getLogger("airfoil.server")

#: The largest event sequence number a store holds (signed 64-bit).
_SEQ_MAX = 2**63 - 1

#: Events in a page of an execution's log unless the client asks for fewer or more (``limit``):
#: an execution of 1,000 tasks logs ~6,000, which were all read, decoded and sent at once.
EVENTS_PAGE = 1000
#: The most a client may ask for in one page.
EVENTS_PAGE_MAX = 10_000


SEARCH_WINDOW = 5000


def list_executions(
    d: Deps,
    project: str,
    *,
    domain: str | None,
    workflow: str | None,
    phase: str | None,
    limit: int,
    offset: int,
    q: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> ExecutionPage:
    """Executions, newest first. ``q`` (text in the id, workflow, version or a label) and
    ``since`` / ``until`` (creation time) are applied to the newest :data:`SEARCH_WINDOW`
    executions matching the other filters."""
    if domain is not None:
        check_domain(domain)
    f = {"project": project, "domain": domain, "workflow": workflow, "phase": phase}
    bad: list[UnreadableRecordError] = []

    def skipped(exc: UnreadableRecordError) -> None:
        log.warning("left out of a listing: %s", exc)
        bad.append(exc)

    if q is None and since is None and until is None:
        items, total, leases = d.meta.page_execution_heads_leased(
            **f, limit=limit, offset=offset, on_unreadable=skipped
        )
        return ExecutionPage(
            items=intr.shown_summaries(d.meta, items, d.clock.now(), leases),
            total=total,
            limit=limit,
            offset=offset,
            unreadable=cv.unreadable_outs(bad),
        )
    needle = (q or "").strip().lower()
    found: list[ExecutionHead] = []
    scanned, chunk = 0, 500
    while scanned < SEARCH_WINDOW:
        before = len(bad)
        page = d.meta.list_execution_heads(**f, limit=chunk, offset=scanned, on_unreadable=skipped)
        rows = len(page) + len(bad) - before  # an unreadable row takes its place too
        scanned += rows
        for r in page:
            if until is not None and r.created_at > until:
                continue
            if since is not None and r.created_at < since:
                break
            if needle and not _matches(r, needle):
                continue
            found.append(r)
        if rows < chunk or (since is not None and page and page[-1].created_at < since):
            break
    now = d.clock.now()
    return ExecutionPage(
        items=intr.shown_summaries(d.meta, found[offset : offset + limit], now),
        total=len(found),
        limit=limit,
        offset=offset,
        unreadable=cv.unreadable_outs(bad),
    )


def _matches(r: ExecutionHead, needle: str) -> bool:
    hay = [r.id, r.name, r.workflow, r.version, *r.labels.values()]
    return any(needle in h.lower() for h in hay)


def raw_outputs(d: Deps, project: str, execution_id: str) -> RawValues:
    rec = get_record(d, project, execution_id)
    return RawValues(
        execution_id=rec.id,
        phase=rec.phase,
        values={k: cv.raw_value(rec, v) for k, v in (rec.outputs or {}).items()},
    )


def find_value(d: Deps, project: str, execution_id: str, value_hash: str) -> Value:
    """A value of an execution (its inputs, outputs or any node's) by content hash.

    A node that no longer decodes is passed over: a value of another is still found.

    Raises:
        NotFoundError: no readable part of the execution holds it.
        UnreadableRecordError: not found, and a node that could hold it does not decode
            (the first such node is named).
    """
    rec = get_record(d, project, execution_id)
    pools = [rec.inputs, rec.outputs or {}]
    bad: list[UnreadableRecordError] = []
    for n in d.meta.get_nodes(execution_id, on_unreadable=bad.append):
        pools.extend([n.inputs or {}, n.outputs or {}])
    values = [v for pool in pools for v in pool.values()]
    for v in values:
        if v.hash == value_hash:
            return v
    found = _find_inside(d, values, value_hash)
    if found is not None:
        return found
    if bad:
        raise bad[0]
    raise NotFoundError(f"execution {execution_id} has no value with hash {value_hash[:16]}")


def _find_inside(d: Deps, values: list[Value], value_hash: str) -> Value | None:
    """A value held inside one of ``values`` (a frame of a ``list[pd.DataFrame]`` output, a
    member of a list the workflow assembled), however deep: a client reading an output
    downloads each of them. A member's blob is named by its content's SHA-256 too, which
    for a JSON value hashed canonically is not its hash."""
    from airfoil.types._nested import inner_values, may_hold_values

    seen: set[str] = set()
    stack = [v for v in values if may_hold_values(v)]
    while stack:
        container = stack.pop()
        if container.hash in seen:
            continue
        seen.add(container.hash)
        try:
            inner = inner_values(container, value_bytes(d, container), d.blobs.uri)
        except (NotFoundError, TypeTransformError, ValueError):  # gone, or not JSON: nothing
            continue
        for v in inner:
            if v.hash == value_hash or v.meta.get("sha256") == value_hash:
                return v
            if may_hold_values(v):
                stack.append(v)
    return None


def value_bytes(d: Deps, value: Value) -> bytes:
    if value.inline is not None:
        return value.inline
    if value.uri is None:
        raise NotFoundError(f"value {value.hash[:12]} has no data")
    return d.blobs.get_bytes(value.uri)


def value_export(d: Deps, value: Value, as_format: str | None) -> tuple[bytes, str]:
    """A value's bytes and their format: as stored, or a frame stored as Arrow IPC converted
    to Parquet (``as_format="parquet"``: the export format of frames).

    Raises:
        InvalidInputError: the value cannot be converted to ``as_format``.
    """
    data = value_bytes(d, value)
    if as_format is None or as_format == value.format:
        return data, value.format
    if as_format == "parquet" and value.format == "arrow":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        out = pa.BufferOutputStream()
        pq.write_table(table, out)
        return bytes(out.getvalue().to_pybytes()), "parquet"
    raise InvalidInputError(
        f"value {value.hash[:12]} is stored as {value.format!r} and cannot be exported as "
        f"{as_format!r} (only frames stored as 'arrow' convert to 'parquet'); leave out ?as= "
        "for its bytes as stored"
    )


def events(
    d: Deps, project: str, execution_id: str, after: int, limit: int = EVENTS_PAGE
) -> EventList:
    """A page of the event log: the first ``limit`` events after seq ``after``. A full page
    names the ``after`` of the next one in ``next_after`` (which may then be empty); a
    shorter one is the log's end so far (``next_after`` None)."""
    rec = get_head(d, project, execution_id)
    # Stores number events with signed 64-bit integers: nothing comes after the largest,
    # the page a waiting client asks for (the phase alone), so that page reads no events.
    bad: list[UnreadableRecordError] = []  # left out of the page, named in it
    if after < _SEQ_MAX:
        evs = d.meta.get_events(execution_id, after, limit=limit, on_unreadable=bad.append)
    else:
        evs = []
    next_after = None
    if len(evs) + len(bad) >= limit:  # a full page (undecodable events count toward it)
        if evs:
            next_after = evs[-1].seq
        else:  # every one undecodable, so no seq to go on from: the rest of the log whole
            evs = d.meta.get_events(execution_id, after, on_unreadable=bad.append)
    items = [cv.event_out(e) for e in evs]
    names = ExecutionNames(d.meta, project)
    names.remember(rec.id, rec.display_name, rec.domain)
    for ev in items:
        ev.cause = names.text(ev.cause)  # another project's execution is never named
    unreadable = cv.unreadable_outs(bad)
    return EventList(items=items, phase=rec.phase, unreadable=unreadable, next_after=next_after)


def logs(
    d: Deps,
    project: str,
    execution_id: str,
    node_id: str,
    attempt: int | None,
    level: str | None = None,
    rank: int | None = None,
) -> LogOut:
    """The log of a node's attempt (its last by default), of entries at ``level`` or above;
    ``rank``: that rank's own log of a training attempt instead.

    Raises:
        NotFoundError: no such execution, node or attempt, or the node has not run (or the
            rank has no log).
        InvalidInputError: an unknown level.
    """
    least = _level_checked(level)
    get_head(d, project, execution_id)
    bad: list[UnreadableRecordError] = []  # passed over, named in the answer
    tries = d.meta.get_attempts(execution_id, node_id, on_unreadable=bad.append)
    asked = (lambda a: a.attempt == attempt) if attempt is not None else None
    chosen = tries[-1] if tries and asked is None else next(filter(asked, tries), None)
    if chosen is None:
        for exc in bad:  # the attempt asked for (or every one) is damaged: the typed error
            if attempt is None or exc.record_id.endswith(f"#{attempt}"):
                raise exc
        if not tries:
            d.meta.get_node(execution_id, node_id)  # NotFoundError for an unknown node
            raise NotFoundError(f"node {node_id} of execution {execution_id} has not run yet")
        raise NotFoundError(f"node {node_id} has no attempt {attempt}")
    text = attempt_log_text(d.blobs, execution_id, node_id, chosen.attempt, chosen.log_uri, rank)
    if text is None and rank is not None:
        raise NotFoundError(
            f"attempt {chosen.attempt} of node {node_id} has no log of rank {rank}: ranks "
            "are a training task's workers (0 to workers - 1), and a rank's log appears once "
            "it has written something"
        )
    text = text or ""
    if least is not None:
        text = filter_level(text, least)
    return LogOut(
        execution_id=execution_id,
        node_id=node_id,
        attempt=chosen.attempt,
        text=text,
        rank=rank,
        unreadable=cv.unreadable_outs(bad),
    )


def _level_checked(level: str | None) -> str | None:
    if not level:
        return None
    try:
        level_rank(level)
    except ValueError as e:
        raise InvalidInputError(str(e)) from None
    return level


def cache_entries(d: Deps, project: str, task: str | None, limit: int) -> CacheList:
    """Cache entries written by executions of this project."""
    out: list[CacheEntryOut] = []
    names = ExecutionNames(d.meta, project)
    for e in d.meta.list_cache(task=task, limit=limit * 4):
        name = names.of(e.execution_id)
        if name is None:  # another project's
            continue
        out.append(
            CacheEntryOut(
                key=e.key,
                task=e.parts.task,
                cache_version=e.parts.cache_version,
                created_at=e.created_at,
                execution_id=e.execution_id,
                node_id=e.node_id,
                execution_name=name,
                execution_domain=names.domain(e.execution_id),
                input_hashes=dict(e.parts.input_hashes),
            )
        )
        if len(out) >= limit:
            break
    return CacheList(items=out)


def now_s() -> float:
    return time.time()
