"""``flytekit.models.documentation``: a task's or workflow's ``docs=Documentation(...)``, kept
as its text (``str(docs)``: the short description, then the long one)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Description", "Documentation", "SourceCode"]


@dataclass(frozen=True)
class Description:
    class DescriptionFormat(enum.Enum):
        UNKNOWN = 0
        MARKDOWN = 1
        HTML = 2
        RST = 3

    value: str | None = None
    uri: str | None = None
    icon_link: str | None = None
    format: DescriptionFormat = DescriptionFormat.RST


@dataclass(frozen=True)
class SourceCode:
    link: str | None = None


@dataclass(frozen=True)
class Documentation:
    short_description: str | None = None
    long_description: Description | None = None
    source_code: SourceCode | None = None

    def __str__(self) -> str:
        long = self.long_description.value if self.long_description else None
        return "\n\n".join(part for part in (self.short_description, long) if part)
