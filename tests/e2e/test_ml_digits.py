"""examples/ml_digits.py as a user runs it: train, tune 8 trials, promote, serve with
``airfoil serve`` (a real process), predict over HTTP, move the alias and roll back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_digits_example_runs_end_to_end(repo_root: Path, _airfoil_home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(repo_root / "examples" / "ml_digits.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIRFOIL_HOME": str(_airfoil_home)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "trained digits:1" in out
    assert "tuned digits:2 of 8 trials" in out
    assert "predicted [0, 1, 1, 3, 4] with version 1" in out or "predicted [0, 1, 2" in out
    assert "alias moved: now serving digits:2" in out
    assert "rolled back: serving digits:1 again" in out
    assert "bad input: 422 ['body', 'features', 0, 'pixel_0_1']" in out
    assert "#3 rollback production: 2 -> 1" in out
