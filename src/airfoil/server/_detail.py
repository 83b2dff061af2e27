"""An execution's detail, a node's, its graph and its map items, as the console reads them
(the hot paths: built from records without validating thousands of wire models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec

from airfoil.core.errors import (
    InvalidInputError,
    NotFoundError,
    UnreadableRecordError,
)
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    AttemptRecord,
    ExecutionHead,
    ExecutionRecord,
    NodeRecord,
    TypeSpec,
    WorkflowSpec,
)
from airfoil.server import _convert as cv
from airfoil.server import _interruption as intr
from airfoil.server._deps import Deps, KeptDetail, get_record
from airfoil.store.base import ExecutionView
from airfoil.store.naming import ExecutionNames
from airfoil.wire import (
    ExecutionDetail,
    MapItemOut,
    MapItemsOut,
    NodeDetailOut,
)

__all__ = [
    "execution_detail",
    "execution_detail_dict",
    "execution_detail_json",
    "execution_detail_tagged",
    "map_items",
    "node_detail",
]


class _NodeInfo(NamedTuple):
    """What a node's view takes from its task: its input and output types, its task type,
    a training task's ranks."""

    ins: dict[str, TypeSpec]
    outs: dict[str, TypeSpec]
    task_type: str
    workers: int
    #: the shown names of the types of ``ins`` and ``outs``
    type_names: tuple[dict[str, str], dict[str, str]]


_NO_TASK = _NodeInfo({}, {}, "", 0, ({}, {}))

#: node id -> (node as shown, its attempts as shown, its JSON): the kept answer's, this one's
_Frags = dict[str, tuple[NodeRecord, tuple[AttemptRecord, ...], msgspec.Raw]]

_flat_cache: dict[tuple[str, str], dict[str, Any]] = {}
_info_cache: dict[tuple[str, str], dict[str, _NodeInfo]] = {}


def _flat_tasks(spec: WorkflowSpec) -> dict[str, Any]:
    """Node id -> task spec of a workflow version (cached: a version's graph never changes)."""
    key = (spec.name, spec.version)
    found = _flat_cache.get(key)
    if found is None:
        from airfoil.engine.graph import flatten

        found = {nid: fn.task for nid, fn in flatten(spec).items()}
        if len(_flat_cache) > 256:
            _flat_cache.clear()
        _flat_cache[key] = found
    return found


def _node_infos(spec: WorkflowSpec) -> dict[str, _NodeInfo]:
    """Node id -> :class:`_NodeInfo` of a workflow version (cached as :func:`_flat_tasks`)."""
    key = (spec.name, spec.version)
    found = _info_cache.get(key)
    if found is None:
        found = {}
        for nid, task in _flat_tasks(spec).items():
            iface = _iface(task)
            ins = {p.name: p.type for p in iface.inputs} if iface else {}
            outs = {p.name: p.type for p in iface.outputs} if iface else {}
            names = (
                {k: cv.type_name(t) for k, t in ins.items()},
                {k: cv.type_name(t) for k, t in outs.items()},
            )
            found[nid] = _NodeInfo(ins, outs, _task_type(task), _workers(task), names)
        if len(_info_cache) > 256:
            _info_cache.clear()
        _info_cache[key] = found
    return found


_spec_cache: dict[tuple[str, str], WorkflowSpec] = {}


def _shared_spec(rec: ExecutionRecord) -> ExecutionRecord:
    """``rec`` holding the one copy of its workflow version's spec this process keeps.

    The detail cache keeps the record of each of its executions, and each record read from
    the store brings its own copy of the spec (a 100-node workflow: ~1,000 objects the
    garbage collector walks at every full collection, with the GIL held). Executions of
    one version share it instead; a spec that differs under the same name and version (it
    should not) is kept as read."""
    key = (rec.spec.name, rec.spec.version)
    shared = _spec_cache.get(key)
    if shared is None:
        if len(_spec_cache) > 256:
            _spec_cache.clear()
        _spec_cache[key] = rec.spec
        return rec
    if shared is rec.spec or shared != rec.spec:
        return rec
    return msgspec.structs.replace(rec, spec=shared)


