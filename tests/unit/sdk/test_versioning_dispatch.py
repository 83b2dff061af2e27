"""Code versions of tasks that call ``functools.singledispatch`` functions (and methods).

The function such a decorator returns is functools' own wrapper; the code that runs is the
base function or the one registered for the argument's type. Each edit below is made
between two fresh processes, as between two ``airfoil run``s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELPERS = textwrap.dedent(
    """
    import functools

    def scale(x):
        return x * 2

    @functools.singledispatch
    def fmt(x):
        return str(x)

    @fmt.register
    def _(x: int):
        return "int " + str(scale(x))

    class Shower:
        @functools.singledispatchmethod
        def show(self, x):
            return str(x)

        @show.register
        def _(self, x: int):
            return "int " + str(x + 1)
    """
)

FLOW = textwrap.dedent(
    """
    import airfoil as af
    from dispatch_helpers import Shower, fmt

    @af.task(cache=True)
    def t(x: int) -> str:
        return fmt(x) + Shower().show(x)
    """
)


def _version(project: Path) -> str:
    code = "import warnings; warnings.simplefilter('ignore'); import dispatch_flow as f; "
    code += "print(f.t.version)"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(project), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=project, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ('return "int " + str(scale(x))', 'return "int " + str(scale(x) + 1)', True),
        ("return x * 2", "return x * 3", True),  # a helper of a registered implementation
        ("def fmt(x):\n    return str(x)", "def fmt(x):\n    return repr(x)", True),
        ('return "int " + str(x + 1)', 'return "int " + str(x + 2)', True),  # the method's
        (
            "def show(self, x):\n        return str(x)",
            "def show(self, x):\n        return repr(x)",
            True,
        ),
        ('return "int " + str(scale(x))', 'return "int " + str(scale(x))  # note', False),
    ],
    ids=[
        "a registered implementation",
        "a helper of a registered implementation",
        "the base function",
        "a registered implementation of a singledispatchmethod",
        "the base of a singledispatchmethod",
        "a comment in a registered implementation",
    ],
)
def test_an_edit_to_what_a_singledispatch_function_runs(
    tmp_path: Path, old: str, new: str, changes: bool
) -> None:
    (tmp_path / "dispatch_helpers.py").write_text(HELPERS)
    (tmp_path / "dispatch_flow.py").write_text(FLOW)
    before = _version(tmp_path)
    assert old in HELPERS
    (tmp_path / "dispatch_helpers.py").write_text(HELPERS.replace(old, new))
    after = _version(tmp_path)
    assert (after != before) is changes
