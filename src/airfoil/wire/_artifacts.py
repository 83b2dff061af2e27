"""The artifact registry's API models: versions with lineage, aliases and their trail."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AliasMoveIn",
    "AliasMoveOut",
    "ArtifactDetail",
    "ArtifactList",
    "ArtifactPublished",
    "ArtifactVersionIn",
    "ArtifactVersionOut",
]


class ArtifactVersionOut(BaseModel):
    """One artifact version (``name:version``) and what it came from."""

    model_config = ConfigDict(extra="ignore")

    name: str
    version: int
    kind: str
    uri: str
    content_hash: str
    created_at: float
    partitions: dict[str, str] = {}
    execution_id: str = ""
    lineage: dict[str, str] = {}
    metrics: dict[str, float] = {}
    #: metrics an older version stored that are not finite numbers, as text (``"NaN"``,
    #: ``"inf"``, ``"null"``): shown, flagged, never compared as numbers
    invalid_metrics: dict[str, str] = {}
    metadata: dict[str, str] = {}
    aliases: list[str] = []
    #: the name of the run it came from (``execution_id``) in the project: what routes and
    #: ``airfoil`` commands take
    execution_name: str = ""
    #: that run's domain, within which its name is unique (``?domain=``)
    execution_domain: str = ""


class AliasMoveOut(BaseModel):
    """One move of an alias in the audit trail."""

    model_config = ConfigDict(extra="ignore")

    name: str
    alias: str
    seq: int
    action: str
    from_version: int | None = None
    to_version: int
    at: float
    actor: str = ""
    reason: str = ""


class ArtifactList(BaseModel):
    """The newest version of every artifact of a project."""

    items: list[ArtifactVersionOut]


class ArtifactDetail(BaseModel):
    """An artifact's versions (newest first), aliases and the aliases' trail (oldest first)."""

    name: str
    aliases: dict[str, int]
    versions: list[ArtifactVersionOut]
    moves: list[AliasMoveOut]


class AliasMoveIn(BaseModel):
    """Move an alias: ``promote`` to ``version``, or ``rollback`` to where it pointed before."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1, max_length=200)
    action: Literal["promote", "rollback"] = "promote"
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    reason: str = Field(default="", max_length=2000)


class ArtifactVersionIn(BaseModel):
    """Add a version of an artifact whose bytes were uploaded first
    (``PUT /projects/{project}/uploads/{sha256}``): the same bytes of the same artifact are
    the same version. ``execution_id``, if given, must be an execution of the project that
    succeeded (the version's lineage names it): its id, or its name (in ``execution_domain``
    for a name the project uses in several domains)."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: str = Field(default="data", min_length=1, max_length=40)
    partitions: dict[str, str] = {}
    execution_id: str = Field(default="", max_length=200)
    execution_domain: str = Field(default="", max_length=50)
    lineage: dict[str, str] = {}
    metrics: dict[str, float] = {}
    metadata: dict[str, str] = {}


class ArtifactPublished(BaseModel):
    """The version added (or found: ``created`` false when the bytes were registered)."""

    version: ArtifactVersionOut
    created: bool