def execution_detail(d: Deps, project: str, execution_id: str) -> ExecutionDetail:
    """An execution with its nodes, attempts, cache status, inputs and outputs."""
    return ExecutionDetail.model_validate(execution_detail_dict(d, project, execution_id))


_DETAIL_CACHE_SIZE = 32


def execution_detail_json(d: Deps, project: str, execution_id: str) -> bytes:
    """:func:`execution_detail` as JSON bytes (see :func:`execution_detail_tagged`)."""
    return execution_detail_tagged(d, project, execution_id)[0]


def execution_detail_tagged(d: Deps, project: str, execution_id: str) -> tuple[bytes, str]:
    """:func:`execution_detail` as JSON bytes, built without model validation (the hot path
    of the console: executions of thousands of nodes), and its entity tag (the execution,
    its newest event's seq, whether shown interrupted, this process: equal tags, equal
    answers).

    The bytes of recent answers are kept with the event sequence number they reflect: every
    change of an execution appends an event, so when no event came since, the kept answer is
    still exact (unless its lease lapsed or came back: its driver stopping appends no event
    but makes it interrupted). Each answer is one read of the store
    (:meth:`~airfoil.store.base.MetaStore.view_execution`: the head, the lease, the newest
    event's seq, and the nodes and attempts only if an event came since the kept answer);
    a second only when a kept answer's lease changed with no event (or, on a store that
    gives only the head, when the execution has just ended: its whole record, for its
    outputs). When events came, only the nodes whose record or attempts changed are built
    again: the JSON of each other node is the kept answer's (a running execution of 1,000
    nodes changes a few between two polls; an ended one's nodes are not kept: it changes no
    more).
    """
    with d.detail_lock:
        cached = d.detail_cache.get(execution_id)
    if cached is not None and cached.project != project:
        cached = None
    bad: list[UnreadableRecordError] = []  # the nodes and attempts left out
    if cached is None:
        view = d.meta.view_execution(execution_id, full=True, on_unreadable=bad.append)
    else:
        view = d.meta.view_execution(
            execution_id, after_seq=cached.seq, full=False, on_unreadable=bad.append
        )
        if view.nodes is None:
            _check_project(view.execution, project, execution_id)
            if intr.undriven_under(cached.record, view.lease, d.clock.now()) == cached.interrupted:
                return cached.data, cached.etag
            # the lease alone changed
            view = d.meta.view_execution(execution_id, full=False, on_unreadable=bad.append)
    kept_nodes = cached.nodes if cached is not None else {}
    known = cached.record if cached is not None else None
    nodes: _Frags = {}
    detail, rec, interrupted = _detail(
        d, project, execution_id, view, known, (kept_nodes, nodes), bad
    )
    data = msgspec.json.encode(detail)
    # what the answer reflects: which execution (a name in a path may come to name another),
    # every change appends an event, the lease's lapse does not (shown interrupted), and
    # another process (a restart, an upgrade) may answer otherwise
    etag = f'"{execution_id}.{view.last_seq}.{int(interrupted)}.{d.detail_tag}"'
    with d.detail_lock:
        d.detail_cache[execution_id] = KeptDetail(
            project, view.last_seq, data, interrupted, rec, nodes, etag
        )
        d.detail_cache.move_to_end(execution_id)
        while len(d.detail_cache) > _DETAIL_CACHE_SIZE:
            d.detail_cache.popitem(last=False)
    return data, etag


def execution_detail_dict(d: Deps, project: str, execution_id: str) -> dict[str, Any]:
    bad: list[UnreadableRecordError] = []
    view = d.meta.view_execution(execution_id, on_unreadable=bad.append)
    return _detail(d, project, execution_id, view, unreadable=bad)[0]


