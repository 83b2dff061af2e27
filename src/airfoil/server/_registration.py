"""Registration services: code packages, launch-input uploads, and task/workflow versions
registered from a package (all of a request's entities or none)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import msgspec

from airfoil.core.errors import (
    InvalidInputError,
    NotFoundError,
)
from airfoil.core.records import TaskSpec, Value, WorkflowSpec
from airfoil.runtime._packages import package_key
from airfoil.server import _convert as cv
from airfoil.server._deps import Deps, own_only
from airfoil.server._registry import EntityRow
from airfoil.server._tenancy import MayRead, check_package, grant_package
from airfoil.server._uploads import store_upload
from airfoil.wire import (
    EntityList,
    EntitySummary,
    EntityVersionOut,
    PackageOut,
    RegisterRequest,
    RegisterResponse,
    UploadOut,
    VersionList,
)

__all__ = [
    "MAX_PACKAGE",
    "check_registered_spec",
    "get_version",
    "list_entities",
    "list_versions",
    "register",
    "spec_of_row",
    "upload",
    "upload_package",
]


MAX_PACKAGE = 100 * 2**20

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


#: Fields of spec records that name things (tasks, nodes, inputs, versions): printed by
#: ``airfoil executions show`` and the console, so they must be printable.
_NAME_FIELDS = frozenset({"name", "version", "id", "label", "node", "task"})


def _check_inline_hash(value: Value, what: str, where: str) -> None:
    """Refuse an inline value (a JSON value, a frame, an array) whose hash is not its
    content's: inline bytes are never checked when read, and the hash is what a cache key is
    made of, so a default claiming another value's hash would run on its own bytes and leave
    the result under the other value's key (a later run on that value, of the project or of
    a cache scope it shares, would be served it)."""
    from airfoil.core.errors import CorruptBlobError
    from airfoil.types._integrity import inline_hash_problem

    try:
        problem = inline_hash_problem(value)
    except CorruptBlobError as exc:  # an algorithm this version does not know
        raise InvalidInputError(f"{what}: the value at {where or 'the top'}: {exc}") from None
    if problem is not None:
        raise InvalidInputError(
            f"{what}: the {value.format} value at {where or 'the top'} {problem}: serialise "
            "it with Airfoil's type engine (register with Airfoil's client, `airfoil "
            "register`)"
        )


def check_registered_spec(spec: msgspec.Struct, what: str) -> None:
    """Refuse a registered spec that the SDK would never write and that turns the server or
    a viewer's terminal against its users:

    - a value that names a blob (``uri``) anywhere: an input's default, a constant binding,
      a launch plan's inputs. The SDK keeps a definition's constants inline (files and
      frames cannot be constants), so one that names a blob was written by hand to make the
      server (which reads a value's blob by its ``uri`` to preview or download it) read a
      path of its choosing: its own files, or another project's blobs;
    - an inline value (an input's default, a constant: JSON, a frame, an array) whose hash
      is not its content's: its cache key would name another value;
    - a name (of the workflow, a node, a task, an input, a version) holding a control
      character: ``airfoil executions show`` prints names into a viewer's terminal, where
      an escape sequence would be run.

    Raises:
        InvalidInputError: naming what is refused and where it is in the spec.
    """
    from airfoil.wire._limits import control_character

    stack: list[tuple[object, str]] = [(spec, "")]
    while stack:
        obj, where = stack.pop()
        if isinstance(obj, Value):
            if obj.uri is not None:
                raise InvalidInputError(
                    f"{what}: the value at {where or 'the top'} names a blob "
                    f"({obj.uri!r}) instead of holding its bytes inline; a registered spec's "
                    "constants and defaults are inline (register with Airfoil's client, "
                    "`airfoil register`)"
                )
            _check_inline_hash(obj, what, where)
        elif isinstance(obj, msgspec.Struct):
            for f in obj.__struct_fields__:
                item = getattr(obj, f)
                found = control_character(item) if isinstance(item, str) else None
                if found is not None and f in _NAME_FIELDS:
                    raise InvalidInputError(
                        f"{what}: the name at {where}.{f} holds the control character "
                        f"{found}; names are printed in terminals and the console, where an "
                        "escape sequence would be run: use printable text"
                    )
                stack.append((item, f"{where}.{f}"))
        elif isinstance(obj, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(obj))
        elif isinstance(obj, dict):
            stack.extend((v, f"{where}[{k!r}]") for k, v in obj.items())


def _decode_spec(entity: Any) -> tuple[WorkflowSpec, Any]:
    raw = msgspec.json.encode(entity.spec)
    try:
        if entity.kind == "task":
            task = msgspec.json.decode(raw, type=TaskSpec)
            from airfoil.sdk._workflow import single_task_workflow

            own: Any = task
            launchable = single_task_workflow(SimpleNamespace(spec=task))
        else:
            own = launchable = msgspec.json.decode(raw, type=WorkflowSpec)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"{entity.kind} {entity.name!r}: invalid spec: {exc}") from None
    check_registered_spec(launchable, f"{entity.kind} {entity.name!r}")
    return launchable, own


def register(
    d: Deps, project: str, req: RegisterRequest, may_read: MayRead = own_only
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


def spec_of_row(row: EntityRow) -> WorkflowSpec:
    return msgspec.json.decode(row.spec, type=WorkflowSpec)


def _version_out(d: Deps, row: EntityRow, created: bool = False) -> EntityVersionOut:
    spec = spec_of_row(row)
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
