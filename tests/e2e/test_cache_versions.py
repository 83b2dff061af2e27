"""The code version against every way a user edits code: each case runs ``airfoil run`` in
a fresh process, edits the project, runs it again in another process, and asserts whether
the cached task hit (the edit cannot change its result) or missed (it can).

Every project has ``flow.py`` with a cached task ``t`` and a workflow ``wf`` calling it; a
case gives the files before and the files it rewrites.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

HIT, MISS = "hit", "miss"


def _flow(body: str, head: str = "") -> str:
    return (
        textwrap.dedent(head)
        + textwrap.dedent(
            """
        import airfoil as af

        @af.task(cache=True)
        def t(x: int) -> str:
        """
        )
        + textwrap.indent(textwrap.dedent(body).strip(), "    ")
        + textwrap.dedent(
            """

        @af.workflow
        def wf(x: int = 1) -> str:
            return t(x=x)
        """
        )
    )


Case = tuple[str, dict[str, str], dict[str, str], str]

SCALER = """
class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def apply(self, x):
        return x * self.factor
"""

CASES: list[Case] = [
    (
        "own body",
        {"flow.py": _flow("return str(x + 1)")},
        {"flow.py": _flow("return str(x + 2)")},
        MISS,
    ),
    (
        "comment only",
        {"flow.py": _flow("return str(x + 1)")},
        {"flow.py": _flow("# add one\nreturn str(x + 1)  # one")},
        HIT,
    ),
    (
        "formatting only",
        {"flow.py": _flow("return str(x + 1)")},
        {"flow.py": _flow("return str(\n    x+1\n)\n\n")},
        HIT,
    ),
    (
        "docstring only",
        {"flow.py": _flow('"""Add one."""\nreturn str(x + 1)')},
        {"flow.py": _flow('"""Add one to x, as text."""\nreturn str(x + 1)')},
        HIT,
    ),
    (
        "task decorator options",
        {"flow.py": _flow("return str(x + 1)")},
        {"flow.py": _flow("return str(x + 1)").replace("cache=True", "cache=True, retries=2")},
        HIT,
    ),
    (
        "helper in the same file",
        {"flow.py": _flow("return str(helper(x))", "def helper(x):\n    return x + 1\n")},
        {"flow.py": _flow("return str(helper(x))", "def helper(x):\n    return x + 2\n")},
        MISS,
    ),
    (
        "unrelated function in the same file",
        {"flow.py": _flow("return str(x)", "def other():\n    return 1\n")},
        {"flow.py": _flow("return str(x)", "def other():\n    return 2\n")},
        HIT,
    ),
    (
        "helper imported from another module",
        {
            "flow.py": _flow("return str(helper(x))", "from helpers import helper\n"),
            "helpers.py": "def helper(x):\n    return x + 1\n",
        },
        {"helpers.py": "def helper(x):\n    return x + 2\n"},
        MISS,
    ),
    (
        "unrelated module",
        {
            "flow.py": _flow("return str(helper(x))", "from helpers import helper\n"),
            "helpers.py": "def helper(x):\n    return x + 1\n",
            "other.py": "def f():\n    return 1\n",
        },
        {"other.py": "def f():\n    return 2\n"},
        HIT,
    ),
    (
        "attribute chain through a package",
        {
            "flow.py": _flow("return str(pkg.sub.f(x))", "import pkg.sub\n"),
            "pkg/__init__.py": "",
            "pkg/sub.py": "def f(x):\n    return x + 1\n",
        },
        {"pkg/sub.py": "def f(x):\n    return x + 2\n"},
        MISS,
    ),
    (
        "module two hops away",
        {
            "flow.py": _flow("return str(a.f(x))", "import a\n"),
            "a.py": "import b\n\ndef f(x):\n    return b.g(x) + 1\n",
            "b.py": "def g(x):\n    return x * 2\n",
        },
        {"b.py": "def g(x):\n    return x * 3\n"},
        MISS,
    ),
    (
        "method of a module-level instance",
        {"flow.py": _flow("return str(S.apply(x))", SCALER + "\nS = Scaler(2)\n")},
        {
            "flow.py": _flow(
                "return str(S.apply(x))",
                SCALER.replace("x * self.factor", "x * self.factor + 1") + "\nS = Scaler(2)\n",
            )
        },
        MISS,
    ),
    (
        "constructor argument of a module-level instance",
        {"flow.py": _flow("return str(S.apply(x))", SCALER + "\nS = Scaler(2)\n")},
        {"flow.py": _flow("return str(S.apply(x))", SCALER + "\nS = Scaler(3)\n")},
        MISS,
    ),
    (
        "instance imported from another module",
        {
            "flow.py": _flow("return str(S.apply(x))", "from scaling import S\n"),
            "scaling.py": SCALER + "\nS = Scaler(2)\n",
        },
        {"scaling.py": SCALER + "\nS = Scaler(5)\n"},
        MISS,
    ),
    (
        "method of a base class",
        {
            "flow.py": _flow(
                "return str(S.apply(x))", SCALER + "\nclass Sub(Scaler):\n    pass\n\nS = Sub(2)\n"
            )
        },
        {
            "flow.py": _flow(
                "return str(S.apply(x))",
                SCALER.replace("x * self.factor", "x * self.factor * 10")
                + "\nclass Sub(Scaler):\n    pass\n\nS = Sub(2)\n",
            )
        },
        MISS,
    ),
    (
        "class attribute",
        {"flow.py": _flow("return str(K.step * x)", "class K:\n    step = 2\n")},
        {"flow.py": _flow("return str(K.step * x)", "class K:\n    step = 3\n")},
        MISS,
    ),
    (
        "static and class methods",
        {
            "flow.py": _flow(
                "return str(K.f(x) + K.g(x))",
                "class K:\n    @staticmethod\n    def f(x):\n        return x\n\n"
                "    @classmethod\n    def g(cls, x):\n        return x\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(K.f(x) + K.g(x))",
                "class K:\n    @staticmethod\n    def f(x):\n        return x\n\n"
                "    @classmethod\n    def g(cls, x):\n        return x * 7\n",
            )
        },
        MISS,
    ),
    (
        "functools.partial argument",
        {
            "flow.py": _flow(
                "return str(add_n(x))",
                "import functools\n\ndef add(n, x):\n    return n + x\n\n"
                "add_n = functools.partial(add, 1)\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(add_n(x))",
                "import functools\n\ndef add(n, x):\n    return n + x\n\n"
                "add_n = functools.partial(add, 5)\n",
            )
        },
        MISS,
    ),
    (
        "function behind functools.partial",
        {
            "flow.py": _flow(
                "return str(add_n(x))",
                "from functools import partial\n\ndef add(n, x):\n    return n + x\n\n"
                "add_n = partial(add, 1)\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(add_n(x))",
                "from functools import partial\n\ndef add(n, x):\n    return n * x\n\n"
                "add_n = partial(add, 1)\n",
            )
        },
        MISS,
    ),
    (
        "function behind functools.lru_cache",
        {
            "flow.py": _flow(
                "return str(sq(x))",
                "import functools\n\n@functools.lru_cache\ndef sq(x):\n    return x * x\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(sq(x))",
                "import functools\n\n@functools.lru_cache\ndef sq(x):\n    return x * x * x\n",
            )
        },
        MISS,
    ),
    (
        "project decorator on the task",
        {
            "flow.py": _flow("return str(x)", "from deco import twice\n").replace(
                "@af.task(cache=True)\n", "@af.task(cache=True)\n@twice\n"
            ),
            "deco.py": "import functools\n\ndef twice(fn):\n    @functools.wraps(fn)\n"
            "    def w(x):\n        return fn(x) * 2\n    return w\n",
        },
        {
            "deco.py": "import functools\n\ndef twice(fn):\n    @functools.wraps(fn)\n"
            "    def w(x):\n        return fn(x) * 3\n    return w\n"
        },
        MISS,
    ),
    (
        "dict constant value",
        {"flow.py": _flow('return str(x * CONFIG["scale"])', 'CONFIG = {"scale": 2, "b": 1}\n')},
        {"flow.py": _flow('return str(x * CONFIG["scale"])', 'CONFIG = {"scale": 3, "b": 1}\n')},
        MISS,
    ),
    (
        "dict constant key order only",
        {"flow.py": _flow('return str(x * CONFIG["scale"])', 'CONFIG = {"scale": 2, "b": 1}\n')},
        {"flow.py": _flow('return str(x * CONFIG["scale"])', 'CONFIG = {"b": 1, "scale": 2}\n')},
        HIT,
    ),
    (
        "set constant order only",
        {"flow.py": _flow("return str(x in KEEP)", "KEEP = {1, 2, 3}\n")},
        {"flow.py": _flow("return str(x in KEEP)", "KEEP = {3, 1, 2}\n")},
        HIT,
    ),
    (
        "list constant",
        {"flow.py": _flow("return str(sum(W) * x)", "W = [1, 2]\n")},
        {"flow.py": _flow("return str(sum(W) * x)", "W = [1, 2, 3]\n")},
        MISS,
    ),
    (
        "nested tuple constant",
        {"flow.py": _flow("return str(T[1][0] * x)", "T = (1, (2, 3))\n")},
        {"flow.py": _flow("return str(T[1][0] * x)", "T = (1, (4, 3))\n")},
        MISS,
    ),
    (
        "dict imported from another module",
        {
            "flow.py": _flow('return str(CFG["k"] * x)', "from settings_mod import CFG\n"),
            "settings_mod.py": 'CFG = {"k": 2}\n',
        },
        {"settings_mod.py": 'CFG = {"k": 9}\n'},
        MISS,
    ),
    (
        "constant read through a module attribute",
        {
            "flow.py": _flow("return str(consts.SCALE * x)", "import consts\n"),
            "consts.py": "SCALE = 2\n",
        },
        {"consts.py": "SCALE = 4\n"},
        MISS,
    ),
    (
        "frozen dataclass constant",
        {
            "flow.py": _flow(
                "return str(P.a * x)",
                "import dataclasses\n\n@dataclasses.dataclass(frozen=True)\nclass Params:\n"
                "    a: int\n\nP = Params(a=2)\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(P.a * x)",
                "import dataclasses\n\n@dataclasses.dataclass(frozen=True)\nclass Params:\n"
                "    a: int\n\nP = Params(a=3)\n",
            )
        },
        MISS,
    ),
    (
        "dict captured in a closure",
        {
            "flow.py": _flow(
                "return str(scale(x))",
                'def make():\n    cfg = {"k": 2}\n\n'
                '    def scale(x):\n        return x * cfg["k"]\n'
                "    return scale\n\nscale = make()\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(scale(x))",
                'def make():\n    cfg = {"k": 3}\n\n'
                '    def scale(x):\n        return x * cfg["k"]\n'
                "    return scale\n\nscale = make()\n",
            )
        },
        MISS,
    ),
    (
        "enum member value",
        {
            "flow.py": _flow(
                "return str(Mode.A.value * x)", "import enum\n\nclass Mode(enum.Enum):\n    A = 1\n"
            )
        },
        {
            "flow.py": _flow(
                "return str(Mode.A.value * x)", "import enum\n\nclass Mode(enum.Enum):\n    A = 2\n"
            )
        },
        MISS,
    ),
    (
        "a module the task and a helper both read, each its own name",
        {
            "flow.py": _flow("return str(helper.h(x) + m.f(x))", "import helper\nimport m\n"),
            "helper.py": "import m\n\ndef h(x):\n    return m.g(x)\n",
            "m.py": "def f(x):\n    return x + 1\n\ndef g(x):\n    return x * 2\n",
        },
        {"m.py": "def f(x):\n    return x + 100\n\ndef g(x):\n    return x * 2\n"},
        MISS,
    ),
    (
        "a constant of a module a helper also reads",
        {
            "flow.py": _flow("return str(helper.h(x) + m.B)", "import helper\nimport m\n"),
            "helper.py": "import m\n\ndef h(x):\n    return m.A * x\n",
            "m.py": "A = 1\nB = 2\n",
        },
        {"m.py": "A = 1\nB = 3\n"},
        MISS,
    ),
    (
        "a method assigned in the class body from another module",
        {
            "flow.py": _flow(
                "return str(S.apply(x))",
                "import helpers\n\nclass K:\n    apply = helpers.scale\n\nS = K()\n",
            ),
            "helpers.py": "def scale(self, x):\n    return x * 2\n",
        },
        {"helpers.py": "def scale(self, x):\n    return x * 3\n"},
        MISS,
    ),
    (
        "a staticmethod wrapping a function of another module",
        {
            "flow.py": _flow(
                "return str(K.f(x))",
                "from helpers import scale\n\nclass K:\n    f = staticmethod(scale)\n",
            ),
            "helpers.py": "def scale(x):\n    return x * 2\n",
        },
        {"helpers.py": "def scale(x):\n    return x * 3\n"},
        MISS,
    ),
    (
        "helper imported inside the task's body",
        {
            "flow.py": _flow("from helpers import helper\nreturn str(helper(x))"),
            "helpers.py": "def helper(x):\n    return x + 1\n",
        },
        {"helpers.py": "def helper(x):\n    return x + 2\n"},
        MISS,
    ),
    (
        "package imported inside a helper, a module it imports edited",
        {
            "flow.py": _flow(
                "return str(h(x))", "def h(x):\n    import pkg.sub\n\n    return pkg.sub.f(x)\n"
            ),
            "pkg/__init__.py": "",
            "pkg/sub.py": "from pkg import inner\n\ndef f(x):\n    return inner.g(x)\n",
            "pkg/inner.py": "def g(x):\n    return x + 1\n",
        },
        {"pkg/inner.py": "def g(x):\n    return x + 2\n"},
        MISS,
    ),
    (
        "comment in a module imported inside the task's body",
        {
            "flow.py": _flow("import helpers\n\nreturn str(helpers.helper(x))"),
            "helpers.py": "def helper(x):\n    return x + 1\n",
        },
        {"helpers.py": "def helper(x):\n    # add one\n    return x + 1  # one\n"},
        HIT,
    ),
    (
        "pandas DataFrame constant",
        {
            "flow.py": _flow(
                'return str(int(RATES["rate"].sum()) * x)',
                'import pandas as pd\n\nRATES = pd.DataFrame({"rate": [1, 2]})\n',
            )
        },
        {
            "flow.py": _flow(
                'return str(int(RATES["rate"].sum()) * x)',
                'import pandas as pd\n\nRATES = pd.DataFrame({"rate": [1, 3]})\n',
            )
        },
        MISS,
    ),
    (
        "the first of two lambdas",
        {"flow.py": _flow("return str(A(x) + B(x))", "A = lambda x: x * 2\nB = lambda x: x + 1\n")},
        {"flow.py": _flow("return str(A(x) + B(x))", "A = lambda x: x * 3\nB = lambda x: x + 1\n")},
        MISS,
    ),
    (
        "a lambda in a dict of lambdas",
        {
            "flow.py": _flow(
                'return str(OPS["double"](x))',
                'OPS = {"double": lambda x: x * 2, "inc": lambda x: x + 1}\n',
            )
        },
        {
            "flow.py": _flow(
                'return str(OPS["double"](x))',
                'OPS = {"double": lambda x: x * 20, "inc": lambda x: x + 1}\n',
            )
        },
        MISS,
    ),
    (
        "one of three closures made by one factory",
        {
            "flow.py": _flow(
                "return str(A(x) + B(x) + C(x))",
                "def make(k):\n    def f(x):\n        return x * k\n\n    return f\n\n"
                "A, B, C = make(1), make(2), make(3)\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(A(x) + B(x) + C(x))",
                "def make(k):\n    def f(x):\n        return x * k\n\n    return f\n\n"
                "A, B, C = make(1), make(7), make(3)\n",
            )
        },
        MISS,
    ),
    (
        "another task it calls",
        {
            "flow.py": _flow(
                "return str(inner.run_python(x))",
                "import airfoil as af\n\n@af.task\ndef inner(x: int) -> int:\n    return x + 1\n",
            )
        },
        {
            "flow.py": _flow(
                "return str(inner.run_python(x))",
                "import airfoil as af\n\n@af.task\ndef inner(x: int) -> int:\n    return x + 3\n",
            )
        },
        MISS,
    ),
]


SHAPES = """
from dataclasses import dataclass

