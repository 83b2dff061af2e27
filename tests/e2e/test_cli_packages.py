"""``airfoil run`` on a file inside a package: it is run as a module of its package, so its
package-relative imports work (as ``python -m`` and flytekit's ``pyflyte run`` run it), in
this process and in worker processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = """
import airfoil as af

from ..helpers import shout
from . import consts


@af.task
def greet(name: str) -> str:
    return shout(f"{consts.GREETING} {name}")


@af.workflow
def hello(name: str = "ada") -> str:
    return greet(name=name)
"""


@pytest.fixture
def package(tmp_path: Path) -> Path:
    flows = tmp_path / "proj" / "pipelines" / "flows"
    flows.mkdir(parents=True)
    (flows.parent / "__init__.py").write_text("")
    (flows / "__init__.py").write_text("")
    (flows.parent / "helpers.py").write_text("def shout(s: str) -> str:\n    return s.upper()\n")
    (flows / "consts.py").write_text('GREETING = "hello"\n')
    (flows / "wf.py").write_text(FLOW)
    return flows / "wf.py"


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_relative_imports_in_a_package(cli: Any, package: Path, executor: str) -> None:
    res = cli("run", "-e", executor, "--json", str(package), "hello", "--name", "bob")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["outputs"] == {"o0": "HELLO BOB"}


def test_a_file_outside_packages_keeps_its_plain_module_name(cli: Any, tmp_path: Path) -> None:
    flow = tmp_path / "solo.py"
    flow.write_text(
        FLOW.replace("from ..helpers import shout\nfrom . import consts\n", "").replace(
            'shout(f"{consts.GREETING} {name}")', 'f"hi {name}"'
        )
    )
    res = cli("run", "--json", str(flow), "hello")
    assert res.code == 0, res.err
    assert json.loads(res.out)["outputs"] == {"o0": "hi ada"}
