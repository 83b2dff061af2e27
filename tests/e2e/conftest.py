"""Run the ``airfoil`` CLI as a user types it: a subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

AIRFOIL = [sys.executable, "-m", "airfoil.cli"]


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(tmp_path: Path, _airfoil_home: Path) -> Callable[..., Result]:
    def run(
        *args: str,
        timeout: float = 120,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> Result:
        full_env = dict(os.environ, AIRFOIL_HOME=str(_airfoil_home), COLUMNS="200")
        full_env.update(env or {})
        proc = subprocess.run(
            [*AIRFOIL, *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            cwd=tmp_path,
            env=full_env,
        )
        return Result(proc)

    return run