@dataclass
class Inner:
    k: int
    def scaled(self):
        return self.k * 2

@dataclass
class Config:
    a: int
    inner: Inner
    def total(self):
        return self.a + 1
"""

#: The task reads its input's methods: the class is named only in the task's annotation
#: (and the inner one only in the outer dataclass's field), never as a global of the code.
TYPED_INPUT = """
import airfoil as af
from shapes import Config, Inner

@af.task(cache=True)
def t(cfg: Config) -> str:
    return str(cfg.total() + cfg.inner.scaled())

@af.workflow
def wf(cfg: Config = Config(a=1, inner=Inner(k=2))) -> str:
    return t(cfg=cfg)
"""

CASES += [
    (
        "a method of the class of a dataclass input",
        {"flow.py": TYPED_INPUT, "shapes.py": SHAPES},
        {"shapes.py": SHAPES.replace("self.a + 1", "self.a + 5")},
        MISS,
    ),
    (
        "a method of the class of a dataclass input's field",
        {"flow.py": TYPED_INPUT, "shapes.py": SHAPES},
        {"shapes.py": SHAPES.replace("self.k * 2", "self.k * 3")},
        MISS,
    ),
    (
        "a method of a dataclass in a list input, under postponed annotations",
        {
            "flow.py": "from __future__ import annotations\n"
            + TYPED_INPUT.replace("cfg: Config) -> str", "cfgs: list[Config]) -> str")
            .replace("str(cfg.total() + cfg.inner.scaled())", "str(cfgs[0].total())")
            .replace("t(cfg=cfg)", "t(cfgs=[cfg])"),
            "shapes.py": SHAPES,
        },
        {"shapes.py": SHAPES.replace("self.a + 1", "self.a + 5")},
        MISS,
    ),
    (
        "a comment in the class of a dataclass input",
        {"flow.py": TYPED_INPUT, "shapes.py": SHAPES},
        {"shapes.py": SHAPES.replace("self.k * 2", "self.k * 2  # twice")},
        HIT,
    ),
]


def _airfoil(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIRFOIL_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=120,
    )


def _write(project: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _run_t(project: Path, home: Path) -> dict[str, Any]:
    proc = _airfoil(project, home, "run", "--json", "flow.py", "wf")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["phase"] == "succeeded", out
    (node,) = [n for n in out["nodes"] if n["id"] == "n0"]
    return {"cache": node["cache"], "reason": node["cache_reason"], "out": out["outputs"]}


def test_matrix_has_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({c[0] for c in CASES}) == len(CASES)


def _before_and_after(
    tmp_path: Path, before: dict[str, str], edits: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the project as ``before`` (a put), apply ``edits``, run again: both runs' node."""
    project, home = tmp_path / "proj", tmp_path / "home"
    _write(project, before)
    first = _run_t(project, home)
    assert first["cache"] == "put", first
    _write(project, edits)
    return first, _run_t(project, home)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_code_change(case: Case, tmp_path: Path) -> None:
    _name, before, edits, expected = case
    first, second = _before_and_after(tmp_path, before, edits)
    if expected == HIT:
        assert second["cache"] == "hit", second
        assert second["out"] == first["out"]
    else:
        assert second["cache"] == "put", second
        assert "version changed" in second["reason"], second


