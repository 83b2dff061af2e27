"""``airfoil cache scopes`` in a local home, as a user types it: an undeclared scope is open
to every project (one user, no admin: as before members existed); once declared, only its
members use it, locally too, and a refused run says which command grants it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task(cache=True, cache_scope="team")
    def t(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return t(x=x)
    """
)


def _airfoil(cwd: Path, home: Path, project: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PROJECT=project)
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_declared_scopes_are_members_only_locally_too(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    (project / "flow.py").write_text(FLOW)

    def run(who: str) -> subprocess.CompletedProcess[str]:
        return _airfoil(project, home, who, "run", "--json", "flow.py", "wf")

    assert run("alpha").returncode == 0  # undeclared: open
    assert run("beta").returncode == 0
    made = _airfoil(project, home, "alpha", "cache", "scopes", "create", "team")
    assert made.returncode == 0, made.stderr
    granted = _airfoil(project, home, "alpha", "cache", "scopes", "grant", "team", "alpha")
    assert granted.returncode == 0 and "alpha (write)" in granted.stderr
    assert run("alpha").returncode == 0
    refused = run("beta")  # declared, and beta is no member
    assert refused.returncode != 0
    assert "project 'beta' may not use cache scope 'team'" in refused.stderr, refused.stderr
    assert "airfoil cache scopes grant team beta" in refused.stderr
    _airfoil(project, home, "alpha", "cache", "scopes", "grant", "team", "beta", "--read")
    read = run("beta")
    assert read.returncode == 0, read.stderr
    node = next(n for n in json.loads(read.stdout)["nodes"] if n["id"] == "n0")
    assert node["cache"] == "hit"
    listed = _airfoil(project, home, "x", "cache", "scopes", "list", "--json")
    assert json.loads(listed.stdout)[0]["members"] == {"alpha": "write", "beta": "read"}
    mine = _airfoil(project, home, "beta", "cache", "scopes", "mine", "--json")
    assert json.loads(mine.stdout)[0]["members"] == {"beta": "read"}


def test_clear_leaves_a_scope_the_project_may_not_write(tmp_path: Path) -> None:
    """`airfoil cache clear` as a project cleared every shared entry, those of scopes it is
    no member of (or only reads) included; now it clears what it may write. Fails on main
    (the `cache scopes` commands did not exist; without them: any scope's entries went)."""
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    (project / "flow.py").write_text(FLOW)
    _airfoil(project, home, "alpha", "cache", "scopes", "create", "team")
    _airfoil(project, home, "alpha", "cache", "scopes", "grant", "team", "alpha")
    _airfoil(project, home, "alpha", "cache", "scopes", "grant", "team", "beta", "--read")
    assert _airfoil(project, home, "alpha", "run", "flow.py", "wf").returncode == 0
    listed = _airfoil(project, home, "beta", "cache", "list", "--json")
    assert len(json.loads(listed.stdout)) == 1  # a reader sees the scope's entries
    assert json.loads(_airfoil(project, home, "gamma", "cache", "list", "--json").stdout) == []
    for who in ("beta", "gamma"):
        cleared = _airfoil(project, home, who, "cache", "clear", "--yes")
        assert "deleted 0 cache entries" in cleared.stderr, cleared.stderr
    cleared = _airfoil(project, home, "alpha", "cache", "clear", "--yes")
    assert "deleted 1 cache entry" in cleared.stderr, cleared.stderr
