"""The flytekit-style corpus: each program, run as a script with only its import changed to
``airfoil.compat.flytekit``, prints what flytekit 1.16.31 printed for it (the ``.out`` files,
written by ``benchmarks/flytekit_compat_compare.py --write-expected``)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "flytekit_corpus"
PROGRAMS = sorted(CORPUS.glob("p*.py"))

pytestmark = pytest.mark.integration

#: What flytekit's local run prints itself (left out of the .out files): a task's output
#: that a script shows (gate simulations, the SQLite task's diagnostics with temporary paths).
CHATTER = re.compile(r"^(\[(Sleep|Approve|Input) Gate\]|Connecting to db |Interpolated query )")


def test_the_corpus_is_complete() -> None:
    assert len(PROGRAMS) >= 92
    for program in PROGRAMS:
        source = program.read_text()
        assert "from flytekit" not in source and "import flytekit\n" not in source
        assert "airfoil.compat.flytekit" in source
        assert program.with_suffix(".out").read_text().strip(), program.name


# Mocks replace tasks in this process only: the process executor's workers run the real code.
IN_WORKERS = [p for p in PROGRAMS if "task_mock" not in p.read_text()]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_what_flytekit_prints(program: Path, tmp_path: Path) -> None:
    _check(program, tmp_path, "inline")


@pytest.mark.slow
@pytest.mark.parametrize("program", IN_WORKERS, ids=[p.stem for p in IN_WORKERS])
def test_program_in_worker_processes(program: Path, tmp_path: Path) -> None:
    _check(program, tmp_path, "process")


def _check(program: Path, tmp_path: Path, executor: str) -> None:
    if "mashumaro" in program.read_text() and importlib.util.find_spec("mashumaro") is None:
        pytest.skip("mashumaro is not installed (the dev extra has it; Airfoil does not need it)")
    src = Path(__file__).resolve().parents[2] / "src"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFOIL_")}
    env["AIRFOIL_HOME"] = str(tmp_path / "home")
    env["AIRFOIL_EXECUTOR"] = executor
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, program.name],
        cwd=program.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    shown = [line for line in proc.stdout.splitlines() if not CHATTER.match(line)]
    assert shown == program.with_suffix(".out").read_text().splitlines()
