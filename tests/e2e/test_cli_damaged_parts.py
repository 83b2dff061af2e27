"""A damaged part of a run (a record that no longer decodes, a blob changed by hand) must not
hide the rest of what a CLI command shows: the readable part is shown and the damage named
in the ``unreadable:`` line the other commands print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _reporting_flow import write_flow

pytestmark = pytest.mark.e2e


def test_report_of_a_damaged_blob_writes_what_is_readable(
    cli: Any, tmp_path: Path, _airfoil_home: Path
) -> None:
    """Integ: invalid UTF-8 in the stored report was a UnicodeDecodeError traceback."""
    write_flow(tmp_path / "flow.py")
    r = cli("run", "--name", "rep", "flow.py", "wf")
    assert r.code == 0, r.err
    (blob,) = _airfoil_home.rglob("report.html")
    blob.write_bytes(blob.read_bytes().replace(b"final loss", b"final \xff\xfe loss"))
    out = tmp_path / "rep.html"
    shown = cli("report", "rep", "n0", "-o", str(out))
    assert shown.code == 0 and "Traceback" not in shown.err, shown.err
    said = " ".join(shown.err.split())
    assert "unreadable: report " in said and "/n0#1 (its readable part written)" in said, said
    assert "invalid start byte at byte" in said and "its blob is damaged" in said, said
    assert "final \ufffd\ufffd loss" in out.read_text(encoding="utf-8")
    assert "wrote" in shown.out
