"""Edits between two ``airfoil run`` processes that the code version or the key got wrong
before 2026-12-07 (the harness of ``test_cache_versions``): values a version could not see
(stale hits), and parts of the key that changed with nothing the task computes (false misses).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cache_versions import HIT, MISS, _before_and_after, _flow, _run_t, _write

pytestmark = pytest.mark.e2e

#: A row: its name, the files before, the files it rewrites, the expected outcome.
Row = tuple[str, dict[str, str], dict[str, str], str]


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def _row(name: str, body: str, mod: str, before: str, after: str, exp: str) -> Row:
    """A row whose task (``from m import *``, then ``body``) reads ``m.py``, where ``@@`` is
    the edit."""
    text = _d(mod)
    return (
        name,
        {"flow.py": _flow(body, "from m import *\n"), "m.py": text.replace("@@", before)},
        {"m.py": text.replace("@@", after)},
        exp,
    )


ROWS: list[Row] = [
    _row(
        "a constant of a project subclass of float",
        "return str(x + LIMIT)",
        "class Meters(float):\n    pass\n\nLIMIT = Meters(@@)\n",
        "3.0",
        "4.0",
        MISS,
    ),
    _row(
        "a constant of a project subclass of str",
        "return TAG + str(x)",
        "class Tag(str):\n    pass\n\nTAG = Tag('@@')\n",
        "a",
        "b",
        MISS,
    ),
    _row(
        "a constant of a project subclass of date",
        "return str(START.day + x)",
        "import datetime\n\nclass Day(datetime.date):\n    pass\n\nSTART = Day(2020, 1, @@)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a slots dataclass field's default read from another module",
        "return str(x + C().k)",
        "import dataclasses\nimport consts\n\n@dataclasses.dataclass(slots=True)\n"
        "class C:\n    k: int = consts.K\n",
        "",
        "",
        MISS,
    ),
    _row(
        "a partialmethod of another module's function",
        "return str(C().triple(x))",
        "import functools\nimport helpers\n\nclass C:\n"
        "    triple = functools.partialmethod(helpers.scale, k=3)\n",
        "",
        "",
        MISS,
    ),
    _row(
        "a partialmethod's bound argument read from another module",
        "return str(C().triple(x))",
        "import functools\nimport consts\n\ndef scale(self, x, k):\n    return x * k\n\n"
        "class C:\n    triple = functools.partialmethod(scale, k=consts.K)\n",
        "",
        "",
        MISS,
    ),
    _row(
        "a functools.wraps wrapper's body, applied to a helper by a call (no @)",
        "return str(h(x))",
        "import deco\n\ndef g(x):\n    return x\n\nh = deco.bump(g)\n",
        "",
        "",
        MISS,
    ),
    (
        "a functools.wraps wrapper's body, the decorator under @af.task",
        {"flow.py": _flow("return x", "import deco\n").replace("def t(", "@deco.bump\ndef t(")},
        {},
        MISS,
    ),
    _row(
        "a read-only config (types.MappingProxyType)",
        "return str(x + CFG['k'])",
        "import types\n\nCFG = types.MappingProxyType({'k': @@})\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a layered config (collections.ChainMap)",
        "return str(x + CFG['k'])",
        "import collections\n\nCFG = collections.ChainMap({'k': @@}, {'k': 0, 'j': 1})\n",
        "1",
        "2",
        MISS,
    ),
    (
        "the task's environment= (what os.environ reads in it)",
        {"flow.py": _flow("return os.environ['MODE'] + str(x)", "import os\n")},
        {
            "flow.py": _flow("return os.environ['MODE'] + str(x)", "import os\n").replace(
                "@af.task(cache=True)", "@af.task(cache=True, environment={'MODE': 'b'})"
            )
        },
        MISS,
    ),
    (
        "retries= and timeout= (they do not change what it computes)",
        {"flow.py": _flow("return str(x + 1)")},
        {
            "flow.py": _flow("return str(x + 1)").replace(
                "@af.task(cache=True)", "@af.task(cache=True, retries=3, timeout=60)"
            )
        },
        HIT,
    ),
    (
        "an argument's description in the docstring's Args:",
        {"flow.py": _flow('"""Add one.\n\nArgs:\n    x: the count\n"""\nreturn str(x + 1)')},
        {"flow.py": _flow('"""Add one.\n\nArgs:\n    x: how many\n"""\nreturn str(x + 1)')},
        HIT,
    ),
]

#: files beside m.py, before and after
WRAPS = (
    "import functools\n\ndef bump(f):\n    @functools.wraps(f)\n    def w(x):\n"
    "        return str(f(x)) + '@@'\n    return w\n"
)
_EXTRA: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "a functools.wraps wrapper's body, applied to a helper by a call (no @)": (
        {"deco.py": WRAPS.replace("@@", "a")},
        {"deco.py": WRAPS.replace("@@", "b")},
    ),
    "a functools.wraps wrapper's body, the decorator under @af.task": (
        {"deco.py": WRAPS.replace("@@", "a")},
        {"deco.py": WRAPS.replace("@@", "b")},
    ),
    "a slots dataclass field's default read from another module": (
        {"consts.py": "K = 1\n"},
        {"consts.py": "K = 2\n"},
    ),
    "a partialmethod of another module's function": (
        {"helpers.py": "def scale(self, x, k):\n    return x * k\n"},
        {"helpers.py": "def scale(self, x, k):\n    return x * k + 1\n"},
    ),
    "a partialmethod's bound argument read from another module": (
        {"consts.py": "K = 3\n"},
        {"consts.py": "K = 4\n"},
    ),
}


def _rows() -> list[Row]:
    rows = []
    for name, before, after, expected in ROWS:
        more_before, more_after = _EXTRA.get(name, ({}, {}))
        if name.startswith("the task's environment"):
            before = {
                "flow.py": before["flow.py"].replace(
                    "@af.task(cache=True)", "@af.task(cache=True, environment={'MODE': 'a'})"
                )
            }
        rows.append((name, {**before, **more_before}, {**after, **more_after}, expected))
    return rows


@pytest.mark.parametrize("row", _rows(), ids=[r[0] for r in ROWS])
def test_edit(row: Row, tmp_path: Path) -> None:
    _name, before, edits, expected = row
    first, second = _before_and_after(tmp_path, before, edits)
    got = "hit" if second["cache"] == "hit" else "miss"
    assert got == expected, (second, first)
    if expected == MISS:
        assert "version changed" in second["reason"], second
        assert second["out"] != first["out"], (second, first)  # the stale hit it was


def test_a_script_with_dataclass_and_enum_inputs_shares_entries_with_airfoil_run(
    tmp_path: Path,
) -> None:
    """``python flow.py`` names its classes ``__main__.Cfg``; ``airfoil run flow.py``,
    ``flow.Cfg``: the interface (hence the key) must not tell them apart."""
    project, home = tmp_path / "proj", tmp_path / "home"
    head = _d(
        """
        import dataclasses
        import enum

        @dataclasses.dataclass
        class Cfg:
            k: int = 1

        class Mode(enum.Enum):
            A = "a"
        """
    )
    flow = _flow("return str(x + cfg.k) + mode.value", head)
    flow = flow.replace("def t(x: int)", "def t(x: int, cfg: Cfg, mode: Mode = Mode.A)")
    flow = flow.replace("t(x=x)", "t(x=x, cfg=Cfg())")
    _write(project, {"flow.py": flow + "\nif __name__ == '__main__':\n    print(wf(x=1))\n"})
    env = dict(os.environ, AIRFOIL_HOME=str(home))
    script = subprocess.run(
        [sys.executable, "flow.py"], capture_output=True, text=True, cwd=project, env=env
    )
    assert script.returncode == 0, script.stderr
    run = _run_t(project, home)
    assert run["cache"] == "hit", run


def test_an_any_input_holding_a_set_hits_in_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A set pickles in its iteration order, which follows the hash seed: the key must not."""
    project, home = tmp_path / "proj", tmp_path / "home"
    flow = _flow("return str(x + len(tags))", "from typing import Any\n")
    flow = flow.replace("def t(x: int)", "def t(x: int, tags: Any)")
    flow = flow.replace("t(x=x)", "t(x=x, tags={'alpha', 'beta', 'gamma', 'delta', 'epsilon'})")
    _write(project, {"flow.py": flow})
    monkeypatch.setenv("PYTHONHASHSEED", "1")
    assert _run_t(project, home)["cache"] == "put"
    monkeypatch.setenv("PYTHONHASHSEED", "2")
    second = _run_t(project, home)
    assert second["cache"] == "hit", second
