"""The artifact store: named, versioned artifacts (trained models, published task outputs)
with their lineage, and aliases (``production``, ``staging``) moved with an audit trail.

:class:`ArtifactStore` is the abstract class; :class:`~airfoil.store.memory_artifacts.
MemoryArtifactStore` keeps it in memory and :class:`~airfoil.store.sql.SqlArtifactStore` in the
SQL database beside the metadata store (``server_artifact_*`` tables, revision 0009). Every
backend passes :mod:`airfoil.testing.artifact_conformance`.

Invariants every backend keeps:

- Versions of a ``(project, name)`` are numbered 1, 2, 3... in the order they were added; a
  version never changes content. Adding a draft whose content hash and partitions equal an
  existing version's returns that version (``created`` False): a cached training run that is
  asked to register again registers nothing new.
- An alias points at one existing version. Every move (``promote`` or ``rollback``) appends
  an :class:`AliasMove` to the name's audit trail, numbered 1, 2, 3... per name; the trail is
  never rewritten. ``rollback`` moves the alias back to the version it pointed at before its
  newest move (a rollback of a rollback goes forward again).
- Rows come back equal to what was stored; callers never share state with the store.
"""

from __future__ import annotations

import abc
import math
import re

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError, ConflictError, CorruptVersionError, NotFoundError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.store.deployments import Deployment, DeploymentLease

__all__ = [
    "ALIAS_ACTIONS",
    "AliasMove",
    "ArtifactDraft",
    "ArtifactStore",
    "ArtifactVersion",
    "MAX_VERSION",
    "DeploymentLeaseLost",
    "check_artifact_name",
    "check_draft",
    "decode_version",
    "is_metric",
    "deployment_lease_lost",
    "missing_alias",
    "missing_artifact",
    "move_alias_checked",
    "open_artifact_store",
    "plan_move",
    "rollback_target",
]

#: What moved an alias.
ALIAS_ACTIONS = ("promote", "rollback")

#: Used with ``fullmatch``: ``re.match`` with ``$`` also takes a name ending in "\n".
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,199}")
#: The largest version number (the SQL column is a 32-bit integer): a larger one names no
#: version, and reached the database as an overflow (a 500, a 503 on PostgreSQL).
MAX_VERSION = 2**31 - 1
#: A content hash the registry wrote (hex SHA-256).
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_artifact_name(name: str, what: str = "artifact name") -> str:
    """``name`` if it is a valid artifact or alias name.

    Raises:
        ConfigError: it is empty, too long, or holds characters other than letters, digits,
            ``_``, ``.`` and ``-`` (``:`` and ``@`` separate versions and aliases).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid {what} {name!r}: use letters, digits, '_', '.' and '-' "
            "(starting with a letter or '_', at most 200 characters)"
        )
    return name


def is_metric(value: object) -> bool:
    """Whether ``value`` can be a version's metric: a finite number (not a bool). JSON has
    no NaN nor infinity: such a metric would be written as ``null`` and not read back."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def check_draft(draft: ArtifactDraft) -> None:
    """Refuse a draft that would be stored and not read back.

    Raises:
        ConfigError: an invalid name, or a metric that is not a finite number (JSON has no
            NaN nor infinity: it was written as ``null`` and every read of the name's
            versions failed).
    """
    check_artifact_name(draft.name)
    for key, value in draft.metrics.items():
        if not is_metric(value):
            raise ConfigError(
                f"artifact {draft.name!r}: metric {key!r} is {value!r}; metrics are finite "
                "numbers (leave out one that could not be computed, or record it in metadata)"
            )


