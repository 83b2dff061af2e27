"""``flytekit.deck``: ``Deck`` and the renderers flytekit itself ships (``TopFrameRenderer``,
``MarkdownRenderer``, ``SourceCodeRenderer``). A renderer turns a value into HTML for a deck;
an ``Annotated[pd.DataFrame, TopFrameRenderer(n)]`` output annotation is the frame type (the
renderer is recorded, not needed: the console shows outputs itself)."""

from __future__ import annotations

import html
from typing import Any

from airfoil.compat.flytekit._context import Deck

__all__ = ["Deck", "MarkdownRenderer", "SourceCodeRenderer", "TopFrameRenderer"]


class TopFrameRenderer:
    """The first ``max_rows`` rows (and ``max_cols`` columns) of a pandas frame as an HTML
    table."""

    def __init__(self, max_rows: int = 10, max_cols: int = 100) -> None:
        self._max_rows = max_rows
        self._max_cols = max_cols

    def to_html(self, df: Any) -> str:
        text: str = df.to_html(max_rows=self._max_rows, max_cols=self._max_cols)
        return text


class MarkdownRenderer:
    """Markdown text as HTML (with ``markdown-it-py`` when it is installed, else the text
    escaped in a ``<pre>``)."""

    def to_html(self, text: str) -> str:
        try:
            from markdown_it import MarkdownIt
        except ImportError:
            return f"<pre>{html.escape(text)}</pre>"
        rendered: str = MarkdownIt().render(text)
        return rendered


class SourceCodeRenderer:
    """Python source as HTML (highlighted with ``pygments`` when it is installed)."""

    def __init__(self, title: str = "Source Code") -> None:
        self._title = title

    def to_html(self, source_code: str) -> str:
        try:
            from pygments import highlight  # type: ignore[import-untyped]
            from pygments.formatters.html import (  # type: ignore[import-untyped]
                HtmlFormatter,
            )
            from pygments.lexers.python import PythonLexer  # type: ignore[import-untyped]
        except ImportError:
            return f"<h2>{html.escape(self._title)}</h2><pre>{html.escape(source_code)}</pre>"
        body: str = highlight(source_code, PythonLexer(), HtmlFormatter(style="colorful"))
        return f"<h2>{html.escape(self._title)}</h2>{body}"
