"""The CLI's tables: Rich's :class:`~rich.table.Table`, whose text cells are shown as they
are. A cell holds names users chose (tasks, workflows, runs, labels, projects, scopes), and a
name such as ``t[/]`` or ``[link=https://...]x`` was parsed as markup: printed changed, or as
a link a terminal would follow. A cell that wants a style passes a :class:`~rich.text.Text`.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table as _RichTable
from rich.text import Text

__all__ = ["Table"]


class Table(_RichTable):
    """A table whose ``str`` cells are plain text (never markup)."""

    def add_row(self, *renderables: Any, style: Any = None, end_section: bool = False) -> None:
        cells = [Text(r) if isinstance(r, str) else r for r in renderables]
        super().add_row(*cells, style=style, end_section=end_section)
