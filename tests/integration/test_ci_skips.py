"""In CI, a tier whose dependency is missing (Playwright, PostgreSQL) fails instead of
skipping; elsewhere it skips, and other skips stay skips everywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROBE = """
import pytest

def test_postgres_missing():
    pytest.skip("AIRFOIL_SKIP_PG=1")

def test_not_applicable():
    pytest.skip("only on Windows")
"""

PLAYWRIGHT = """
import pytest

pytest.importorskip("no_such_module_for_the_probe", reason="playwright is not installed")

def test_page():
    pass
"""


def _pytest(tmp_path: Path, ci: str | None, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", *files],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path, repo_root: Path) -> Path:
    shutil.copy(repo_root / "tests" / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(repo_root / "tests" / "_tier_times.py", tmp_path / "_tier_times.py")  # its import
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "test_console_probe.py").write_text(PLAYWRIGHT)
    return tmp_path


def test_missing_tier_fails_in_ci_and_skips_elsewhere(project: Path) -> None:
    in_ci = _pytest(project, "true", "test_probe.py")
    assert in_ci.returncode == 1, in_ci.stdout
    assert "FAILED test_probe.py::test_postgres_missing" in in_ci.stdout
    assert "1 failed, 1 skipped" in in_ci.stdout  # "only on Windows" stays a skip
    local = _pytest(project, None, "test_probe.py")
    assert local.returncode == 0 and "2 skipped" in local.stdout


def test_missing_playwright_fails_collection_in_ci(project: Path) -> None:
    in_ci = _pytest(project, "true", "test_console_probe.py")
    assert in_ci.returncode != 0 and "playwright is not installed" in in_ci.stdout
    local = _pytest(project, "false", "test_console_probe.py")
    # 5: pytest's "no tests ran" (the whole module skipped), never a failure.
    assert local.returncode in (0, 5) and "1 skipped" in local.stdout
