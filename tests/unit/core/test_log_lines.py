"""The log line format: entries read back with their level, time and text, exactly."""

from __future__ import annotations

import pytest

from airfoil.core.log_lines import entries, entry_line, filter_level, printed, without_traceback

pytestmark = pytest.mark.unit


def test_an_entry_reads_back_with_its_text_and_its_own_leading_spaces() -> None:
    log = "\n".join(
        [
            entry_line(0.0, "OUT", "    indented by the task"),
            entry_line(1.5, "WARNING", "careful"),
            entry_line(2.0, "ERROR", "Traceback (most recent call last):"),
            '  File "t.py", line 1',
            entry_line(3.0, "CRITICAL", " one space"),
        ]
    )
    got = [(e.level, e.text) for e in entries(log)]
    assert got == [
        ("OUT", "    indented by the task"),
        ("WARNING", "careful"),
        ("ERROR", 'Traceback (most recent call last):\n  File "t.py", line 1'),
        ("CRITICAL", " one space"),
    ]
    assert [e.at for e in entries(log)][1] == "1970-01-01T00:00:01.500Z"


def test_lines_without_a_head_are_printed_output() -> None:
    assert [(e.level, e.text) for e in entries("plain\n  old log")] == [("OUT", "plain\n  old log")]


def test_filtering_by_level_keeps_whole_entries() -> None:
    log = "\n".join([entry_line(0.0, "OUT", "x"), entry_line(0.0, "ERROR", "boom"), "  more"])
    kept = filter_level(log, "WARNING")
    assert "x" not in kept.split() and "boom" in kept and "  more" in kept


def test_printed_keeps_what_was_printed_and_drops_records_and_the_traceback() -> None:
    trace = 'Traceback (most recent call last):\n  File "t.py", line 1\nValueError: no\n'
    log = (
        "\n".join(
            [
                entry_line(0.0, "OUT", "  step 1"),
                entry_line(0.1, "WARNING", "a logger's record"),
                entry_line(0.2, "ERR", "to stderr"),
                entry_line(0.3, "ERROR", trace.rstrip("\n")),
            ]
        )
        + "\n"
    )
    assert printed(log) == "  step 1\nto stderr\n"
    cut = without_traceback(log, trace)
    assert "Traceback" not in cut and cut.endswith("to stderr\n")
    assert without_traceback("old format\n" + trace, trace) == "old format\n"
    assert without_traceback(log, "Traceback: another one\n") == log  # not its traceback
