"""What ``current_context().report`` is: a report a task builds while it runs, from markdown,
tables, figures and raw HTML, written with its attempt as one HTML document (see
:mod:`airfoil.core.reports`).

Each call renders its part at once (a bad argument fails where it is passed, with a clear
error), so writing the report when the attempt ends is only joining strings. A figure
becomes a PNG embedded in the page (matplotlib) or the figure's own HTML (plotly, its
script included, so the page works offline); tables are HTML tables of at most ``max_rows``
rows with the total shown.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

from airfoil.core.errors import InvalidInputError

__all__ = ["Report"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d2330}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #ccd;padding:.2em .5em;text-align:right}"
    "th{background:#eef}img{max-width:100%}.af-note{color:#667;font-size:.9em}"
)


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark").enable("table").render(text))


def _frame(data: object) -> Any:
    """``data`` as a pandas DataFrame (pandas, polars, pyarrow tables; lists of dicts)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    to_pandas = getattr(data, "to_pandas", None)  # pyarrow.Table, polars.DataFrame
    if callable(to_pandas):
        return to_pandas()
    if isinstance(data, list | dict):
        return pd.DataFrame(data)
    raise InvalidInputError(
        f"report.table: {type(data).__name__} is not a table; pass a pandas, polars or "
        "pyarrow table, a list of dicts or a dict of columns"
    )


class Report:
    """The parts of one attempt's report, in the order they were added.

    Args:
        title: the page's title (default: the task's name).
    """

    def __init__(self, title: str = "", *, redact: Callable[[str], str] | None = None) -> None:
        self.title = title
        self.parts: list[str] = []
        #: applied to the text of every part before it is rendered (a task's secrets)
        self._redact: Callable[[str], str] = redact or (lambda text: text)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def markdown(self, text: str) -> Report:
        """Add ``text`` rendered as markdown (CommonMark with tables)."""
        if not isinstance(text, str):
            raise InvalidInputError(f"report.markdown takes a str, not {type(text).__name__}")
        self.parts.append(_markdown(self._redact(text)))
        return self

    def html(self, raw: str) -> Report:
        """Add raw HTML (shown in a sandboxed frame in the console)."""
        if not isinstance(raw, str):
            raise InvalidInputError(f"report.html takes a str, not {type(raw).__name__}")
        self.parts.append(self._redact(raw))
        return self

    def table(self, data: object, *, title: str = "", max_rows: int = 1000) -> Report:
        """Add a table: its first ``max_rows`` rows, with the total count if cut."""
        frame = _frame(data)
        out = [f"<h3>{html.escape(self._redact(title))}</h3>"] if title else []
        out.append(self._redact(str(frame.head(max_rows).to_html(border=0))))
        if len(frame) > max_rows:
            out.append(f'<p class="af-note">first {max_rows} of {len(frame)} rows</p>')
        self.parts.append("".join(out))
        return self

    def figure(self, fig: object, *, title: str = "") -> Report:
        """Add a matplotlib figure (as a PNG) or a plotly figure (as its HTML)."""
        title = self._redact(title)
        head = f"<h3>{html.escape(title)}</h3>" if title else ""
        if callable(getattr(fig, "savefig", None)):  # matplotlib Figure
            buf = io.BytesIO()
            fig.savefig(buf, format="png", bbox_inches="tight")  # type: ignore[attr-defined]
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            self.parts.append(
                f'{head}<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
            )
        elif callable(getattr(fig, "to_html", None)) and hasattr(fig, "layout"):  # plotly
            body = fig.to_html(full_html=False, include_plotlyjs=True)  # type: ignore[attr-defined]
            self.parts.append(head + str(body))
        else:
            raise InvalidInputError(
                f"report.figure: {type(fig).__name__} is not a figure; pass a matplotlib "
                "Figure (plt.gcf()) or a plotly Figure"
            )
        return self

    def render(self) -> str:
        """The whole report as one HTML document."""
        title = html.escape(self.title or "report")
        return (
            f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>" + "\n".join(self.parts) + "</body></html>"
        )
