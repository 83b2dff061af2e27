"""The CLI's consoles show the control characters of the text they print, escaped, and keep
their own styles (what a terminal is sent for ``("failed", "red")`` is unchanged)."""

from __future__ import annotations

import io

import pytest
from rich.text import Text

from airfoil.cli._common import _ShowingConsole, say

pytestmark = pytest.mark.unit


def _terminal() -> _ShowingConsole:
    return _ShowingConsole(file=io.StringIO(), force_terminal=True, color_system="standard")


def test_styles_are_sent_and_the_texts_escapes_are_shown() -> None:
    console = _terminal()
    say(console, ("failed", "red"), " ", "x\x1b[2Ky\x9b1A\u202ez\x00")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out == "\x1b[31mfailed\x1b[0m x\\u001b[2Ky\\u009b1A\\u202ez\\u0000\n"


def test_tabs_newlines_and_plain_unicode_are_kept() -> None:
    console = _terminal()
    console.print(Text("a\tb\nc é 日本 \u05d0"), soft_wrap=True)
    assert console.file.getvalue() == "a       b\nc é 日本 \u05d0\n"  # type: ignore[attr-defined]


def test_directional_marks_of_right_to_left_text_are_kept() -> None:
    """A mark (LRM, RLM, ALM) reorders nothing after it and is written in right-to-left text
    on purpose; the overrides and isolates that do reorder are escaped."""
    console = _terminal()
    console.print(Text("\u05d0\u200f1\u200e \u0627\u061c \u2067x\u2069"), soft_wrap=True)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out == "\u05d0\u200f1\u200e \u0627\u061c \\u2067x\\u2069\n"


def test_json_stays_json() -> None:
    import json

    console = _terminal()
    console.print(Text(json.dumps({"k": "\x9b\u202e"}, ensure_ascii=False)), soft_wrap=True)
    assert json.loads(console.file.getvalue()) == {"k": "\x9b\u202e"}  # type: ignore[attr-defined]
