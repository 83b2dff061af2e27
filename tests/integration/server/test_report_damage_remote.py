"""A damaged report (its blob changed by hand: bytes that are not UTF-8) read from the
server names its damage as the local ``airfoil report`` does: the API in a header, the
client in what ``Client.report()`` returns, ``airfoil report --remote`` in its
``unreadable:`` line (main: the remote path wrote the readable part and said nothing)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _reporting_flow import run_reported
from _srv import start_server
from typer.testing import CliRunner

from airfoil.cli.main import app
from airfoil.client import Client

pytestmark = pytest.mark.integration


def _said(text: str) -> str:
    return " ".join(text.split())


def test_the_remote_report_names_the_damage_of_its_blob(
    tmp_path: Path, _airfoil_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blob = run_reported(tmp_path, _airfoil_home, "rep")
    blob.write_bytes(blob.read_bytes().replace(b"final loss", b"final \xff\xfe loss"))

    running = start_server(_airfoil_home, None, run_engine=False)
    try:
        with Client(running.url, project="default") as client:
            rep = client.report("rep", "n0")
        assert rep.attempt == 1 and "final \ufffd\ufffd loss" in rep.html
        assert rep.damage is not None and "invalid start byte at byte" in rep.damage
        assert "U+FFFD" in rep.damage  # the header's percent-encoding undone

        whole = httpx.get(f"{running.url}/api/v1/projects/default/executions/rep/nodes/n0/report")
        assert whole.headers["x-airfoil-damage"].startswith("invalid start byte at byte ")

        out = tmp_path / "remote.html"
        args = ["report", "rep", "n0", "--server", running.url, "-o", str(out)]
        shown = CliRunner().invoke(app, args)
        said = _said(shown.stderr)
        assert shown.exit_code == 0, said
        assert "unreadable: report rep/n0#1 (its readable part written)" in said, said
        assert "invalid start byte at byte" in said and "its blob is damaged" in said, said
        assert "final \ufffd\ufffd loss" in out.read_text(encoding="utf-8")

        blob.write_bytes(blob.read_bytes().replace(b"\xff\xfe", b"ok"))  # mended
        with Client(running.url, project="default") as client:
            assert client.report("rep", "n0").damage is None
        whole = CliRunner().invoke(app, args)
        assert whole.exit_code == 0 and "unreadable" not in whole.stderr, whole.stderr
    finally:
        running.stop()
