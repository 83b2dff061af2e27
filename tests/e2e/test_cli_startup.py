"""What a plain ``airfoil run examples/hello.py wf`` process imports (issue 17, W5).

Not a timing test: a subprocess runs the CLI as the ``airfoil`` script does and reports the
modules it imported; none of the deny-list may be among them. Each entry was on this path
once and cost the whole process time (see docs/dev/performance-log.md, "Start-up").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

#: Imported by no part of a local inline ``airfoil run`` of a plain workflow.
DENIED = (
    # other commands' modules: the root group loads only the command that runs
    "airfoil.cli._cache",
    "airfoil.cli._cluster",
    "airfoil.cli._compare",
    "airfoil.cli._deploy",
    "airfoil.cli._executions",
    "airfoil.cli._failures",
    "airfoil.cli._history",
    "airfoil.cli._metrics",
    "airfoil.cli._models",
    "airfoil.cli._quotas",
    "airfoil.cli._remote",
    "airfoil.cli._report",
    "airfoil.cli._schedules",
    "airfoil.cli._server",
    "airfoil.cli._sim",
    # the live view is drawn on a terminal only
    "airfoil.cli._live",
    "rich.live",
    "rich.progress",
    "rich.progress_bar",
    # the machine's memory comes from os.sysconf; mocks are for tests; webhooks only notify
    "psutil",
    "unittest",
    "unittest.mock",
    "urllib.request",
    "http.client",
    # the resource queue (and so the scheduler) is built when a task first asks for resources
    "airfoil.scheduler",
    "airfoil.engine._resources",
    # the in-memory store (a run on SQLite shares only its checks, in store.base)
    "airfoil.store.memory",
    # other layers and heavy optional libraries
    "airfoil.server",
    "airfoil.client",
    "airfoil.ml",
    "fastapi",
    "httpx",
    "ray",
    "numpy",
    "pandas",
    "pyarrow",
    # the settings are checked without pydantic; Typer before 0.29 parses without it
    "pydantic",
    "pydantic_core",
    "annotated_types",
    # the node blob cache is Ray's (a local run builds only its setting); the training,
    # shell, sql and container runners are built when a task of theirs runs; the failure
    # patterns and the emoji table are for failures and ":name:" codes
    "airfoil.executors._blob_cache",
    "airfoil.runtime._command_runners",
    "airfoil.runtime._training",
    "airfoil.sdk._sql",
    "airfoil.sdk._container",
    "zipfile",
    "rich._emoji_codes",
)

_DUMP = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: json.dump(sorted(sys.modules), open(out, "w")))
sys.argv[0] = "airfoil"
from airfoil.cli.main import main
main()
"""


def _python(tmp_path: Path, *args: str) -> str:
    """The stdout of ``python ARGS`` run from the repository with a home in ``tmp_path``."""
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _imported(tmp_path: Path, *args: str) -> set[str]:
    dump = tmp_path / "modules.json"
    _python(tmp_path, "-c", _DUMP, str(dump), *args)
    return set(json.loads(dump.read_text()))


def test_airfoil_run_hello_imports_nothing_on_the_deny_list(tmp_path: Path) -> None:
    modules = _imported(tmp_path, "run", "examples/hello.py", "wf")
    assert "airfoil.cli._run" in modules  # the dump saw the run
    assert sorted(m for m in DENIED if m in modules) == []


def test_help_still_loads_every_command(tmp_path: Path) -> None:
    modules = _imported(tmp_path, "--help")
    assert {"airfoil.cli._server", "airfoil.cli._remote", "airfoil.cli._cache"} <= modules


_GC_PROBE = """
import gc

import airfoil as af


@af.task
def probe() -> str:
    return f"{gc.isenabled()} {gc.get_freeze_count() > 0}"


@af.workflow
def wf() -> str:
    return probe()
"""


def test_airfoil_run_freezes_its_start_up_and_runs_tasks_collected(
    tmp_path: Path,
) -> None:
    # The collector is paused while the command starts (cli/_collector): no collection walks
    # the modules being imported; from the launch on it runs, the start-up's objects frozen
    # out of its reach (gc.freeze).
    flow = tmp_path / "probe.py"
    flow.write_text(_GC_PROBE)
    out = _python(tmp_path, "-m", "airfoil.cli", "run", "--json", str(flow), "wf")
    assert json.loads(out)["outputs"] == {"o0": "True True"}
