"""The model registry: trained models as artifact versions (bytes in the blob store, the
record with lineage in the artifact store), resolved by ``name``, ``name:VERSION`` or
``name@ALIAS``, and loaded back into model objects.

Invariants: a model's bytes are stored under their content hash before its version is
added, so a registered version's bytes always exist; registering the same bytes of the same
model again is the same version.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import ConfigError
from airfoil.ml._persist import load_model
from airfoil.store.artifacts import (
    MAX_VERSION,
    AliasMove,
    ArtifactDraft,
    ArtifactStore,
    ArtifactVersion,
    check_artifact_name,
    move_alias_checked,
)

if TYPE_CHECKING:
    from airfoil.ml._model import Model
    from airfoil.settings import AirfoilSettings

__all__ = [
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "TrainedModel",
    "local_registry",
    "parse_ref",
]

_REF = re.compile(r"^(?P<name>[^:@]+)(?::(?P<version>[0-9]+)|@(?P<alias>[^:@]+))?$")


@dataclass(frozen=True)
class ModelRef:
    """``name``, ``name:VERSION`` or ``name@ALIAS``."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def parse_ref(text: str) -> ModelRef:
    """The reference ``text`` names.

    Raises:
        ConfigError: it is not ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``.
    """
    match = _REF.match(text.strip())
    if match is None:
        raise ConfigError(
            f"invalid model reference {text!r}: use NAME, NAME:VERSION (a number) or NAME@ALIAS"
        )
    name = check_artifact_name(match["name"], "model name")
    version = int(match["version"]) if match["version"] else None
    if version is not None and version > MAX_VERSION:
        raise ConfigError(
            f"there is no version {version} of {name}: versions are numbers from 1 to "
            f"{MAX_VERSION} (`airfoil models show {name}` lists them)"
        )
    alias = check_artifact_name(match["alias"], "alias") if match["alias"] else None
    return ModelRef(name, version, alias)


def name_only(text: str, takes: str, instead: Callable[[str], str]) -> str:
    """The model name ``text`` gives, where a command takes a name and not a reference
    (a rollback moves an alias *of a name*; a deployment is named by its model).

    Args:
        takes: what the command takes, said first ("a rollback takes the model's name").
        instead: the command to use, given the name.

    Raises:
        ConfigError: ``text`` is a reference (``m:3``, ``m@production``): a rollback given one
            said "'m:3' has no alias" and suggested ``promote m:3:VERSION``, and ``deploy
            stop digits@production`` asked the server for a deployment of that name.
    """
    ref = parse_ref(text)
    if ref.version is not None or ref.alias is not None:
        raise ConfigError(f"{takes}, not the reference {text!r}: {instead(ref.name)}")
    return ref.name


def rollback_name(text: str, alias: str) -> str:
    """The model name a rollback of ``alias`` was given as ``text`` (:func:`name_only`)."""
    return name_only(
        text,
        "a rollback takes the model's name",
        lambda name: (
            f"`airfoil models rollback {name} {alias}` moves {alias!r} back to where it "
            f"pointed before; `airfoil models promote {name}:VERSION {alias}` points it at a "
            "version"
        ),
    )


