"""Service functions: what each API call does, free of HTTP.

Every function takes the :class:`Deps` (stores, registry, type engine, clock) as its first
argument and returns a wire model or raises an Airfoil error; routes only translate HTTP.
The server never imports user code: launch inputs are converted from JSON with the interface's
type specs alone (``airfoil.types._from_json``), and specs arrive as records.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import msgspec

from airfoil.core.clock import Clock
from airfoil.core.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TypeTransformError,
)
from airfoil.core.ids import validate_execution_id
from airfoil.core.records import ExecutionRecord, TaskSpec, Value, WorkflowSpec
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.base import attempt_log_key, live_log_key
from airfoil.runtime._packages import package_key, package_ref
from airfoil.server import _convert as cv
from airfoil.server import _interruption as intr
from airfoil.server._driver import Driver, LaunchOnlyExecutor
from airfoil.server._registry import EntityRow, Registry
from airfoil.server._secrets import SecretBox
from airfoil.server._tenancy import MayRead, check_package, grant_package
from airfoil.server._uploads import (
    UPLOAD_KINDS,
    is_upload_list,
    store_upload,
    uploaded_list,
    uploaded_value,
)
from airfoil.store.base import BlobStore, MetaStore
from airfoil.wire import (
    DOMAINS,
    CacheEntryOut,
    CacheList,
    EntityList,
    EntitySummary,
    EntityVersionOut,
    EventList,
    ExecutionDetail,
    ExecutionPage,
    ExecutionSummary,
    LaunchRequest,
    LogOut,
    MapItemOut,
    MapItemsOut,
    NodeOut,
    PackageOut,
    RawValues,
    RegisterRequest,
    RegisterResponse,
    SignalOut,
    UploadOut,
    VersionList,
)

__all__ = ["Deps"]

#: Largest code package accepted, in bytes.
MAX_PACKAGE = 100 * 2**20


@dataclass
class Deps:
    """What services work with."""

    meta: MetaStore
    blobs: BlobStore
    blob_url: str
    registry: Registry
    types: Any
    clock: Clock
    driver: Driver | None = None
    secrets: SecretBox | None = None
    #: execution id -> (project, event seq, JSON, whether it was shown interrupted, record)
    detail_cache: OrderedDict[str, tuple[str, int, bytes, bool, ExecutionRecord]] = field(
        default_factory=OrderedDict
    )
    detail_lock: threading.Lock = field(default_factory=threading.Lock)

    def value_ctx(self) -> Any:
        from airfoil.types import ValueContext

        return ValueContext(blobs=self.blobs)

    def engine(self, project: str = "default", domain: str = "development") -> Engine:
        box = self.secrets

        def secret(name: str) -> str | None:  # launch checks that requested secrets exist
            return None if box is None else box.get_many(project, (name,)).get(name)

        return Engine(
            self.meta,
            self.blobs,
            LaunchOnlyExecutor(),
            blob_url=self.blob_url,
            clock=self.clock,
            settings=EngineSettings(project=project, domain=domain),
            secrets=secret,
            types=self.types,
        )


def check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise InvalidInputError(f"unknown domain {domain!r}: use one of {', '.join(DOMAINS)}")


# --- packages and registration --------------------------------------------------------------


def upload_package(d: Deps, project: str, sha256: str, data: bytes) -> PackageOut:
    """Store a code package archive under its content hash."""
    if len(data) > MAX_PACKAGE:
        raise InvalidInputError(f"code package is {len(data)} bytes; the limit is {MAX_PACKAGE}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise InvalidInputError(
            f"the uploaded archive's SHA-256 is {actual}, not {sha256}: upload it again"
        )
    if not data.startswith(b"\x1f\x8b"):
        raise InvalidInputError("a code package must be a gzip-compressed tar archive")
    d.registry.ensure_project(project, now=d.clock.now())
    d.blobs.put_bytes(package_key(sha256), data)
    created = d.registry.add_package(sha256, len(data), d.clock.now())
    grant_package(d.registry, project, sha256, d.clock.now())
    return PackageOut(sha256=sha256, size=len(data), created=created)


def upload(d: Deps, project: str, sha256: str, data: bytes) -> UploadOut:
    """Keep the bytes of a launch input (a file, dataframe or array) under their SHA-256."""
    d.registry.ensure_project(project, now=d.clock.now())
    return UploadOut(sha256=sha256, size=store_upload(d.blobs, project, sha256, data))


def _decode_spec(entity: Any) -> tuple[WorkflowSpec, Any]:
    raw = msgspec.json.encode(entity.spec)
    try:
        if entity.kind == "task":
            task = msgspec.json.decode(raw, type=TaskSpec)
            from airfoil.sdk._workflow import single_task_workflow

            return single_task_workflow(SimpleNamespace(spec=task)), task
        wf = msgspec.json.decode(raw, type=WorkflowSpec)
        return wf, wf
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"{entity.kind} {entity.name!r}: invalid spec: {exc}") from None


def _own_only(_project: str) -> bool:
    return False


def register(
    d: Deps, project: str, req: RegisterRequest, may_read: MayRead = _own_only
) -> RegisterResponse:
    """Register the entities of a package uploaded to ``project`` (all or none); a package
    of another project only if the caller may read that project."""
    now = d.clock.now()
    check_package(d.registry, project, req.package, may_read, now)
    rows: list[EntityRow] = []
    for e in req.entities:
        launchable, own = _decode_spec(e)
        if own.name != e.name or own.version != e.version:
            raise InvalidInputError(
                f"entity {e.name!r} version {e.version!r} does not match its spec "
                f"({own.name!r} version {own.version!r})"
            )
        canonical = msgspec.json.encode(launchable)
        rows.append(
            EntityRow(
                project=project,
                name=e.name,
                version=e.version,
                kind=e.kind,
                content_hash=hashlib.sha256(canonical).hexdigest(),
                package=req.package,
                registered_at=now,
                spec=canonical.decode(),
            )
        )
    d.registry.ensure_project(project, now=now)
    done = d.registry.register(rows)
    return RegisterResponse(entities=[_version_out(d, r, created) for r, created in done])


def _spec_of(row: EntityRow) -> WorkflowSpec:
    return msgspec.json.decode(row.spec, type=WorkflowSpec)


def _version_out(d: Deps, row: EntityRow, created: bool = False) -> EntityVersionOut:
    spec = _spec_of(row)
    return EntityVersionOut(
        project=row.project,
        kind="task" if row.kind == "task" else "workflow",
        name=row.name,
        version=row.version,
        package=row.package,
        registered_at=row.registered_at,
        interface=cv.interface_out(spec.interface, d.types, d.value_ctx()),
        docs=spec.docs
        or (spec.nodes[0].task.docs if row.kind == "task" and spec.nodes[0].task else ""),
        created=created,
    )


def list_entities(d: Deps, project: str, kind: str | None) -> EntityList:
    summaries: dict[str, EntitySummary] = {}
    for row in d.registry.list_entities(project, kind):
        s = summaries.get(row.name)
        if s is None:
            summaries[row.name] = EntitySummary(
                kind="task" if row.kind == "task" else "workflow",
                name=row.name,
                latest_version=row.version,
                versions=1,
                registered_at=row.registered_at,
            )
        else:
            s.versions += 1
    return EntityList(items=sorted(summaries.values(), key=lambda s: s.name))


def list_versions(d: Deps, project: str, name: str) -> VersionList:
    rows = [r for r in d.registry.list_entities(project) if r.name == name]
    if not rows:
        raise NotFoundError(f"no task or workflow {name!r} in project {project!r}")
    return VersionList(items=[_version_out(d, r) for r in rows])


def get_version(d: Deps, project: str, name: str, version: str) -> EntityVersionOut:
    return _version_out(d, d.registry.get_entity(project, name, version))


# --- launching ------------------------------------------------------------------------------


def convert_json_inputs(
    d: Deps,
    spec: WorkflowSpec,
    given: dict[str, Any],
    project: str = "default",
    may_read: MayRead = _own_only,
) -> dict[str, Value]:
    """Check JSON inputs against the interface and convert them to values.

    Raises:
        InvalidInputError: an unknown, missing or ill-typed input (naming it and its type).
    """
    from airfoil.types._from_json import converter_kind, from_jsonable

    iface = spec.interface
    known = {p.name for p in iface.inputs}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInputError(
            f"{spec.name} has no input(s) {', '.join(map(repr, unknown))}; its inputs: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    ctx = d.value_ctx()
    values: dict[str, Value] = {}
    for p in iface.inputs:
        if p.name in given and (
            p.type.kind in ("directory", *UPLOAD_KINDS) or converter_kind(p.type)
        ):
            values[p.name] = uploaded_value(
                d.blobs, project, p.name, p.type, given[p.name], may_read
            )
        elif p.name in given and is_upload_list(p.type):
            values[p.name] = uploaded_list(
                d.blobs, project, p.name, p.type, given[p.name], may_read
            )
        elif p.name in given:
            try:
                values[p.name] = from_jsonable(given[p.name], p.type, d.types, ctx)
            except TypeTransformError as exc:
                raise InvalidInputError(f"input {p.name!r} expects {p.type}: {exc}") from None
        elif p.has_default and p.default is not None:
            values[p.name] = p.default
        elif p.has_default:
            try:
                values[p.name] = from_jsonable(None, p.type, d.types, ctx)
            except TypeTransformError as exc:
                raise InvalidInputError(f"input {p.name!r}: {exc}") from None
        else:
            raise InvalidInputError(
                f"{spec.name} needs input {p.name!r} ({p.type}) but it was not given"
            )
    return values


def launch(
    d: Deps, project: str, domain: str, req: LaunchRequest, may_read: MayRead = _own_only
) -> ExecutionSummary:
    """Launch a registered version (the newest if none is named) with JSON inputs."""
    check_domain(domain)
    if req.name is not None:
        try:
            validate_execution_id(req.name)
        except ConfigError as exc:
            raise InvalidInputError(str(exc)) from None
    row = d.registry.get_entity(project, req.entity, req.version)
    spec = _spec_of(row)
    values = convert_json_inputs(d, spec, req.inputs, project, may_read)
    labels = dict(req.labels)
    labels["airfoil.package"] = row.package
    rec = d.engine(project, domain).launch(
        spec,
        values,
        execution_id=req.name,
        code_root=package_ref(row.package, d.blob_url),
        labels=labels,
    )
    if d.driver is not None:
        d.driver.notify()
    return cv.summary_out(rec)


def relaunch(d: Deps, project: str, execution_id: str) -> ExecutionSummary:
    """A new execution of the same version with the same inputs."""
    old = get_record(d, project, execution_id)
    rec = d.engine(old.project, old.domain).relaunch(execution_id)
    if d.driver is not None:
        d.driver.notify()
    return cv.summary_out(rec)


def recover(d: Deps, project: str, execution_id: str) -> ExecutionSummary:
    """A new execution of a failed (or aborted) one that reuses every node that succeeded
    and runs only from the failure on (``ConfigError`` for any other phase)."""
    old = get_record(d, project, execution_id)
    rec = d.engine(old.project, old.domain).recover(execution_id)
    if d.driver is not None:
        d.driver.notify()
    return cv.summary_out(rec)


def terminate(d: Deps, project: str, execution_id: str, reason: str) -> ExecutionSummary:
    """Abort an execution: at once if nobody drives it, else through its driver."""
    rec = get_record(d, project, execution_id)
    if rec.phase in ("succeeded", "failed", "aborted"):
        raise ConflictError(f"execution {execution_id} already ended ({rec.phase})")
    try:
        rec = d.engine().abort(execution_id, reason)
    except ConflictError:  # a driver holds it: ask it to stop, through the control inbox
        from airfoil.store._control import ControlMessage

        stop = ControlMessage(execution_id, "terminate", d.clock.now(), reason=reason)
        d.meta.send_control(stop)  # a second request keeps the first one's reason
    return cv.summary_out(rec)


def signal(d: Deps, project: str, execution_id: str, name: str, value: Any) -> SignalOut:
    """Send a value to a gate waiting in an execution (checked against the gate's type)."""
    import json

    from airfoil.engine.signals import send_signal

    get_record(d, project, execution_id)
    text = value if isinstance(value, str) else json.dumps(value)
    node = send_signal(d.meta, d.blobs, d.types, execution_id, name, text)
    return SignalOut(execution_id=execution_id, name=name, node_id=node)


# --- reading executions ---------------------------------------------------------------------


def get_record(d: Deps, project: str, execution_id: str) -> ExecutionRecord:
    rec = d.meta.get_execution(execution_id)
    if rec.project != project:
        raise NotFoundError(f"execution {execution_id!r} does not exist in project {project!r}")
    return rec


#: How many of the newest matching executions a search (text or dates) looks through.
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
    if q is None and since is None and until is None:
        items = d.meta.list_executions(**f, limit=limit, offset=offset)
        total = d.meta.count_executions(**f)
        return ExecutionPage(
            items=[intr.shown_summary(d.meta, r, d.clock.now()) for r in items],
            total=total,
            limit=limit,
            offset=offset,
        )
    needle = (q or "").strip().lower()
    found: list[ExecutionRecord] = []
    scanned, chunk = 0, 500
    while scanned < SEARCH_WINDOW:
        page = d.meta.list_executions(**f, limit=chunk, offset=scanned)
        scanned += len(page)
        for r in page:
            if until is not None and r.created_at > until:
                continue
            if since is not None and r.created_at < since:
                break
            if needle and not _matches(r, needle):
                continue
            found.append(r)
        if len(page) < chunk or (since is not None and page and page[-1].created_at < since):
            break
    now = d.clock.now()
    return ExecutionPage(
        items=[intr.shown_summary(d.meta, r, now) for r in found[offset : offset + limit]],
        total=len(found),
        limit=limit,
        offset=offset,
    )


_SOURCE = re.compile(r"\bexecution (\S+) node\b")


def hide_foreign(
    d: Deps, project: str, text: str, owners: dict[str, str | None] | None = None
) -> str:
    """``text`` with the ids of executions of other projects (a cache hit names the execution
    that wrote the entry) replaced, so no project learns another's execution ids. ``owners``
    remembers each execution's project across calls (one lookup per execution)."""
    if "execution " not in text:
        return text
    known = {} if owners is None else owners

    def swap(m: re.Match[str]) -> str:
        eid = m.group(1)
        if eid not in known:
            try:
                known[eid] = d.meta.get_execution(eid).project
            except NotFoundError:
                known[eid] = None
        return m.group(0) if known[eid] == project else "execution (of another project) node"

    return _SOURCE.sub(swap, text)


def _matches(r: ExecutionRecord, needle: str) -> bool:
    hay = [r.id, r.workflow, r.version, *r.labels.values()]
    return any(needle in h.lower() for h in hay)


_flat_cache: dict[tuple[str, str], dict[str, Any]] = {}


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


def execution_detail(d: Deps, project: str, execution_id: str) -> ExecutionDetail:
    """An execution with its nodes, attempts, cache status, inputs and outputs."""
    return ExecutionDetail.model_validate(execution_detail_dict(d, project, execution_id))


_DETAIL_CACHE_SIZE = 32


def execution_detail_json(d: Deps, project: str, execution_id: str) -> bytes:
    """:func:`execution_detail` as JSON bytes, built without model validation (the hot path
    of the console: executions of thousands of nodes).

    The bytes of recent answers are kept with the event sequence number they reflect: every
    change of an execution appends an event, so when no event came since, the kept answer is
    still exact and is served after one indexed query (and, for an execution that has not
    ended, a lease read: its driver stopping appends no event but makes it interrupted).
    """
    with d.detail_lock:
        cached = d.detail_cache.get(execution_id)
    if cached is not None and cached[0] == project:
        newer = d.meta.get_events(execution_id, after_seq=cached[1])
        if not newer and intr.undriven(d.meta, cached[4], d.clock.now()) == cached[3]:
            return cached[2]
        seq = newer[-1].seq if newer else cached[1]
    else:
        evs = d.meta.get_events(execution_id)
        seq = evs[-1].seq if evs else 0
    detail, rec, interrupted = _detail(d, project, execution_id)
    data = msgspec.json.encode(detail)
    with d.detail_lock:
        d.detail_cache[execution_id] = (project, seq, data, interrupted, rec)
        d.detail_cache.move_to_end(execution_id)
        while len(d.detail_cache) > _DETAIL_CACHE_SIZE:
            d.detail_cache.popitem(last=False)
    return data


def execution_detail_dict(d: Deps, project: str, execution_id: str) -> dict[str, Any]:
    return _detail(d, project, execution_id)[0]


def _detail(
    d: Deps, project: str, execution_id: str
) -> tuple[dict[str, Any], ExecutionRecord, bool]:
    """The detail's fields, the record, and whether it is shown interrupted."""
    rec = get_record(d, project, execution_id)
    interrupted = intr.undriven(d.meta, rec, d.clock.now())
    nodes = intr.shown_nodes(d.meta.get_nodes(execution_id), interrupted)
    attempts = intr.attempts_by_node(d.meta.get_attempts(execution_id), interrupted)
    tasks = _flat_tasks(rec.spec)
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
    out["nodes"] = [
        cv.node_dict(
            n,
            rec,
            attempts.get(n.node_id, []),
            _iface(tasks.get(n.node_id)),
            d.types,
            ctx,
            read_blobs=False,
        )
        for n in nodes
    ]
    owners: dict[str, str | None] = {execution_id: project}
    for n in out["nodes"]:
        if n.get("cache_reason"):
            n["cache_reason"] = hide_foreign(d, project, n["cache_reason"], owners)
    out["package"] = rec.labels.get("airfoil.package", "")
    return out, rec, interrupted


def _iface(task: Any) -> Any:
    return task.interface if task is not None else None


def node_detail(d: Deps, project: str, execution_id: str, node_id: str) -> NodeOut:
    rec = get_record(d, project, execution_id)
    interrupted = intr.undriven(d.meta, rec, d.clock.now())
    [node] = intr.shown_nodes([d.meta.get_node(execution_id, node_id)], interrupted)
    tasks = _flat_tasks(rec.spec)
    out = cv.node_out(
        node,
        rec,
        intr.shown_attempts(d.meta.get_attempts(execution_id, node_id), interrupted),
        _iface(tasks.get(node_id)),
        d.types,
        d.value_ctx(),
        read_blobs=True,
    )
    if out.cache_reason:
        out.cache_reason = hide_foreign(d, project, out.cache_reason)
    return out


def map_items(
    d: Deps, project: str, execution_id: str, node_id: str, offset: int, limit: int
) -> MapItemsOut:
    """The tried items of a map node (newest attempt each), by index."""
    from airfoil.engine._mapping import split_item_id

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
    items = [
        MapItemOut(
            index=i,
            phase=newest[i].phase,
            attempts=tries[i],
            started_at=newest[i].started_at,
            ended_at=newest[i].ended_at,
            duration_s=cv.attempt_dict(newest[i])["duration_s"],
            error=cv.error_out(newest[i].error),
        )
        for i in chosen
    ]
    total = sum(node.map_counts.values()) if node.map_counts else len(newest)
    return MapItemsOut(node_id=node_id, items=items, total=total)


def raw_outputs(d: Deps, project: str, execution_id: str) -> RawValues:
    rec = get_record(d, project, execution_id)
    return RawValues(
        execution_id=rec.id,
        phase=rec.phase,
        values={k: cv.raw_value(rec, v) for k, v in (rec.outputs or {}).items()},
    )


def find_value(d: Deps, project: str, execution_id: str, value_hash: str) -> Value:
    """A value of an execution (its inputs, outputs or any node's) by content hash."""
    rec = get_record(d, project, execution_id)
    pools = [rec.inputs, rec.outputs or {}]
    for n in d.meta.get_nodes(execution_id):
        pools.extend([n.inputs or {}, n.outputs or {}])
    for pool in pools:
        for v in pool.values():
            if v.hash == value_hash:
                return v
    raise NotFoundError(f"execution {execution_id} has no value with hash {value_hash[:16]}")


def value_bytes(d: Deps, value: Value) -> bytes:
    if value.inline is not None:
        return value.inline
    if value.uri is None:
        raise NotFoundError(f"value {value.hash[:12]} has no data")
    return d.blobs.get_bytes(value.uri)


def events(d: Deps, project: str, execution_id: str, after: int) -> EventList:
    rec = get_record(d, project, execution_id)
    evs = d.meta.get_events(execution_id, after_seq=after)
    items = [cv.event_out(e) for e in evs]
    owners: dict[str, str | None] = {execution_id: project}
    for ev in items:
        ev.cause = hide_foreign(d, project, ev.cause, owners)
    return EventList(items=items, phase=rec.phase)


def logs(d: Deps, project: str, execution_id: str, node_id: str, attempt: int | None) -> LogOut:
    get_record(d, project, execution_id)
    tries = d.meta.get_attempts(execution_id, node_id)
    if not tries:
        d.meta.get_node(execution_id, node_id)  # NotFoundError for an unknown node
        raise NotFoundError(f"node {node_id} of execution {execution_id} has not run yet")
    chosen = (
        tries[-1] if attempt is None else next((a for a in tries if a.attempt == attempt), None)
    )
    if chosen is None:
        raise NotFoundError(f"node {node_id} has no attempt {attempt}")
    text = ""
    if chosen.log_uri:
        uris = [chosen.log_uri]
    else:  # still running (or just ended): the whole log if written, else the copy so far
        key = attempt_log_key(execution_id, node_id, chosen.attempt)
        uris = [d.blobs.uri(key), d.blobs.uri(live_log_key(key))]
    for uri in uris:
        try:
            text = d.blobs.get_bytes(uri).decode("utf-8", errors="replace")
            break
        except NotFoundError:
            continue
    return LogOut(execution_id=execution_id, node_id=node_id, attempt=chosen.attempt, text=text)


def cache_entries(d: Deps, project: str, task: str | None, limit: int) -> CacheList:
    """Cache entries written by executions of this project."""
    out: list[CacheEntryOut] = []
    owners: dict[str, str | None] = {}
    for e in d.meta.list_cache(task=task, limit=limit * 4):
        if e.execution_id not in owners:
            try:
                owners[e.execution_id] = d.meta.get_execution(e.execution_id).project
            except NotFoundError:
                owners[e.execution_id] = None
        if owners[e.execution_id] != project:
            continue
        out.append(
            CacheEntryOut(
                key=e.key,
                task=e.parts.task,
                cache_version=e.parts.cache_version,
                created_at=e.created_at,
                execution_id=e.execution_id,
                node_id=e.node_id,
                input_hashes=dict(e.parts.input_hashes),
            )
        )
        if len(out) >= limit:
            break
    return CacheList(items=out)


def now_s() -> float:
    return time.time()
