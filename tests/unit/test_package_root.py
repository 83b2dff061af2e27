"""The folder a client packages is the one that defined the entity registered, even where
another file of the same module name was loaded since (two projects' ``flow.py`` in one
process: the server tests' ``flow`` after a CLI test's ``airfoil run flow.py``). Before,
``register`` looked the module up by name in ``sys.modules`` and packaged the other folder,
so the server's worker said "module 'flow' has no task 'double'" (CI of e2082e4f and
53332d9e, test_server_hooks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airfoil.cli._load import load_entity
from airfoil.client._package import entity_file, source_root

pytestmark = pytest.mark.unit

FLOW = """
import airfoil as af

@af.task
def {task}(x: int) -> int:
    return x + 1

@af.workflow
def wf(x: int = 1) -> int:
    return {task}(x=x)
"""


def test_the_package_is_the_folder_that_defined_the_entity(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for folder, task in ((first, "double"), (second, "inc")):
        folder.mkdir()
        (folder / "flow.py").write_text(FLOW.format(task=task))
    saved = sys.modules.pop("flow", None)
    try:
        wf_one = load_entity(str(first / "flow.py"), "wf")
        load_entity(str(second / "flow.py"), "wf")  # takes the name "flow" in sys.modules
        assert sys.modules["flow"].__file__ == str(second / "flow.py")
        assert entity_file(wf_one) == str(first / "flow.py")
        assert source_root(wf_one.module, entity_file(wf_one)) == str(first.resolve())
        assert source_root(wf_one.module) == str(second.resolve())  # by name: the other one
    finally:
        sys.modules.pop("flow", None)
        if saved is not None:
            sys.modules["flow"] = saved
        for folder in (first, second):
            if str(folder) in sys.path:
                sys.path.remove(str(folder))