class ArtifactDraft(msgspec.Struct, frozen=True, kw_only=True):
    """An artifact version to add (the store numbers it).

    Attributes:
        project: the project it belongs to.
        name: the artifact's name.
        kind: ``model`` or ``data`` (any short word).
        uri: where the bytes are (a blob store key).
        content_hash: the SHA-256 of the bytes.
        partitions: e.g. ``{"date": "2026-12-01"}`` for a data artifact.
        execution_id: the execution that produced it ("" if none).
        lineage: what it came from: ``dataset_hash``, ``code_version``, ``hyperparameters``
            (JSON), ``task``... (strings).
        metrics: the evaluation's metrics.
        metadata: anything else as strings (the model's format, its feature names...).
    """

    project: str
    name: str
    kind: str
    uri: str
    content_hash: str
    partitions: dict[str, str] = msgspec.field(default_factory=dict)
    execution_id: str = ""
    lineage: dict[str, str] = msgspec.field(default_factory=dict)
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class ArtifactVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A stored artifact version (a draft with its number and time).

    ``invalid_metrics``: metrics an older version stored that are not finite numbers (NaN,
    infinity, or ``null``, as which JSON wrote them), by name, as text (``"NaN"``,
    ``"inf"``, ``"null"``); set only by :func:`decode_version` on such a row (a version this
    one writes has it empty).
    """

    project: str
    name: str
    version: int
    kind: str
    uri: str
    content_hash: str
    created_at: float
    partitions: dict[str, str] = msgspec.field(default_factory=dict)
    execution_id: str = ""
    lineage: dict[str, str] = msgspec.field(default_factory=dict)
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    invalid_metrics: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def ref(self) -> str:
        """``name:version``."""
        return f"{self.name}:{self.version}"

    @classmethod
    def from_draft(cls, draft: ArtifactDraft, version: int, now: float) -> ArtifactVersion:
        """The version ``draft`` becomes as number ``version`` added at ``now``."""
        fields = msgspec.structs.asdict(draft)
        return cls(version=version, created_at=now, **fields)


_VERSION = LazyDecoder(ArtifactVersion)


def decode_version(record: str | bytes) -> ArtifactVersion:
    """A stored version's record, read even where an older version of Airfoil stored a
    metric that is not a finite number (before :func:`check_draft` refused them): such a
    metric is moved to ``invalid_metrics`` as text, so the version lists and shows.

    Raises:
        msgspec.DecodeError / msgspec.ValidationError: the record is damaged otherwise.
    """
    try:
        return _VERSION.decode(record)
    except (msgspec.DecodeError, msgspec.ValidationError):
        data = _with_metrics_as_text(record)
        if data is None:
            raise
        return msgspec.convert(data, ArtifactVersion)


def _with_metrics_as_text(record: str | bytes) -> dict[str, object] | None:
    """``record`` as a dict whose metrics that are not finite numbers are moved to
    ``invalid_metrics`` as text; None when it has none (it is damaged some other way)."""
    import json

    try:  # Python's json reads the NaN and Infinity that msgspec's refuses
        loaded: object = json.loads(record)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    data: dict[str, object] = loaded
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or all(is_metric(v) for v in metrics.values()):
        return None
    data["metrics"] = {k: v for k, v in metrics.items() if is_metric(v)}
    data["invalid_metrics"] = {k: _as_text(v) for k, v in metrics.items() if not is_metric(v)}
    return data


def _as_text(value: object) -> str:
    if value is None:
        return "null"  # how msgspec wrote NaN and infinity
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return str(value) if isinstance(value, float) else msgspec.json.encode(value).decode()


class AliasMove(msgspec.Struct, frozen=True, kw_only=True):
    """One move of an alias, in the name's audit trail.

    Attributes:
        project, name, alias: what moved.
        seq: its number in the name's trail (1, 2, 3...).
        action: ``promote`` or ``rollback``.
        from_version: where the alias pointed before (None: it was new).
        to_version: where it points now.
        at: when (seconds since the epoch).
        actor: who moved it ("" if unknown).
        reason: why, in the mover's words.
    """

    project: str
    name: str
    alias: str
    seq: int
    action: str
    to_version: int
    at: float
    from_version: int | None = None
    actor: str = ""
    reason: str = ""


def missing_artifact(project: str, name: str, version: int | None = None) -> NotFoundError:
    what = f"version {version} of " if version is not None else ""
    return NotFoundError(
        f"no {what}artifact {name!r} in project {project!r}: `airfoil models list` shows "
        "the registered ones"
    )


def missing_alias(project: str, name: str, alias: str) -> NotFoundError:
    if alias.lower() in ("latest", "newest"):
        # Promoting one (as the message said) made an alias that stays on that version
        # while new versions are registered: a stale "latest".
        return NotFoundError(
            f"artifact {name!r} in project {project!r} has no alias {alias!r}: the bare name "
            f"{name!r} names its newest version (and `airfoil serve {name}` follows it); an "
            f"alias stays on the version it was promoted to"
        )
    return NotFoundError(
        f"artifact {name!r} in project {project!r} has no alias {alias!r}: promote a version "
        f"first (`airfoil models promote {name}:VERSION {alias}`)"
    )


def rollback_target(project: str, name: str, alias: str, moves: list[AliasMove]) -> int:
    """The version a rollback of ``alias`` moves it to: where it pointed before its newest
    move that changed it (``moves`` is the alias's trail, oldest first; a promote to the
    version it already pointed at stays in the trail but is skipped).

    Raises:
        NotFoundError: the alias was never set.
        ConfigError: it has no earlier version to go back to.
    """
    if not moves:
        raise missing_alias(project, name, alias)
    current = moves[-1].to_version
    for move in reversed(moves):
        if move.from_version is None:
            break
        if move.from_version != current:
            return move.from_version
    raise ConfigError(
        f"alias {alias!r} of {name!r} has pointed only at version {current}: "
        "there is no earlier version to roll back to (promote one instead)"
    )


class ArtifactStore(abc.ABC):
    """Artifact versions, their aliases and the aliases' audit trail."""

    @abc.abstractmethod
    def add_version(self, draft: ArtifactDraft, now: float) -> tuple[ArtifactVersion, bool]:
        """Add a version numbered one past the newest (or return the existing version with
        the same content hash and partitions); ``(version, created)``.

        Raises:
            ConfigError: an invalid name.
        """

    @abc.abstractmethod
    def get_version(self, project: str, name: str, version: int | None = None) -> ArtifactVersion:
        """One version (the newest if ``version`` is None). Raises NotFoundError."""

    @abc.abstractmethod
    def list_versions(
        self, project: str, name: str, partitions: dict[str, str] | None = None
    ) -> list[ArtifactVersion]:
        """The versions of a name (those whose partitions include ``partitions``), newest
        first; empty if none."""

    @abc.abstractmethod
    def list_names(self, project: str, kind: str | None = None) -> list[ArtifactVersion]:
        """The newest version of every artifact of a project (of one kind), by name."""

    @abc.abstractmethod
    def move_alias(
        self,
        project: str,
        name: str,
        alias: str,
        version: int | None,
        now: float,
        *,
        action: str = "promote",
        actor: str = "",
        reason: str = "",
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (``rollback``: ``version`` None, back to where it
        pointed before its newest move) and append the move to the trail.

        Raises:
            NotFoundError: the version (or, for a rollback, the alias) does not exist.
            ConfigError: an invalid alias or action, or a rollback with nowhere to go.
        """

    @abc.abstractmethod
    def aliases(self, project: str, name: str) -> dict[str, int]:
        """Every alias of a name and the version it points at."""

    @abc.abstractmethod
    def alias_moves(self, project: str, name: str, alias: str | None = None) -> list[AliasMove]:
        """The audit trail of a name (of one alias if given), oldest first."""

    @abc.abstractmethod
    def put_deployment(
        self,
        deployment: Deployment,
        *,
        lease: DeploymentLease | None = None,
        spec_only: bool = False,
    ) -> None:
        """Insert or replace the deployment of ``(project, name)`` (a user's write).

        ``spec_only``: a user's deploy of a deployment that may be recorded: of a recorded
        one only the user's fields are replaced (see :func:`~airfoil.store.deployments.
        specified`), in one atomic write, so what its supervisor recorded meanwhile stays.

        ``lease``: a supervisor's pass writing what it did, fenced by the lease it claimed:
        written only if that lease is still the deployment's, under the same epoch (checked
        in the same atomic write, as an execution's batch is fenced by its driver's lease);
        it never inserts a record, and it replaces only the supervisor's fields (see
        :func:`~airfoil.store.deployments.supervised`) of the record as stored then, so a
        user's change made while the pass ran is kept.

        Raises:
            DeploymentLeaseLost: (a ``ConflictError``) ``lease`` was given and the
                deployment was claimed by another owner since (even if ``lease``'s owner
                claimed it back: a new epoch), or it is gone (stopped meanwhile); nothing
                was written.
        """

    @abc.abstractmethod
    def get_deployment(self, project: str, name: str) -> Deployment | None:
        """The deployment of a model name, or None."""

    @abc.abstractmethod
    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        """The deployments of a project (of every project if None), by project and name."""

    @abc.abstractmethod
    def delete_deployment(self, project: str, name: str) -> bool:
        """Remove a deployment's record; whether there was one. Its lease's epoch is kept
        for the name: deployed again, its first claim gets the next epoch (see
        :meth:`claim_deployment`)."""

    @abc.abstractmethod
    def claim_deployment(
        self, project: str, name: str, owner: str, now: float, ttl_s: float
    ) -> DeploymentLease | None:
        """Atomically take (or renew) the right to run a deployment's processes until
        ``now + ttl_s``: granted when nobody holds it, ``owner`` does, or the holder's
        lease ran out. None if another owner holds it (or there is no such deployment).

        The lease's epoch (its fencing token) goes up by one whenever the holder changes
        (the first grant of a name never deployed is 1) and stays while ``owner`` renews,
        even a lease that ran out if nobody claimed it meanwhile: a holder that lapsed, lost
        the deployment to another and claimed it back has a new epoch, so its earlier pass
        cannot write. Epochs never repeat for a name: a name stopped and deployed again goes
        on from the epoch it had, so a pass that began before the stop cannot write onto
        (or act for) the new deployment, even under the same holder."""

    def resolve(self, project: str, name: str, alias: str) -> ArtifactVersion:
        """The version an alias points at. Raises NotFoundError."""
        found = self.aliases(project, name).get(alias)
        if found is None:
            self.get_version(project, name)  # a name without versions is no such artifact
            raise missing_alias(project, name, alias)
        return self.get_version(project, name, found)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections (the default holds none)."""


class DeploymentLeaseLost(ConflictError):
    """A deployment's record or processes were to be changed under a lease its writer no
    longer holds."""


def deployment_lease_lost(project: str, name: str, owner: str) -> DeploymentLeaseLost:
    """The error for a deployment record written under a lease its writer no longer holds."""
    return DeploymentLeaseLost(
        f"lost the lease on deployment {project}/{name}: {owner} no longer holds it (another "
        "server claimed it while this one's pass ran past its lease, or it was stopped); "
        "nothing was written, and this supervisor leaves the deployment to its holder"
    )


def plan_move(
    project: str,
    name: str,
    alias: str,
    version: int | None,
    action: str,
    trail: list[AliasMove],
) -> int:
    """The version a move goes to, after checking its arguments (``trail``: the alias's
    moves so far, oldest first).

    Raises:
        ConfigError: an invalid alias or action, a promote without a version, or a rollback
            with nowhere to go.
        NotFoundError: a rollback of an alias never set.
    """
    check_artifact_name(alias, "alias")
    if action not in ALIAS_ACTIONS:
        raise ConfigError(f"unknown alias action {action!r}: one of {ALIAS_ACTIONS}")
    if version is not None:
        return version
    if action == "promote":
        raise ConfigError(f"promoting alias {alias!r} of {name!r} needs a version")
    return rollback_target(project, name, alias, trail)


def move_alias_checked(
    store: ArtifactStore, blobs: BlobStore, where: tuple[str, str, str], version: int | None,
    now: float, **how: str,
) -> AliasMove:  # fmt: skip
    """:meth:`ArtifactStore.move_alias` of ``where`` (``project, name, alias``), ``how``
    being its ``action`` (default ``promote``), ``actor`` and ``reason``, refused where the
    version it goes to has no bytes in ``blobs`` (deleted, or a blob store that lost them),
    or bytes that no longer match their hash: no service could load it, so the alias stays
    where it is. The local registry and the
    server both move aliases here.

    A rollback's target is read before the move and found again by the move itself; a
    concurrent move of the same alias in between can send it elsewhere unchecked.

    Raises:
        NotFoundError: the version (or, for a rollback, the alias) does not exist, or its
            bytes are gone from the blob store.
        CorruptVersionError: its bytes no longer match their hash.
        ConfigError: as :meth:`ArtifactStore.move_alias`.
    """
    project, name, alias = where
    action = how.setdefault("action", "promote")
    target = plan_move(*where, version, action, store.alias_moves(*where))
    found = store.get_version(project, name, target)
    verb = "rolled back" if action == "rollback" else "moved"
    if not blobs.exists(found.uri):
        other = "roll back further or promote" if action == "rollback" else "promote"
        raise NotFoundError(
            f"the bytes of {found.ref} ({found.uri}) are gone from the blob store, "
            f"so no service could load it: {alias!r} was not {verb}. {other.capitalize()} "
            "another version, or register the model again (train it, or publish the same "
            "bytes)"
        )
    if not _matches(blobs, found.uri, found.content_hash):
        raise CorruptVersionError(
            f"the bytes of {found.ref} ({found.uri}) no longer match the hash they were "
            f"published with (damaged or changed since), so no service could load it: "
            f"{alias!r} was not {verb}. Publish the same bytes again or retrain the model "
            "(a new version), and promote that"
        )
    return store.move_alias(*where, version, now, **how)


def _matches(blobs: BlobStore, uri: str, content_hash: str) -> bool:
    """Whether the blob at ``uri`` hashes (SHA-256, read in pieces) to ``content_hash``;
    True for a hash that is no SHA-256 (not one the registry wrote)."""
    import hashlib

    if not _SHA256.fullmatch(content_hash):
        return True
    digest = hashlib.sha256()
    with blobs.open_read(uri) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == content_hash


def open_artifact_store(database_url: str | None, home: str) -> ArtifactStore:
    """The artifact store on the metadata store's database: memory for ``memory://``, else
    the SQL one (the embedded default: SQLite at ``{home}/airfoil.db``).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    import os

    if database_url == "memory://":
        from airfoil.store.memory_artifacts import MemoryArtifactStore

        return MemoryArtifactStore()
    from airfoil.store.sql._connect import sqlite_path

    if database_url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        database_url = "sqlite:///" + path
    plain = sqlite_path(database_url)
    if plain is not None:  # read without SQLAlchemy until something writes
        from airfoil.store.sql._sqlite_artifacts import SqliteArtifactStore

        return SqliteArtifactStore(database_url, plain)
    from airfoil.store.sql._artifacts import SqlArtifactStore

    return SqlArtifactStore(database_url)
