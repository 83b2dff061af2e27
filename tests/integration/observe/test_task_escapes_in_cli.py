"""What a task writes cannot drive the user's terminal through the CLI.

A task's log lines, its error message and the names a user gives are printed by ``airfoil
run``, ``logs`` and ``executions show``. Rich drops a few control characters (BEL, ``\\r``,
backspace) but passes ESC on: a log line holding ``ESC[2K`` erased the line before it, an
OSC sequence set the window's title (or, in some terminals, the clipboard), ``ESC[1A``
moved up to forge a line already printed, and a bidi override (U+202E) showed text reversed.
Every such character is now shown escaped (``\\u001b``, ``\\u202e``); the CLI's own colours
are untouched (tests/unit/cli/test_showing_console.py)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app

pytestmark = pytest.mark.integration

EVIL = "\x1b]0;pwned\x1b\\\x1b[1A\x1b[2KFORGED\x9b2J\u202eevil\x00"

FLOWS = f"""
import airfoil as af

EVIL = {EVIL!r}


@af.task(retries=0)
def shout(x: int) -> int:
    print("before " + EVIL + " after")
    raise ValueError("bad " + EVIL)


@af.workflow
def loud(x: int = 1) -> int:
    return shout(x=x)
"""

# what no line printed may hold: C0 controls but tab and newline, DEL, C1, bidi controls
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_a_tasks_escapes_are_shown_not_obeyed(tmp_path: Path) -> None:
    path = tmp_path / "code" / "loud_flows.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(FLOWS))
    code, ran = _invoke("run", "--name", "loud-1", str(path), "loud")
    assert code == 1, ran
    assert "FORGED" in ran and "bad " in ran
    shown = [ran]
    for args in (("logs", "loud-1"), ("executions", "show", "loud-1")):
        code, out = _invoke(*args)
        assert code in (0, 1), out
        shown.append(out)
    assert "FORGED" in shown[1] and "bad " in shown[2]
    for out in shown:
        assert not _UNSAFE.findall(out), out
    assert "\\u001b]0;pwned" in shown[1] and "\\u202eevil" in shown[1]