def _check_project(rec: ExecutionRecord | ExecutionHead, project: str, execution_id: str) -> None:
    if rec.project != project:
        raise NotFoundError(f"execution {execution_id!r} does not exist in project {project!r}")


def _current(
    d: Deps, project: str, execution_id: str, view: ExecutionView, known: ExecutionRecord | None
) -> ExecutionRecord:
    """The execution's record now. From a head (``known``: the record an earlier answer was
    built from, the execution then unfinished) the spec and inputs are taken from ``known``:
    an execution's spec and inputs never change, and its outputs are written only with a
    final phase (then the whole record is read)."""
    _check_project(view.execution, project, execution_id)
    if isinstance(view.execution, ExecutionRecord):
        return _shared_spec(view.execution)
    head = view.execution
    if known is None or known.outputs is not None or ExecutionPhase(head.phase).terminal:
        return _shared_spec(get_record(d, project, execution_id))
    fields = {f: getattr(head, f) for f in head.__struct_fields__}
    return msgspec.structs.replace(known, **fields)


def _detail(
    d: Deps,
    project: str,
    execution_id: str,
    view: ExecutionView,
    known: ExecutionRecord | None = None,
    frags: tuple[_Frags, _Frags] | None = None,
    unreadable: list[UnreadableRecordError] | None = None,
) -> tuple[dict[str, Any], ExecutionRecord, bool]:
    """The detail's fields, the record, and whether it is shown interrupted. With ``frags``
    (the kept answer's nodes, and a dict to fill) its nodes are JSON (``msgspec.Raw``): the
    kept one of each node shown as before, else built and encoded. ``unreadable``: the
    view's nodes and attempts that did not decode (left out of it), named in the answer."""
    rec = _current(d, project, execution_id, view, known)
    assert view.nodes is not None and view.attempts is not None
    interrupted = intr.undriven_under(rec, view.lease, d.clock.now())
    nodes = intr.shown_nodes(view.nodes, interrupted)
    attempts = intr.attempts_by_node(view.attempts, interrupted)
    infos = _node_infos(rec.spec)
    ctx = d.value_ctx()
    iface = rec.spec.interface
    out = cv.summary_dict(rec, len(nodes))
    if interrupted:
        out["phase"] = intr.INTERRUPTED
    out["interface"] = cv.interface_out(iface, d.types, ctx).model_dump(mode="json")
    out["inputs"] = cv.values_out(
        rec.inputs, {p.name: p.type for p in iface.inputs}, rec, d.types, ctx, read_blobs=False
    )
    out["outputs"] = cv.values_out(
        rec.outputs, {p.name: p.type for p in iface.outputs}, rec, d.types, ctx, read_blobs=True
    )
    names: ExecutionNames | None = None
    views = cv.NodeViews(rec, d.types, ctx, read_blobs=False)

    def view_of(n: NodeRecord, tries: Iterable[AttemptRecord]) -> dict[str, Any]:
        nonlocal names
        info = infos.get(n.node_id, _NO_TASK)
        v = views.node(n, tries, info.ins, info.outs, info.task_type, info.workers, info.type_names)
        if v["cache_reason"]:
            if names is None:
                names = ExecutionNames(d.meta, project)
                names.remember(rec.id, rec.display_name, rec.domain)
            v["cache_reason"] = names.text(v["cache_reason"])
        return v

    no_tries: list[AttemptRecord] = []
    if frags is None or ExecutionPhase(rec.phase).terminal:
        # an execution that ended changes no more: no node's JSON is kept for a next build
        out["nodes"] = [view_of(n, attempts.get(n.node_id, no_tries)) for n in nodes]
    else:
        kept, now = frags
        shown: list[msgspec.Raw] = []
        for n in nodes:
            # kept as tuples: of records the collector skips, so it stops tracking them
            tries = tuple(attempts.get(n.node_id, no_tries))
            old = kept.get(n.node_id)
            if old is not None and old[0] == n and old[1] == tries:
                raw = old[2]
            else:
                raw = msgspec.Raw(_encode(view_of(n, tries)))
            now[n.node_id] = (n, tries, raw)
            shown.append(raw)
        out["nodes"] = shown
    out["package"] = rec.labels.get("airfoil.package", "")
    out["unreadable"] = [u.model_dump() for u in cv.unreadable_outs(unreadable or ())]
    return out, rec, interrupted


