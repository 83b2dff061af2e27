"""Run the ``airfoil`` CLI as a user types it: a subprocess, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed console test's report says what its page asked and saw and what its server
    logged (a wait for an element that never came said nothing of why: a request refused,
    one never answered, or an answer without the element)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        for part in value if isinstance(value, tuple) else (value,):
            if hasattr(part, "airfoil_network"):
                from test_console import page_said

                said = page_said(part)
                report.sections.append((f"what the page ({name}) asked and showed", said))
            elif callable(getattr(part, "logs", None)) and hasattr(part, "url"):
                try:
                    tail = "\n".join(part.logs().splitlines()[-60:])
                except OSError as exc:
                    tail = f"(its log could not be read: {exc})"
                report.sections.append((f"the server's log ({name}), its end", tail))
