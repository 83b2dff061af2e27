"""Every session ends with the time of each tier (``tests/_tier_times.py``, wired in
``tests/conftest.py``): what the Ray tier adds to ``make test`` shows in each run (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


_TIMES = "tests/unit/test_tier_times.py::"


def _pytest(repo_root: Path, *args: str) -> str:
    """A nested pytest session's output (it passed)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=repo_root, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_session_prints_the_time_of_each_tier(repo_root: Path) -> None:
    out = _pytest(repo_root, _TIMES + "test_each_tier_sums_its_tests_phases")
    assert "time by tier" in out, out
    lines = {m[1]: (int(m[2]), float(m[3])) for m in re.finditer(
        r"^(\w+) +(\d+) tests +([\d.]+) s", out, re.M
    )}  # fmt: skip
    assert set(lines) == {"unit", "integration", "e2e", "ray"}, out
    assert lines["unit"][0] == 1, out
    assert lines["ray"] == (0, 0.0), out


def test_an_xdist_session_prints_the_tiers_once_for_all_its_workers(repo_root: Path) -> None:
    """Under ``-n 2`` the tests run in two workers; the controller prints the one summary of
    both (before, it printed none: the workers' sums never left them)."""
    out = _pytest(
        repo_root,
        "-n",
        "2",
        _TIMES + "test_each_tier_sums_its_tests_phases",
        _TIMES + "test_the_shared_ray_counts_for_the_ray_tier_in_whichever_test_it_ran",
    )
    assert out.count("time by tier") == 1, out
    lines = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+) +(\d+) tests ", out, re.M)}
    assert lines == {"unit": 2, "integration": 0, "e2e": 0, "ray": 0}, out
    wall = r"^\(sums over all 2 xdist workers; the session's wall time [\d.]+ s\)$"
    assert re.search(wall, out, re.M), out
