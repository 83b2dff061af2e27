"""Kill the engine with SIGKILL mid-run; `airfoil executions resume` finishes the execution
without re-running any node that had succeeded and with no half-written output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _killresume import kill_and_resume

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["CALLS_LOG"]

    def mark(what):
        with open(LOG, "a") as fh:
            fh.write(what + "\\n")
            fh.flush()
            os.fsync(fh.fileno())

    @af.task
    def step(i: int, prev: str) -> str:
        mark(f"start {i}")
        if i == 2 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)  # killed here on the first run
        mark(f"end {i}")
        return prev + f"-{i}"

    @af.workflow
    def chain(n: int = 4) -> str:
        out = step(i=0, prev="s")
        out = step(i=1, prev=out)
        out = step(i=2, prev=out)
        return step(i=3, prev=out)
    """
)


@pytest.mark.parametrize("executor", ["inline", "process"])
@pytest.mark.timeout(120)
def test_sigkill_then_resume(tmp_path: Path, executor: str) -> None:
    run = kill_and_resume(
        tmp_path, SCRIPT, "chain", executor=executor, kill_when=lambda calls: "start 2" in calls
    )
    assert run.before == ["start 0", "end 0", "start 1", "end 1", "start 2"]
    data = run.data
    assert data["phase"] == "succeeded"
    assert data["outputs"] == {"o0": "s-0-1-2-3"}
    # Steps 0 and 1 ran once; step 2 ran again (its attempt was lost), then step 3.
    assert run.after == ["start 2", "end 2", "start 3", "end 3"]
    nodes = run.nodes
    assert nodes["n0"]["attempts"] == 1 and nodes["n1"]["attempts"] == 1
    assert nodes["n2"]["attempts"] == 2
    blobs = run.home / "blobs"
    leftovers = [p for p in blobs.rglob("*") if ".tmp-" in p.name] if blobs.exists() else []
    assert leftovers == []


def _as_revision_0020(home: Path) -> None:
    """The killed run's database as the code before revision 0021 left it: each execution's
    spec inside its record, no ``execution_specs`` table."""
    import sqlalchemy as sa

    from airfoil.store.sql import downgrade

    url = f"sqlite:///{home / 'airfoil.db'}"
    downgrade(url, "0020")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            records = conn.execute(sa.text("SELECT record FROM executions")).scalars().all()
    finally:
        engine.dispose()
    assert "execution_specs" not in names
    assert records and all(json.loads(r)["spec"]["nodes"] for r in records)


@pytest.mark.timeout(120)
def test_a_run_killed_on_an_old_database_resumes_after_its_migration(tmp_path: Path) -> None:
    """An execution interrupted while its spec was stored in its record (before revision
    0021) reads and resumes with the code that keeps specs apart: the resume migrates the
    database, moving the spec, and finishes the run."""
    run = kill_and_resume(
        tmp_path,
        SCRIPT,
        "chain",
        kill_when=lambda calls: "start 2" in calls,
        after_kill=_as_revision_0020,
    )
    data = run.data
    assert data["phase"] == "succeeded"
    assert data["outputs"] == {"o0": "s-0-1-2-3"}
    assert run.after == ["start 2", "end 2", "start 3", "end 3"]
    from airfoil.store.sql import SqlMetaStore

    store = SqlMetaStore(f"sqlite:///{run.home / 'airfoil.db'}")
    try:
        (ex,) = store.list_executions()
        assert [n.id for n in ex.spec.nodes] == ["n0", "n1", "n2", "n3"]
        assert store.get_execution(ex.id) == ex
    finally:
        store.close()


EXIT_SCRIPT = textwrap.dedent(
    """
    import os
    import airfoil as af

    @af.task(system_retries=0)
    def hard_exit(x: int) -> int:
        os._exit(3)  # takes the inline engine down with it, every time

    @af.task
    def fine(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return fine(x=hard_exit(x=x))

    @af.workflow
    def mapped(x: int = 1) -> list[int]:
        return af.map_task(hard_exit)(x=[1, 2, 3])
    """
)


@pytest.mark.parametrize("workflow", ["wf", "mapped"])
@pytest.mark.timeout(120)
def test_task_that_kills_the_inline_engine_fails_after_its_system_retries(
    tmp_path: Path, workflow: str
) -> None:
    """An attempt whose process died (os._exit) is lost with its driver: the first loss is
    free (a driver can die for reasons of its own), the next ones are system errors, and
    once the system retries are used the node fails with a clear message instead of the
    engine dying on every resume."""
    script = tmp_path / "exitwf.py"
    script.write_text(EXIT_SCRIPT)
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    first = subprocess.run(
        [*cli, "run", "--name", "x1", str(script), workflow],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 3
    again = subprocess.run(
        [*cli, "executions", "resume", "x1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 3  # the first loss was not counted: it ran again, and died
    last = subprocess.run(
        [*cli, "executions", "resume", "x1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert last.returncode == 1, last.stderr
    data = json.loads(last.stdout)
    assert data["phase"] == "failed"
    assert "died while it ran, 2 times in a row" in data["error"]["message"]
    assert "os._exit" in data["error"]["message"]
