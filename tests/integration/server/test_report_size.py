"""A report bigger than a page holds (32 MiB): main read it whole into memory wherever it
was asked for (``airfoil report``, ``GET .../report``, ``Client.report()``), twice over
(its bytes, then its text). A page now refuses it with a typed error naming its size and the
way to get it, and ``airfoil report`` (locally and ``--remote``) copies it whole in 1 MiB
pieces, its damage still named."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import httpx
import pytest
from _reporting_flow import run_reported
from _srv import start_server
from typer.testing import CliRunner

from airfoil.cli.main import app
from airfoil.client import Client
from airfoil.core.errors import TooLargeError
from airfoil.core.reports import MAX_REPORT_BYTES

pytestmark = pytest.mark.integration

BAD_AT = MAX_REPORT_BYTES + 123_457  # a byte that is not UTF-8, far into the report


def _big_report() -> bytes:
    """A report of MAX_REPORT_BYTES + 1 MiB: text with accents (pieces split characters),
    one byte damaged at BAD_AT."""
    line = "<p>résumé · ünïcode ✓ line</p>\n".encode()
    body = bytearray(b"<!doctype html><html><body>\n")
    body += line * ((MAX_REPORT_BYTES + 2**20) // len(line))
    body[BAD_AT] = 0xFF
    return bytes(body) + b"</body></html>"


def _said(text: str) -> str:
    return " ".join(text.split())


def _report_traced(args: list[str]) -> tuple[int, str, int]:
    """Run ``airfoil report ARGS``; its exit code, stderr and the most memory it held."""
    tracemalloc.start()
    try:
        ran = CliRunner().invoke(app, ["report", *args])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return ran.exit_code, _said(ran.stderr), peak


def test_a_report_past_a_page_is_refused_as_one_and_written_whole_in_pieces(
    tmp_path: Path, _airfoil_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blob = run_reported(tmp_path, _airfoil_home, "big")
    assert CliRunner().invoke(app, ["report", "big", "n0", "-o", "small.html"]).exit_code == 0
    data = _big_report()
    blob.write_bytes(data)
    want = data.decode("utf-8", errors="replace").encode()
    with pytest.raises(UnicodeDecodeError) as bad:
        data.decode()
    damage = f"{bad.value.reason} at byte {bad.value.start}"  # as a page read whole names it
    assert BAD_AT - 3 <= bad.value.start <= BAD_AT

    code, said, peak = _report_traced(["big", "n0", "-o", "local.html"])
    assert code == 0, said
    assert (tmp_path / "local.html").read_bytes() == want
    assert "/n0#1 (its readable part written)" in said and damage in said, said
    assert peak < 8 * 2**20, f"held {peak / 2**20:.1f} MiB for a report of 33 MiB"

    running = start_server(_airfoil_home, None, run_engine=False)
    try:
        page = httpx.get(f"{running.url}/api/v1/projects/default/executions/big/nodes/n0/report")
        assert page.status_code == 422, page.text[:200]
        error = page.json()["error"]
        assert error["code"] == "too_large"
        assert "is 33.0 MiB, past the 32 MiB a page shows" in error["message"]
        assert re.search(r"`airfoil report \S+ n0` \(with --remote", error["message"])
        with Client(running.url, project="default") as client, pytest.raises(TooLargeError):
            client.report("big", "n0")

        out = tmp_path / "remote.html"
        code, said, peak = _report_traced(["big", "n0", "--server", running.url, "-o", str(out)])
        assert code == 0, said
        assert out.read_bytes() == want
        assert "unreadable: report big/n0#1 (its readable part written)" in said and damage in said
        # the in-process server's pieces are counted too: both sides hold a piece at a time
        assert peak < 16 * 2**20, f"held {peak / 2**20:.1f} MiB for a report of 33 MiB"

        # a report a page holds is unchanged: the page, its damage in a header
        blob.write_bytes(data[: 2**20])
        page = httpx.get(f"{running.url}/api/v1/projects/default/executions/big/nodes/n0/report")
        assert page.status_code == 200 and "x-airfoil-damage" not in page.headers
    finally:
        running.stop()
    missing = CliRunner().invoke(app, ["report", "big", "n9", "-o", "none.html"])
    assert missing.exit_code != 0 and not (tmp_path / "none.html").exists()
    assert not list(tmp_path.glob("*.part"))
