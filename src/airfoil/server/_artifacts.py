"""The artifact registry over HTTP: wire schema -> service -> thin route.

``GET /projects/{project}/artifacts`` (newest version of each), ``GET .../artifacts/{name}``
(versions, aliases, trail), ``GET .../artifacts/{name}/versions/{version}``,
``POST .../artifacts/{name}/versions`` (add a version from uploaded bytes, e.g. a model trained
on this server; runner role) and ``POST .../artifacts/{name}/aliases`` (promote or roll back;
runner role). The artifact store
is opened on the server's database on first use and closed with the app.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from airfoil.core.errors import InvalidInputError, NotFoundError
from airfoil.server._auth import Principal, authenticate, require
from airfoil.server._deps import Deps
from airfoil.server._uploads import upload_key
from airfoil.store.artifacts import (
    MAX_VERSION,
    AliasMove,
    ArtifactDraft,
    ArtifactStore,
    ArtifactVersion,
    check_artifact_name,
    move_alias_checked,
    open_artifact_store,
)
from airfoil.store.base import BlobStore, MetaStore
from airfoil.store.naming import ExecutionNames
from airfoil.wire import API_PREFIX
from airfoil.wire._artifacts import (
    AliasMoveIn,
    AliasMoveOut,
    ArtifactDetail,
    ArtifactList,
    ArtifactPublished,
    ArtifactVersionIn,
    ArtifactVersionOut,
)

__all__ = [
    "ROLES",
    "artifact_router",
    "close_artifacts",
    "detail",
    "list_artifacts",
    "move",
    "publish",
]

artifact_router = APIRouter()  # included in the API's router (which has the prefix)
#: (method, path) -> role of these routes (merged into the API's matrix).
ROLES: dict[tuple[str, str], str] = {}
_LOCK = threading.Lock()

_Project = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
_Name = Annotated[str, Path(max_length=300)]


# --- services ---------------------------------------------------------------------------------


def version_out(
    v: ArtifactVersion, aliases: dict[str, int], names: ExecutionNames | None = None
) -> ArtifactVersionOut:
    """The wire form of a version (``names``: names its training run as its project does)."""
    return ArtifactVersionOut(
        name=v.name,
        version=v.version,
        kind=v.kind,
        uri=v.uri,
        content_hash=v.content_hash,
        created_at=v.created_at,
        partitions=v.partitions,
        execution_id=v.execution_id,
        execution_name=names.shown(v.execution_id) if names is not None else "",
        execution_domain=names.domain(v.execution_id) if names is not None else "",
        lineage=v.lineage,
        metrics=v.metrics,
        invalid_metrics=v.invalid_metrics,
        metadata=v.metadata,
        aliases=sorted(a for a, n in aliases.items() if n == v.version),
    )


def move_out(m: AliasMove) -> AliasMoveOut:
    return AliasMoveOut(
        name=m.name,
        alias=m.alias,
        seq=m.seq,
        action=m.action,
        from_version=m.from_version,
        to_version=m.to_version,
        at=m.at,
        actor=m.actor,
        reason=m.reason,
    )


def list_artifacts(
    store: ArtifactStore, project: str, kind: str | None, meta: MetaStore | None = None
) -> ArtifactList:
    names = ExecutionNames(meta, project) if meta is not None else None
    items = [
        version_out(v, store.aliases(project, v.name), names)
        for v in store.list_names(project, kind)
    ]
    return ArtifactList(items=items)


def detail(
    store: ArtifactStore, project: str, name: str, meta: MetaStore | None = None
) -> ArtifactDetail:
    names = ExecutionNames(meta, project) if meta is not None else None
    versions = store.list_versions(project, name)
    if not versions:
        store.get_version(project, name)  # raises the not-found error
    aliases = store.aliases(project, name)
    return ArtifactDetail(
        name=name,
        aliases=aliases,
        versions=[version_out(v, aliases, names) for v in versions],
        moves=[move_out(m) for m in store.alias_moves(project, name)],
    )


def move(
    store: ArtifactStore,
    blobs: BlobStore,
    project: str,
    name: str,
    body: AliasMoveIn,
    now: float,
    actor: str,
) -> AliasMoveOut:
    """Promote or roll back an alias; refused (NotFoundError, 404) where the version it goes
    to has no bytes in the server's blob store, as the local registry refuses it."""
    moved = move_alias_checked(
        store, blobs, (project, name, body.alias), body.version, now, action=body.action,
        actor=actor, reason=body.reason,
    )  # fmt: skip
    return move_out(moved)