@dataclass(frozen=True)
class TrainedModel:
    """The result of training or tuning.

    Attributes:
        obj: the trained model object.
        artifact: its registered version (None if not registered).
        metrics: the evaluator's metrics.
        hyperparameters: what it was built with.
        execution_id: the training execution.
        trials: for tuning, every trial's ``(hyperparameters, metrics)``.
    """

    obj: Any
    artifact: ArtifactVersion | None
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    execution_id: str
    trials: list[tuple[dict[str, Any], dict[str, float]]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``name:version`` of the registered model ("" if not registered)."""
        return self.artifact.ref if self.artifact else ""


@dataclass(frozen=True)
class LoadedModel:
    """A registered version loaded into a model object."""

    artifact: ArtifactVersion
    obj: Any

    def feature_stats(self) -> dict[str, tuple[float, float, float]]:
        raw = json.loads(self.artifact.metadata.get("feature_stats", "{}"))
        return {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in raw.items()}

    def features(self) -> list[str]:
        return list(json.loads(self.artifact.metadata.get("features", "[]")))


class ModelRegistry:
    """Registered models of one project.

    Args:
        artifacts: the artifact store.
        blobs: where the model bytes are.
        project: the project the models belong to.
    """

    def __init__(
        self, artifacts: ArtifactStore, blobs: BlobStore, project: str = "default"
    ) -> None:
        self.artifacts = artifacts
        self.blobs = blobs
        self.project = project

    def register(
        self,
        model_name: str,
        data: bytes,
        *,
        fmt: str,
        execution_id: str,
        lineage: dict[str, str],
        metrics: dict[str, float],
        metadata: dict[str, str],
    ) -> ArtifactVersion:
        """Store a trained model's bytes and add (or find) its version."""
        digest = hashlib.sha256(data).hexdigest()
        uri = self.blobs.put_bytes(f"artifacts/{self.project}/{model_name}/{digest}", data)
        draft = ArtifactDraft(
            project=self.project,
            name=model_name,
            kind="model",
            uri=uri,
            content_hash=digest,
            execution_id=execution_id,
            lineage=lineage,
            metrics=metrics,
            metadata={**metadata, "format": fmt},
        )
        version, _ = self.artifacts.add_version(draft, time.time())
        return version

    def publish(
        self,
        name: str,
        data: bytes,
        *,
        kind: str = "data",
        partitions: dict[str, str] | None = None,
        execution_id: str = "",
        lineage: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ArtifactVersion:
        """Publish any bytes (a task's output) as a named artifact version with partitions."""
        digest = hashlib.sha256(data).hexdigest()
        uri = self.blobs.put_bytes(f"artifacts/{self.project}/{name}/{digest}", data)
        draft = ArtifactDraft(
            project=self.project,
            name=name,
            kind=kind,
            uri=uri,
            content_hash=digest,
            partitions=dict(partitions or {}),
            execution_id=execution_id,
            lineage=dict(lineage or {}),
            metadata=dict(metadata or {}),
        )
        return self.artifacts.add_version(draft, time.time())[0]

    def resolve(self, ref: str | ModelRef) -> ArtifactVersion:
        """The version a reference names. Raises NotFoundError, ConfigError."""
        found = parse_ref(ref) if isinstance(ref, str) else ref
        if found.alias is not None:
            return self.artifacts.resolve(self.project, found.name, found.alias)
        return self.artifacts.get_version(self.project, found.name, found.version)

    def read_bytes(self, version: ArtifactVersion) -> bytes:
        """The stored bytes of a version (checked against its hash).

        Raises:
            CorruptBlobError: they no longer match.
        """
        from airfoil.core.errors import CorruptBlobError, NotFoundError

        try:
            data = self.blobs.get_bytes(version.uri)
        except NotFoundError:
            raise NotFoundError(
                f"the bytes of {version.ref} ({version.uri}) are gone from the blob store: "
                "serve or promote another version, or register the model again (train it, "
                "or publish the same bytes)"
            ) from None
        if hashlib.sha256(data).hexdigest() != version.content_hash:
            raise CorruptBlobError(f"the bytes of {version.ref} no longer match their hash")
        return data

    def load(
        self, model: Model, ref: str | ModelRef | ArtifactVersion, *, data: bytes | None = None
    ) -> LoadedModel:
        """A registered version of ``model`` loaded into its model object.

        Args:
            model: the model definition (its loader, or init for a state dict).
            ref: the version, or a reference to resolve.
            data: the version's bytes if they were read already (:meth:`read_bytes`).
        """
        version = ref if isinstance(ref, ArtifactVersion) else self.resolve(ref)
        hyperparameters = json.loads(version.lineage.get("hyperparameters", "{}"))
        obj = load_model(
            self.read_bytes(version) if data is None else data,
            version.metadata.get("format", "pickle"),
            loader=model.loader_fn,
            build=lambda: model.build(hyperparameters),
        )
        return LoadedModel(version, obj)

    def promote(self, ref: str, alias: str, *, actor: str = "", reason: str = "") -> AliasMove:
        """Point ``alias`` at the version ``ref`` names (``NAME:VERSION`` or ``NAME@OTHER``).

        Raises:
            NotFoundError: no such version, or its bytes are gone from the blob store (a
                service could not load it: the alias is not moved).
        """
        version = self.resolve(ref)
        where = (self.project, version.name, alias)
        return move_alias_checked(
            self.artifacts, self.blobs, where, version.version, time.time(), actor=actor,
            reason=reason,
        )  # fmt: skip

    def rollback(self, name: str, alias: str, *, actor: str = "", reason: str = "") -> AliasMove:
        """Move ``alias`` back to where it pointed before its newest move.

        Raises:
            NotFoundError: the alias was never set, or the bytes of the version it would go
                back to are gone from the blob store (the alias is not moved).
        """
        where = (self.project, rollback_name(name, alias), alias)
        return move_alias_checked(
            self.artifacts, self.blobs, where, None, time.time(), action="rollback", actor=actor,
            reason=reason,
        )  # fmt: skip


def local_registry(settings: AirfoilSettings | None = None) -> ModelRegistry:
    """The registry of the local runtime of ``settings`` (default: the environment's): the
    artifact store on its database, the bytes in its blob store."""
    from airfoil.settings import AirfoilSettings
    from airfoil.store.artifacts import open_artifact_store
    from airfoil.store.blob import open_blob_store

    settings = settings or AirfoilSettings()
    blob_url = settings.resolved_blob_url()
    key = (settings.database_url, settings.home, blob_url, settings.project)
    with _LOCK:
        cached = _OPEN.get(key)
        if cached is None:
            artifacts = open_artifact_store(settings.database_url, settings.home)
            blobs = open_blob_store(blob_url, settings.durability)
            cached = _OPEN[key] = ModelRegistry(artifacts, blobs, settings.project)
        return cached


_LOCK = threading.Lock()
_OPEN: dict[tuple[str | None, str, str, str], ModelRegistry] = {}
