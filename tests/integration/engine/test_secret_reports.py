"""A task's report (``current_context().report``), which any viewer of the project reads in
the console, is stored with its secrets' values redacted, as its log and error are: raw, in
markdown's and HTML's escaped forms, and in a table's cells. Before, the page was stored as
the task wrote it."""

from __future__ import annotations

import html
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from _stored import assert_not_stored

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(secret_requests=["token"])
    def reporting(x: int) -> int:
        ctx = af.current_context()
        token = ctx.secrets["token"]
        ctx.report.markdown(f"# Run\\nconnected with `{token}` and {token}")
        ctx.report.html(f"<p data-k='{token}'>{token}</p>")
        ctx.report.table([{"key": token, "n": x}])
        return x + 1


    @af.workflow
    def wf(x: int = 1) -> int:
        return reporting(x=x)
    """
)


def test_a_report_is_stored_with_its_secrets_redacted(tmp_path: Path) -> None:
    secret = "tok-" + uuid.uuid4().hex + "&<x>"  # characters HTML and markdown escape
    (tmp_path / "flow.py").write_text(FLOW)
    home = tmp_path / "home"
    env = {**os.environ, "AIRFOIL_HOME": str(home), "AIRFOIL_SECRET_TOKEN": secret}
    run = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", str(tmp_path / "flow.py"), "wf"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    (report,) = list(home.rglob("report.html"))
    page = report.read_text()
    assert "connected with" in page and "***" in page, page
    bare = secret.split("&", 1)[0]  # the part no escaping changes
    assert bare not in page, page
    for form in (secret, html.escape(secret), html.escape(secret, quote=False)):
        assert_not_stored(home, form)
