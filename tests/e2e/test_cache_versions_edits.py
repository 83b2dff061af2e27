"""Code outside the project against the cached task's version: a sibling package on
``PYTHONPATH`` and a real editable install (``pip install -e``), whose edits must be misses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from test_cache_versions import _flow

import airfoil

pytestmark = pytest.mark.e2e


# --- code outside the project ---------------------------------------------------------

_SIBLING = "def helper(x):\n    return x + 1\n"
_FLOW = _flow("return str(helper(x))", "from sibling_helpers import helper\n")
_FLOW_INSIDE = _flow("from sibling_helpers.more import twice\nreturn str(twice(x))")
_AIRFOIL_SRC = str(Path(airfoil.__file__).resolve().parents[1])


def _env(home: Path, *path: Path) -> dict[str, str]:
    entries = [*map(str, path), _AIRFOIL_SRC]
    return dict(
        os.environ,
        AIRFOIL_HOME=str(home),
        PYTHONPATH=os.pathsep.join(entries),
        PYTHONDONTWRITEBYTECODE="1",
    )


def _run(python: str, project: Path, env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run(
        [python, "-m", "airfoil.cli", "run", "--json", "flow.py", "wf"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (node,) = [n for n in out["nodes"] if n["id"] == "n0"]
    return {"cache": node["cache"], "reason": node["cache_reason"]}


def _manifest(python: str, project: Path, env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, flow\n"
        "from airfoil.sdk._versioning import compute_version\n"
        "m = compute_version(flow.t.fn).manifest\n"
        "print(json.dumps({'version': m.version, 'components': sorted(m.components)}))\n"
    )
    proc = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, cwd=project, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _package(root: Path) -> Path:
    """A tiny package ``sibling_helpers`` (with a submodule) under ``root``."""
    (root / "sibling_helpers").mkdir(parents=True)
    (root / "sibling_helpers" / "__init__.py").write_text(_SIBLING)
    (root / "sibling_helpers" / "more.py").write_text("def twice(x):\n    return x * 2\n")
    return root / "sibling_helpers"


def test_a_sibling_package_on_pythonpath_is_hashed_by_its_content(tmp_path: Path) -> None:
    project, home, libs = tmp_path / "proj", tmp_path / "home", tmp_path / "libs"
    package = _package(libs)
    project.mkdir()
    (project / "flow.py").write_text(_FLOW)
    env = _env(home, libs)
    assert _run(sys.executable, project, env)["cache"] == "put"
    (package / "__init__.py").write_text("def helper(x):\n    # now five\n    return x + 5\n")
    second = _run(sys.executable, project, env)
    assert second["cache"] == "put" and "version changed" in second["reason"], second
    (package / "__init__.py").write_text("def helper(x):\n    return x + 5  # five\n")
    assert _run(sys.executable, project, env)["cache"] == "hit"  # a comment: no miss

    # Named by module, not by absolute path: a second copy elsewhere gives the same version.
    manifest = _manifest(sys.executable, project, env)
    assert "sibling_helpers/__init__.py:helper" in manifest["components"]  # type: ignore[operator]
    elsewhere = tmp_path / "elsewhere" / "libs"
    _package(elsewhere)
    (elsewhere / "sibling_helpers" / "__init__.py").write_text(
        (package / "__init__.py").read_text()
    )
    assert _manifest(sys.executable, project, _env(home, elsewhere)) == manifest


def test_a_sibling_module_imported_inside_the_task_is_hashed_by_its_file(tmp_path: Path) -> None:
    project, home, libs = tmp_path / "proj", tmp_path / "home", tmp_path / "libs"
    package = _package(libs)
    project.mkdir()
    (project / "flow.py").write_text(_FLOW_INSIDE)
    env = _env(home, libs)
    assert _run(sys.executable, project, env)["cache"] == "put"
    (package / "more.py").write_text("def twice(x):\n    return x * 3\n")
    second = _run(sys.executable, project, env)
    assert second["cache"] == "put" and "version changed" in second["reason"], second


def test_a_package_installed_into_a_target_directory_is_a_library(tmp_path: Path) -> None:
    """``pip install --target DIR`` then ``PYTHONPATH=DIR`` (a Lambda or Docker layout): the
    directory holds ``*.dist-info``, so its packages are versioned by name, not walked."""
    project, home, libs = tmp_path / "proj", tmp_path / "home", tmp_path / "target"
    _package(libs)
    (libs / "sibling_helpers-0.1.dist-info").mkdir()
    (libs / "sibling_helpers-0.1.dist-info" / "METADATA").write_text("Name: sibling-helpers\n")
    project.mkdir()
    (project / "flow.py").write_text(_FLOW)
    components = _manifest(sys.executable, project, _env(home, libs))["components"]
    code = [c for c in components if c != "<python>"]  # type: ignore[attr-defined]
    assert code == ["flow.py:helper", "flow.py:t"], components


@pytest.mark.slow
def test_an_editable_install_is_hashed_by_its_content(tmp_path: Path) -> None:
    """``pip install -e`` (setuptools' import-finder kind: nothing on ``sys.path``) into a
    fresh venv that sees this interpreter's packages; an edit to the installed package's
    source is a miss, whether imported at the top or inside the task."""
    source, venv, home = tmp_path / "tiny", tmp_path / "venv", tmp_path / "home"
    package = _package(source)
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "sibling-helpers"\nversion = "0.1"\n'
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "outer.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    install = ["install", "-q", "--no-build-isolation", "--no-deps", "--no-index"]
    pip = subprocess.run(
        [python, "-m", "pip", *install, "-e", str(source)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=""),
        timeout=240,
    )
    assert pip.returncode == 0, pip.stderr
    assert list(Path(site).glob("__editable__*sibling_helpers*"))  # a real editable install
    for name, flow in (("top", _FLOW), ("inside", _FLOW_INSIDE)):
        project = tmp_path / name
        project.mkdir()
        (project / "flow.py").write_text(flow)
        env = _env(home)  # the package comes from the venv's editable install only
        first = _manifest(python, project, env)
        (package / "__init__.py").write_text("def helper(x):\n    return x + 7\n")
        (package / "more.py").write_text("def twice(x):\n    return x * 7\n")
        second = _manifest(python, project, env)
        assert first["version"] != second["version"], (name, first, second)
        (package / "__init__.py").write_text(_SIBLING)
        (package / "more.py").write_text("def twice(x):\n    return x * 2\n")