EXPLAINED = {
    "flow.py": _flow(
        'return str(helper(x) * CONFIG["k"] + len(BUF.getvalue()))',
        "import io\nfrom helpers import helper\n\nCONFIG = {'k': 2}\nBUF = io.StringIO('w')\n",
    ),
    "helpers.py": "def helper(x):\n    # add one\n    return x + 1\n",
}


def test_explain_names_what_changed_with_a_diff(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    _write(project, EXPLAINED)
    first = _airfoil(project, home, "run", "--json", "flow.py", "wf")
    assert first.returncode == 0, first.stderr
    assert "flow.py:BUF" in first.stderr and "cache_version=" in first.stderr  # the warning
    _write(project, {"helpers.py": "def helper(x):\n    return x + 5\n"})
    second = json.loads(_airfoil(project, home, "run", "--json", "flow.py", "wf").stdout)
    why = _airfoil(project, home, "cache", "explain", second["execution_id"], "n0")
    assert why.returncode == 0, why.stderr
    assert "~ helpers.py:helper changed:" in why.stdout
    assert "-    return x + 1" in why.stdout and "+    return x + 5" in why.stdout
    assert "flow.py:t" not in why.stdout.split("code changed", 1)[1].split("not covered")[0]
    assert "flow.py:BUF" in why.stdout and "StringIO" in why.stdout  # not covered, and why


NESTED = {
    "flow.py": textwrap.dedent(
        """
        import airfoil as af
        from helpers import helper

        @af.task(cache=True)
        def t(x: int) -> int:
            return helper(x)

        @af.task
        def outer(x: int) -> int:
            return t(x=x) + 1  # a task calling a task: a child node

        @af.dynamic
        def dyn(x: int) -> int:
            return t(x=x)

        @af.workflow
        def calls(x: int = 1) -> int:
            return outer(x=x)

        @af.workflow
        def dynamic(x: int = 1) -> int:
            return dyn(x=x)
        """
    ),
    "helpers.py": "def helper(x):\n    return x + 1\n",
}


@pytest.mark.parametrize("workflow", ["calls", "dynamic"])
def test_explain_diffs_child_calls_and_dynamic_children(tmp_path: Path, workflow: str) -> None:
    """The version of a task reached only at run time (called by a task, or added by a
    ``@dynamic`` one) is computed in the worker, which records what it was computed from."""
    project, home = tmp_path / "proj", tmp_path / "home"
    _write(project, NESTED)

    def run() -> tuple[str, dict[str, Any]]:
        proc = _airfoil(project, home, "run", "--json", "flow.py", workflow)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        (node,) = [n for n in out["nodes"] if n["task"] == "flow.t"]
        return out["execution_id"], node

    _first_id, first = run()
    assert first["cache"] == "put", first
    _write(project, {"helpers.py": "def helper(x):\n    return x + 5\n"})
    second_id, second = run()
    assert second["cache"] == "put" and "version changed" in second["cache_reason"], second
    why = _airfoil(project, home, "cache", "explain", second_id, second["id"])
    assert why.returncode == 0, why.stderr
    assert "code changed since version" in why.stdout, why.stdout
    assert "~ helpers.py:helper changed:" in why.stdout
    assert "-    return x + 1" in why.stdout and "+    return x + 5" in why.stdout


def test_two_projects_on_one_store_never_share_an_entry(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    _write(project, {"flow.py": _flow("return str(x + 1)")})

    def run(name: str) -> dict[str, Any]:
        env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PROJECT=name)
        proc = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", "wf"],
            capture_output=True,
            text=True,
            cwd=project,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return next(n for n in out["nodes"] if n["id"] == "n0")

    assert run("alpha")["cache"] == "put"
    beta = run("beta")
    assert beta["cache"] == "put"  # same task, same code, same inputs: still not alpha's entry
    assert "no cached result" in beta["cache_reason"]
    assert run("alpha")["cache"] == "hit"
    assert run("beta")["cache"] == "hit"

    def cache(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PROJECT=name)
        return subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "cache", *args],
            capture_output=True,
            text=True,
            cwd=project,
            env=env,
            timeout=120,
        )

    listed = json.loads(cache("alpha", "list", "--json").stdout)
    assert [e["scope"] for e in listed] == ["project:alpha/development"]
    assert len(json.loads(cache("alpha", "list", "--json", "--all-projects").stdout)) == 2
    cleared = cache("beta", "clear", "--yes")
    assert cleared.returncode == 0 and "deleted 1 cache entry" in cleared.stderr
    assert run("alpha")["cache"] == "hit"  # beta's clear left alpha's entry alone


def test_a_shared_cache_scope_is_an_explicit_opt_in(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    shared = _flow("return str(x + 1)").replace("cache=True", 'cache=True, cache_scope="team"')
    _write(project, {"flow.py": shared})
    statuses = []
    for name in ("alpha", "beta"):
        env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PROJECT=name)
        proc = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", "wf"],
            capture_output=True,
            text=True,
            cwd=project,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        statuses.append(next(n for n in json.loads(proc.stdout)["nodes"] if n["id"] == "n0"))
    assert [s["cache"] for s in statuses] == ["put", "hit"]


def test_python_file_and_airfoil_run_share_entries(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    _write(
        project,
        {
            "flow.py": _flow("return str(x + 1)") + "\nif __name__ == '__main__':\n"
            "    print(wf(x=1))\n"
        },
    )
    env = dict(os.environ, AIRFOIL_HOME=str(home))
    script = subprocess.run(
        [sys.executable, "flow.py"], capture_output=True, text=True, cwd=project, env=env
    )
    assert script.returncode == 0, script.stderr
    assert _run_t(project, home)["cache"] == "hit"
