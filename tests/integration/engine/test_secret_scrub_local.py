"""A local `airfoil run` of a task that prints its context and a secret and raises an error
holding both: the terminal output, `airfoil logs`, every row of the SQLite store and every
stored file show `***`, never the value (inline, process and ray executors; the ray runs join
the session's local Ray: a run's own local Ray is started in the Ray connection's tests)."""

from __future__ import annotations

import html
import os
import sqlite3
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
    def leaky(x: int) -> int:
        ctx = af.current_context()
        print("context:", ctx)
        print("explicit:", ctx.secrets["token"])
        raise RuntimeError(f"failed in {ctx} with {ctx.secrets['token']!r}")


    @af.workflow
    def wf(x: int = 1) -> int:
        return leaky(x=x)
    """
)


@pytest.mark.parametrize("executor", ["inline", "process", "ray"])
def test_a_local_run_stores_no_secret(
    tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    secret = "tok-" + uuid.uuid4().hex
    (tmp_path / "flow.py").write_text(FLOW)
    home = tmp_path / "home"
    base = request.getfixturevalue("ray_session_env") if executor == "ray" else os.environ
    env = {**base, "AIRFOIL_HOME": str(home), "AIRFOIL_SECRET_TOKEN": secret}
    cli = [sys.executable, "-m", "airfoil.cli"]
    run = subprocess.run(
        [*cli, "run", "--executor", executor, str(tmp_path / "flow.py"), "wf"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode != 0
    assert "RuntimeError" in run.stdout + run.stderr
    assert secret not in run.stdout + run.stderr
    assert_not_stored(home, secret)
    db = sqlite3.connect(home / "airfoil.db")
    try:
        ids = [r[0] for r in db.execute("SELECT id FROM executions")]
    finally:
        db.close()
    logs = subprocess.run(
        [*cli, "logs", ids[0]], env=env, capture_output=True, text=True, timeout=120
    )
    assert "explicit: ***" in logs.stdout and "'token': '***'" in logs.stdout, logs.stdout
    assert secret not in logs.stdout


CUT_FLOW = textwrap.dedent(
    """
    import airfoil as af
    from airfoil.core.records import ERROR_MESSAGE_MAX


    @af.task(secret_requests=["token"])
    def long_error(x: int) -> int:
        token = af.current_context().secrets["token"]
        head = (ERROR_MESSAGE_MAX - 64) - (ERROR_MESSAGE_MAX - 64) // 2  # what clipping keeps
        raise RuntimeError("a" * (head - 10) + token + "b" * 50_000)


    @af.workflow
    def wf(x: int = 1) -> int:
        return long_error(x=x)
    """
)


def test_a_secret_where_a_long_message_is_clipped_is_not_stored_in_part(
    tmp_path: Path,
) -> None:
    # Before: the message was clipped before the secret was scrubbed from it, so a secret
    # across the cut left its first 10 characters in the stored error and on the terminal.
    secret = "tok-" + uuid.uuid4().hex
    home, run = _run_wf(tmp_path, CUT_FLOW, secret)
    assert run.returncode != 0 and "characters cut" in run.stdout + run.stderr
    assert secret[:10] not in run.stdout + run.stderr
    assert_not_stored(home, secret[:10])


def _run_wf(
    tmp_path: Path, flow: str, secret: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``airfoil run flow.py wf`` with secret ``token`` set: the home and the process."""
    (tmp_path / "flow.py").write_text(flow)
    home = tmp_path / "home"
    env = {**os.environ, "AIRFOIL_HOME": str(home), "AIRFOIL_SECRET_TOKEN": secret}
    run = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", str(tmp_path / "flow.py"), "wf"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return home, run


REPORT_FLOW = textwrap.dedent(
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
    """A task's report (``current_context().report``), which any viewer of the project reads
    in the console, is stored with its secrets' values redacted, as its log and error are:
    raw, in markdown's and HTML's escaped forms, and in a table's cells. Before, the page
    was stored as the task wrote it."""
    secret = "tok-" + uuid.uuid4().hex + "&<x>"  # characters HTML and markdown escape
    home, run = _run_wf(tmp_path, REPORT_FLOW, secret)
    assert run.returncode == 0, run.stderr
    (report,) = list(home.rglob("report.html"))
    page = report.read_text()
    assert "connected with" in page and "***" in page, page
    assert secret.split("&", 1)[0] not in page, page  # the part no escaping changes
    for form in (secret, html.escape(secret), html.escape(secret, quote=False)):
        assert_not_stored(home, form)