def publish(
    store: ArtifactStore,
    blobs: BlobStore,
    meta: MetaStore,
    project: str,
    name: str,
    body: ArtifactVersionIn,
    now: float,
) -> ArtifactPublished:
    """Add a version of ``name`` from bytes uploaded to ``project`` (found again if the same
    bytes are registered), kept in the blob store beside the registry's own
    (``artifacts/PROJECT/NAME/SHA256``) before the version is added.

    Raises:
        ConfigError: an invalid artifact name.
        NotFoundError: no upload with that SHA-256 in the project, or no such execution in it.
        InvalidInputError: the upload's bytes no longer match, or the execution did not
            succeed.
    """
    check_artifact_name(name)
    key = upload_key(project, body.sha256)
    uri = blobs.uri(key)
    if not blobs.exists(uri):
        raise NotFoundError(
            f"no upload {body.sha256[:16]}... in project {project!r}: upload the bytes with "
            f"PUT /api/v1/projects/{project}/uploads/{body.sha256} first"
        )
    data = blobs.get_bytes(uri)
    if hashlib.sha256(data).hexdigest() != body.sha256:
        raise InvalidInputError(f"the upload {body.sha256[:16]}... no longer matches its hash")
    execution_id = body.execution_id
    if execution_id:
        try:  # a name (or id) of the project's own executions only
            domain = body.execution_domain or None
            execution_id = meta.resolve_execution(
                project, execution_id, domain, how='"execution_domain"'
            )
            record = meta.get_execution(execution_id)
        except NotFoundError:
            record = None
        if record is None or record.project != project:
            where = f" ({body.execution_domain})" if body.execution_domain else ""
            raise NotFoundError(
                f"no execution {body.execution_id!r} in project {project!r}{where} (the "
                "version's lineage must name an execution of its project)"
            )
        if record.phase != "succeeded":
            raise InvalidInputError(
                f"execution {body.execution_id!r} is {record.phase}: only a succeeded "
                "execution's output can be registered"
            )
    stored = blobs.put_bytes(f"artifacts/{project}/{name}/{body.sha256}", data)
    draft = ArtifactDraft(
        project=project,
        name=name,
        kind=body.kind,
        uri=stored,
        content_hash=body.sha256,
        partitions=body.partitions,
        execution_id=execution_id,
        lineage=body.lineage,
        metrics=body.metrics,
        metadata=body.metadata,
    )
    version, created = store.add_version(draft, now)
    return ArtifactPublished(
        version=version_out(version, store.aliases(project, name), ExecutionNames(meta, project)),
        created=created,
    )


# --- routes -----------------------------------------------------------------------------------


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def _store(request: Request) -> ArtifactStore:
    found: ArtifactStore | None = getattr(request.app.state, "artifacts", None)
    if found is None:
        with _LOCK:
            found = getattr(request.app.state, "artifacts", None)
            if found is None:
                settings = _deps(request).runtime.settings
                found = open_artifact_store(settings.database_url, settings.home)
                request.app.state.artifacts = found
    return found


def close_artifacts(app_state: Any) -> None:
    """Close the artifact store if the app opened it."""
    found: ArtifactStore | None = getattr(app_state, "artifacts", None)
    if found is not None:
        found.close()
        app_state.artifacts = None


def _caller(role: str) -> Callable[..., Principal]:
    def dependency(request: Request) -> Principal:
        deps = _deps(request)
        who = authenticate(request, deps.registry, deps.clock.now())
        require(who, request.path_params.get("project"), role)
        return who

    return dependency


def _route(method: str, path: str, role: str, **kwargs: Any) -> Callable[[Any], Any]:
    ROLES[(method, API_PREFIX + path)] = role
    return artifact_router.api_route(path, methods=[method], **kwargs)


Viewer = Annotated[Principal, Depends(_caller("viewer"))]
Runner = Annotated[Principal, Depends(_caller("runner"))]
Store = Annotated[ArtifactStore, Depends(_store)]


@_route("GET", "/projects/{project}/artifacts", "viewer", response_model=ArtifactList)
def get_artifacts(
    project: _Project,
    who: Viewer,
    store: Store,
    request: Request,
    kind: Annotated[str | None, Query()] = None,
) -> ArtifactList:
    return list_artifacts(store, project, kind, _deps(request).meta)


@_route("GET", "/projects/{project}/artifacts/{name}", "viewer", response_model=ArtifactDetail)
def get_artifact(
    project: _Project, name: _Name, who: Viewer, store: Store, request: Request
) -> ArtifactDetail:
    return detail(store, project, name, _deps(request).meta)


@_route(
    "GET",
    "/projects/{project}/artifacts/{name}/versions/{version}",
    "viewer",
    response_model=ArtifactVersionOut,
)
def get_artifact_version(
    project: _Project,
    name: _Name,
    version: Annotated[str, Path(max_length=20)],
    who: Viewer,
    store: Store,
    request: Request,
) -> ArtifactVersionOut:
    # ASCII digits: str.isdigit also takes "\u00b2" (int() refuses it: a 500) and "\u0663"
    # (int() reads 3); past the largest, the database overflowed (a 500, or a 503)
    if not (version.isascii() and version.isdigit()) or int(version) > MAX_VERSION:
        raise NotFoundError(
            f"no version {version!r} of artifact {name!r}: versions are numbers from 1 to "
            f"{MAX_VERSION}"
        )
    found = store.get_version(project, name, int(version))
    names = ExecutionNames(_deps(request).meta, project)
    return version_out(found, store.aliases(project, name), names)


@_route(
    "POST",
    "/projects/{project}/artifacts/{name}/versions",
    "runner",
    response_model=ArtifactPublished,
)
def post_artifact_version(
    project: _Project,
    name: _Name,
    body: ArtifactVersionIn,
    who: Runner,
    store: Store,
    request: Request,
) -> ArtifactPublished:
    d = _deps(request)
    return publish(store, d.blobs, d.meta, project, name, body, d.clock.now())


@_route(
    "POST", "/projects/{project}/artifacts/{name}/aliases", "runner", response_model=AliasMoveOut
)
def post_alias_move(
    project: _Project, name: _Name, body: AliasMoveIn, who: Runner, store: Store, request: Request
) -> AliasMoveOut:
    d = _deps(request)
    return move(store, d.blobs, project, name, body, d.clock.now(), who.key_id)
