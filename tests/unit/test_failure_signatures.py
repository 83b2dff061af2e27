"""Failure signatures: what varies between runs is normalised away, what tells failures
apart is kept (issue 15)."""

from __future__ import annotations

import pytest

from airfoil.core.failures import normalise_message, signature_of, top_user_frame

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ("row 17 of /tmp/a.csv failed", "row <n> of <path> failed"),
        ("took 3.5e-3 s, limit -2", "took <n> s, limit <n>"),
        ("object at 0x7f3a2b00 is gone", "object at <hex> is gone"),
        ("run f0mx8fadmdxxdydcb3 lost", "run <id> lost"),
        ("key 123e4567-e89b-12d3-a456-426614174000 missing", "key <id> missing"),
        ("digest deadbeef00 wrong", "digest <hex> wrong"),
        ("read ./data/x.parquet", "read <path>"),
        ("KeyError 'col_a'", "KeyError 'col_a'"),  # names stay: another column, another failure
        ("first line\nsecond line 2", "first line"),
        ("", ""),
    ],
)
def test_messages_are_normalised(message: str, pattern: str) -> None:
    assert normalise_message(message) == pattern


def test_the_top_user_frame_skips_libraries_and_the_platform() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/proj/flow.py", line 40, in train\n'
        "    fit(x)\n"
        '  File "/home/me/proj/helpers.py", line 9, in fit\n'
        "    pd.read_csv(p)\n"
        '  File "/venv/lib/python3.11/site-packages/pandas/io.py", line 3, in read_csv\n'
        '  File "/usr/lib/python3.11/json/decoder.py", line 3, in decode\n'
        "ValueError: x\n"
    )
    assert top_user_frame(tb) == "helpers.py:fit"
    assert top_user_frame("no traceback") == ""


def test_each_part_changes_the_signature() -> None:
    base = signature_of("ValueError", "row <n> bad", "flow.py:load")
    assert len(base) == 16 and base == signature_of("ValueError", "row <n> bad", "flow.py:load")
    assert base != signature_of("KeyError", "row <n> bad", "flow.py:load")
    assert base != signature_of("ValueError", "col <n> bad", "flow.py:load")
    assert base != signature_of("ValueError", "row <n> bad", "flow.py:save")
