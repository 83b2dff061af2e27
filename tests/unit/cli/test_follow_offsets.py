"""``airfoil logs -f`` prints each line of a growing log once, whatever it reads meanwhile.

A follower reads an attempt's log again and again: the live copy while it runs, the whole
log once it has ended. Between the two it can read nothing or a log still being written
(the worker appends the whole log, then removes the copy; the server answers an empty text
for a log it finds in neither place): such a read is shorter than what was printed, and must
neither reprint nor move back. (Before, the offset went back to the short read's length and
the next read printed the log again from there: ``tick 0`` ... twice.)"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest

from airfoil.cli import _common
from airfoil.cli._logs import _Shown

pytestmark = pytest.mark.unit


@pytest.fixture
def printed() -> Iterator[io.StringIO]:
    out = io.StringIO()
    _common.out_console.file = out
    try:
        yield out
    finally:
        # Back to no file of its own, as it was made: it writes to whatever ``sys.stdout`` is at
        # each print. (Reading ``.file`` gives the ``sys.stdout`` of now, pytest's capture of
        # this test: set back, it pinned the console there, and a later test's CliRunner read
        # its command's output as empty.)
        _common.out_console.file = None  # type: ignore[assignment]


def _log(*ticks: int) -> str:
    return "".join(f"2026-01-01T00:00:0{i}.000Z OUT tick {i}\n" for i in ticks)


def test_a_shorter_read_between_the_live_copy_and_the_whole_log_prints_nothing_twice(
    printed: io.StringIO,
) -> None:
    shown = _Shown(level=None)
    shown.show("n0", 1, "running", _log(0, 1))  # the live copy
    shown.show("n0", 1, "running", "")  # neither found (or the whole log just created)
    shown.show("n0", 1, "running", _log(0))  # the whole log half written
    shown.show("n0", 1, "succeeded", _log(0, 1, 2))  # the whole log
    body = printed.getvalue().split("\n", 1)[1]
    assert body == _log(0, 1, 2)
    assert printed.getvalue().startswith("== n0 attempt 1 (running)")


def test_a_level_filter_sees_each_line_once_too(printed: io.StringIO) -> None:
    shown = _Shown(level="WARNING")
    careful = "2026-01-01T00:00:05.000Z WARNING ticker: careful\n"
    done = "2026-01-01T00:00:09.000Z WARNING ticker: done\n"
    shown.show("n0", 1, "running", _log(0) + careful + _log(1))
    shown.show("n0", 1, "running", "")
    shown.show("n0", 1, "succeeded", _log(0) + careful + _log(1) + done)
    assert printed.getvalue().split("\n", 1)[1] == careful + done


def test_attempts_keep_their_own_offsets(printed: io.StringIO) -> None:
    shown = _Shown(level=None)
    shown.show("n0", 1, "failed", _log(0, 1))
    shown.show("n0", 2, "running", _log(0))  # a new attempt's log starts short: printed
    assert printed.getvalue().count("tick 0") == 2
    assert "== n0 attempt 2 (running)" in printed.getvalue()


def test_the_console_writes_to_the_stdout_of_now_after_these_tests() -> None:
    """Run after the tests above (file order): their capture is undone, so ``airfoil`` commands
    run in this process later (typer's CliRunner swaps ``sys.stdout``) print where they should."""
    swapped = io.StringIO()
    with contextlib.redirect_stdout(swapped):
        _common.plain(_common.out_console, "shown")
    assert swapped.getvalue() == "shown\n"
