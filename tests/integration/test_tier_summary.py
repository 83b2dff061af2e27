"""Every session ends with the time of each tier (``tests/_tier_times.py``, wired in
``tests/conftest.py``): what the Ray tier adds to ``make test`` shows in each run (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_session_prints_the_time_of_each_tier(repo_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/unit/test_tier_times.py::test_each_tier_sums_its_tests_phases"],
        cwd=repo_root, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "time by tier" in done.stdout, done.stdout
    lines = {m[1]: (int(m[2]), float(m[3])) for m in re.finditer(
        r"^(\w+) +(\d+) tests +([\d.]+) s", done.stdout, re.M
    )}  # fmt: skip
    assert set(lines) == {"unit", "integration", "e2e", "ray"}, done.stdout
    assert lines["unit"][0] == 1, done.stdout
    assert lines["ray"] == (0, 0.0), done.stdout