_encode = msgspec.json.Encoder().encode


def _iface(task: Any) -> Any:
    return task.interface if task is not None else None


def _task_type(task: Any) -> str:
    return str(task.task_type) if task is not None else ""


def _workers(task: Any) -> int:
    """A training task's ranks (0 for any other task)."""
    if task is None or str(task.task_type) != "training":
        return 0
    return int(task.config.get("workers", 0))


def node_detail(d: Deps, project: str, execution_id: str, node_id: str) -> NodeDetailOut:
    """A node's own page: an attempt of it that no longer decodes is left out of its
    attempts and named in ``unreadable`` (the node itself not decoding raises, naming it)."""
    rec = get_record(d, project, execution_id)
    interrupted = intr.undriven(d.meta, rec, d.clock.now())
    [node] = intr.shown_nodes([d.meta.get_node(execution_id, node_id)], interrupted)
    tasks = _flat_tasks(rec.spec)
    bad: list[UnreadableRecordError] = []
    tries = d.meta.get_attempts(execution_id, node_id, on_unreadable=bad.append)
    out = cv.node_out(
        node,
        rec,
        intr.shown_attempts(tries, interrupted),
        _iface(tasks.get(node_id)),
        d.types,
        d.value_ctx(),
        read_blobs=True,
        task_type=_task_type(tasks.get(node_id)),
        workers=_workers(tasks.get(node_id)),
    )
    if out.cache_reason:
        names = ExecutionNames(d.meta, project)
        names.remember(rec.id, rec.display_name, rec.domain)
        out.cache_reason = names.text(out.cache_reason)
    return NodeDetailOut(**dict(out), unreadable=cv.unreadable_outs(bad))


def map_items(
    d: Deps, project: str, execution_id: str, node_id: str, offset: int, limit: int
) -> MapItemsOut:
    """The tried items of a map node (newest attempt each), by index."""
    from airfoil.engine._mapping import CACHE_WORKER, split_item_id

    rec = get_record(d, project, execution_id)
    node = d.meta.get_node(execution_id, node_id)
    if node.kind != "map":
        raise InvalidInputError(f"node {node_id} is a {node.kind} node, not a map node")
    newest: dict[int, Any] = {}
    tries: dict[int, int] = {}
    interrupted = intr.undriven(d.meta, rec, d.clock.now())
    for a in intr.shown_attempts(d.meta.get_attempts(execution_id), interrupted):
        split = split_item_id(a.node_id)
        if split is None or split[0] != node_id:
            continue
        i = split[1]
        tries[i] = tries.get(i, 0) + 1
        if i not in newest or a.attempt >= newest[i].attempt:
            newest[i] = a
    chosen = sorted(newest)[offset : offset + limit]
    # an item served from the cache is recorded as a try that ran nowhere (worker "cache")
    cached_task = node.cache_status != "disabled"

    def cache(worker: str | None) -> str:
        if worker == CACHE_WORKER:
            return "hit"
        return "miss" if cached_task else "disabled"

    items = [
        MapItemOut(
            index=i,
            phase=newest[i].phase,
            attempts=tries[i],
            started_at=newest[i].started_at,
            ended_at=newest[i].ended_at,
            duration_s=cv.attempt_dict(newest[i])["duration_s"],
            error=cv.error_out(newest[i].error),
            worker=newest[i].worker or None,
            cache=cache(newest[i].worker),
        )
        for i in chosen
    ]
    total = sum(node.map_counts.values()) if node.map_counts else len(newest)
    return MapItemsOut(node_id=node_id, items=items, total=total)
