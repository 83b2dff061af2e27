"""The API models of named cache scopes and their members (``/cache-scopes``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from airfoil.core.projects import PROJECT_NAME

__all__ = [
    "SCOPE_NAME",
    "CacheScopeIn",
    "CacheScopeList",
    "CacheScopeMemberIn",
    "CacheScopeOut",
    "MEMBER",
]

#: A scope's name: what a task's ``cache_scope=`` takes.
SCOPE_NAME = r"^[A-Za-z0-9._\-]{1,100}$"
#: A member: a project's name, or ``*`` for every project.
MEMBER = r"^(\*|" + PROJECT_NAME.strip("^$") + r")$"


class CacheScopeIn(BaseModel):
    """Declare a cache scope (with no members)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SCOPE_NAME)
    description: str = Field(default="", max_length=2000)


class CacheScopeMemberIn(BaseModel):
    """Grant a project (or ``*``) access to a scope: ``read`` (hits only) or ``write``."""

    model_config = ConfigDict(extra="forbid")

    access: Literal["read", "write"] = "write"


class CacheScopeOut(BaseModel):
    """A declared scope. ``members``: project (or ``*``) -> ``read`` or ``write``; a
    project's own listing (``/projects/{p}/cache-scopes``) shows only that project's access
    (its own row and ``*``'s), never the other members."""

    model_config = ConfigDict(extra="ignore")

    name: str
    description: str = ""
    created_at: float = 0.0
    members: dict[str, str] = {}


class CacheScopeList(BaseModel):
    """Scopes, by name."""

    model_config = ConfigDict(extra="ignore")

    scopes: list[CacheScopeOut]
