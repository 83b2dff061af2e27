"""``AIRFOIL_HOME`` given relative (``.airfoil``) or with a ``~`` no shell expanded (a
``.env`` file, a unit file) names one folder for the whole run: the run's journal of
finished tasks and map items is written there even after a task changed the process's
working directory, so a resume after a kill finds it and reruns none of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import os
    import signal

    import airfoil as af


    def log(what):
        with open(os.environ["CALLS_LOG"], "a") as fh:
            fh.write(what + "\\n")


    @af.task
    def wander(n: int) -> list[int]:
        log("wander")
        os.chdir(os.environ["WANDER_TO"])  # a task that changes the working directory
        return list(range(n))


    @af.task
    def item(i: int) -> int:
        log(str(i))
        if i == 4 and not os.path.exists(os.environ["CALLS_LOG"] + ".resumed"):
            os.kill(os.getpid(), signal.SIGKILL)  # the engine dies with the inline task
        return i


    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)


    @af.workflow
    def flow(n: int = 6) -> int:
        return total(xs=af.map_task(item)(i=wander(n=n)))
    """
)


@pytest.mark.parametrize("home", ["home", "~/home"])
def test_a_resume_finds_the_journal_a_task_that_changed_directory_wrote(
    tmp_path: Path, home: str
) -> None:
    # Before: the journal folder was home + "/journals" as given, opened relative to the
    # working directory of the moment: after the first task's chdir, its end and items 0-3
    # were journaled under the folder it moved to (for "~/home", under ./~/home of the
    # directory the run started in), the resume did not find them and ran them again.
    (tmp_path / "flow.py").write_text(FLOW)
    start, later, wander = tmp_path / "start", tmp_path / "later", tmp_path / "wander"
    for d in (start, later, wander):
        d.mkdir()
    log = tmp_path / "calls.log"
    env = dict(
        os.environ,
        AIRFOIL_HOME=home,
        HOME=str(tmp_path / "user"),
        CALLS_LOG=str(log),
        WANDER_TO=str(wander),
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    cli = [sys.executable, "-m", "airfoil.cli"]
    killed = subprocess.run(
        [*cli, "run", "--name", "k1", str(tmp_path / "flow.py"), "flow"],
        cwd=start,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert log.read_text().split() == ["wander", "0", "1", "2", "3", "4"]
    (tmp_path / "calls.log.resumed").write_text("")
    # "~/home" is the same folder from anywhere; a relative home only from where it was given
    resumed = subprocess.run(
        [*cli, "executions", "resume", "k1"],
        cwd=later if home.startswith("~") else start,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert log.read_text().split() == ["wander", "0", "1", "2", "3", "4", "4", "5"]
    assert not any(wander.iterdir()) and not (start / "~").exists()
