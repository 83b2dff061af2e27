"""Adversarial edits to a cached task's dependencies, each between two ``airfoil run``
processes on a project on disk (the harness of ``test_cache_versions``): every row names the
edit a user makes and the outcome promised by docs/caching.md. Rows marked as documented
limits (a data file the task opens, an installed library's new release) are stale hits by
design; they are here so that a change of that promise is a decision, not an accident.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from test_cache_versions import HIT, MISS, _before_and_after, _flow

pytestmark = pytest.mark.e2e

#: A row: its name, the files before, the files it rewrites, the expected outcome.
Row = tuple[str, dict[str, str], dict[str, str], str]


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def _row(name: str, flow: tuple[str, str], mod: str, before: str, after: str, exp: str) -> Row:
    """A row whose task (``flow``: body, head) reads ``m.py``; ``@@`` in ``mod`` is the edit."""
    text = _d(mod)
    return (
        name,
        {"flow.py": _flow(flow[1], _d(flow[0])), "m.py": text.replace("@@", before)},
        {"m.py": text.replace("@@", after)},
        exp,
    )


SCALER = """
class Scaler:
    def __init__(self, k):
        self.k = k

    def _inner(self, x):
        return x + @@

    def apply(self, x):
        return self._inner(x) * self.k
"""

ROWS: list[Row] = [
    _row(
        "from m import f, f calls a private helper of m",
        ("from m import f\n", "return str(f(x))"),
        "def _g(x):\n    return x + @@\n\ndef f(x):\n    return _g(x)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "import m then m.f, m.f reads a constant m imported from a third module",
        ("import m\n", "return str(m.f(x))"),
        "from c import K\n\ndef f(x):\n    return x + K\n",
        "",
        "",
        MISS,
    ),
    _row(
        "method of an instance built at module level in m, through self._inner",
        ("from m import S\n", "return str(S.apply(x))"),
        SCALER + "\nS = Scaler(3)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a dataclass field's plain default",
        ("from m import C\n", "return str(x + C().k)"),
        "import dataclasses\n\n@dataclasses.dataclass\nclass C:\n    k: int = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a slots dataclass field's default (no class attribute holds it)",
        ("from m import C\n", "return str(x + C().k)"),
        "import dataclasses\n\n@dataclasses.dataclass(slots=True)\nclass C:\n    k: int = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a NamedTuple field's default",
        ("from m import P\n", "return str(x + P().k)"),
        "from typing import NamedTuple\n\nclass P(NamedTuple):\n    k: int = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a functools.partial's bound keyword argument, in another module",
        ("import m\n", "return str(m.P(x))"),
        "import functools\n\ndef f(x, k):\n    return x + k\n\nP = functools.partial(f, k=@@)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a partial of a bound method of a module-level instance",
        ("from m import P\n", "return str(P(x))"),
        SCALER + "\nP = __import__('functools').partial(Scaler(3).apply)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a lambda in a module dict read as m.OPS[...]",
        ("import m\n", "return str(m.OPS['inc'](x))"),
        "OPS = {'inc': lambda x: x + @@, 'dec': lambda x: x - 1}\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a decorator's wrapper body on a helper, decorator in a third module",
        ("from m import h\n", "return str(h(x))"),
        "from deco import bump\n\n@bump\ndef h(x):\n    return x\n",
        "",
        "",
        MISS,
    ),
    _row(
        "a decorator factory's argument",
        ("from m import h\n", "return str(h(x))"),
        _d(
            """
            import functools

            def times(n):
                def deco(fn):
                    @functools.wraps(fn)
                    def w(x):
                        return fn(x) * n
                    return w
                return deco

            @times(@@)
            def h(x):
                return x
            """
        ),
        "2",
        "3",
        MISS,
    ),
    _row(
        "a nested function inside a helper",
        ("from m import h\n", "return str(h(x))"),
        "def h(x):\n    def inner(y):\n        return y + @@\n    return inner(x)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a positional default argument of a helper, from a constant",
        ("from m import h\n", "return str(h(x))"),
        "K = @@\n\ndef h(x, k=K):\n    return x + k\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a keyword-only default argument of a helper",
        ("from m import h\n", "return str(h(x))"),
        "K = @@\n\ndef h(x, *, k=K):\n    return x + k\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a lambda's default argument",
        ("from m import F\n", "return str(F(x))"),
        "K = @@\nF = lambda x, k=K: x + k\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a closure variable of a function made by a factory",
        ("from m import add\n", "return str(add(x))"),
        "def make(k):\n    def f(x):\n        return x + k\n    return f\n\nadd = make(@@)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a module constant through pkg.CONST re-exported from pkg/consts.py",
        ("import m\n", "return str(x + m.K)"),
        "K = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "an enum member's value",
        ("from m import Color\n", "return str(x + Color.RED.value)"),
        "import enum\n\nclass Color(enum.Enum):\n    RED = @@\n    BLUE = 9\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "an enum member looked up by name, Color['RED']",
        ("from m import Color\n", "return str(x + Color['RED'].value)"),
        "import enum\n\nclass Color(enum.IntEnum):\n    RED = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a staticmethod called through a module-level instance",
        ("from m import S\n", "return str(S.f(x))"),
        "class C:\n    @staticmethod\n    def f(x):\n        return x + @@\n\nS = C()\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a classmethod reading a class constant, via type(instance)",
        ("from m import S\n", "return str(type(S).f(x))"),
        (
            "class C:\n    K = @@\n\n    @classmethod\n    def f(cls, x):\n"
            "        return x + cls.K\n\nS = C()\n"
        ),
        "1",
        "2",
        MISS,
    ),
    _row(
        "a property of an instance imported from another module",
        ("from m import S\n", "return str(x + S.k)"),
        "class C:\n    @property\n    def k(self):\n        return @@\n\nS = C()\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a __call__ instance in a module dict",
        ("from m import OPS\n", "return str(OPS['s'](x))"),
        "class Add:\n    def __call__(self, x):\n        return x + @@\n\nOPS = {'s': Add()}\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a method of a base class reached through super()",
        ("from m import B\n", "return str(B().f(x))"),
        (
            "class A:\n    def f(self, x):\n        return x + @@\n\nclass B(A):\n"
            "    def f(self, x):\n        return super().f(x) * 2\n"
        ),
        "1",
        "2",
        MISS,
    ),
    _row(
        "a nested class's constant, Outer.Inner.K",
        ("from m import Outer\n", "return str(x + Outer.Inner.K)"),
        "class Outer:\n    class Inner:\n        K = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "an attribute set on a module-level instance after construction",
        ("from m import S\n", "return str(x + S.k)"),
        "class C:\n    pass\n\nS = C()\nS.k = @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a helper brought in by a star import",
        ("from m import *\n", "return str(h(x))"),
        "def h(x):\n    return x + @@\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a library function chosen by a constant name (operator.add to operator.mul)",
        ("import m\n", "return str(m.OP(x, 3))"),
        "import operator\n\nOP = operator.@@\n",
        "add",
        "mul",
        MISS,
    ),
    # unrelated edits: must keep the version
    _row(
        "comments and blank lines in the helper's module",
        ("from m import h\n", "return str(h(x))"),
        "@@def h(x):\n    return x + 1\n",
        "",
        "# helpers\n\n\n",
        HIT,
    ),
    _row(
        "the helper's docstring",
        ("from m import h\n", "return str(h(x))"),
        'def h(x):\n    """@@"""\n    return x + 1\n',
        "Add one.",
        "Add one to x.",
        HIT,
    ),
    _row(
        "another function in the helper's module",
        ("from m import h\n", "return str(h(x))"),
        "def h(x):\n    return x + 1\n\ndef other():\n    return @@\n",
        "1",
        "2",
        HIT,
    ),
    _row(
        "a NamedTuple instance imported from another module",
        ("from m import P\n", "return str(x + P.b)"),
        (
            "from typing import NamedTuple\n\nclass Pt(NamedTuple):\n    a: int\n"
            "    b: int\n\nP = Pt(1, @@)\n"
        ),
        "1",
        "2",
        MISS,
    ),
    _row(
        "an attribute-access config dict (a dict subclass) in another module",
        ("from m import CFG\n", "return str(x + CFG.k)"),
        (
            "class Cfg(dict):\n    def __getattr__(self, n):\n"
            "        return self[n]\n\nCFG = Cfg(k=@@)\n"
        ),
        "1",
        "2",
        MISS,
    ),
    # documented: a class counts whole (every method is a component), so an edit of a
    # method the task never calls is a miss, by design (a conservative re-run)
    _row(
        "another method of the instance's class, never called",
        ("from m import S\n", "return str(S.apply(x))"),
        SCALER.replace("x + @@", "x + 1")
        + "\n    def unused(self):\n        return @@\n\nS = Scaler(3)\n",
        "1",
        "2",
        MISS,
    ),
    _row(
        "a .json file read into a module constant at import (the value is hashed)",
        ("from m import CFG\n", "return str(x + CFG['k'])"),
        "import json, pathlib\n\nHERE = pathlib.Path(__file__).parent\n"
        "CFG = json.loads((HERE / 'c.json').read_text())\n",
        "",
        "",
        MISS,
    ),
    # documented limits: data files and installed libraries are not hashed (stale hits)
    _row(
        "a constant in a .json file the task reads (documented: not covered)",
        ("from m import load\n", "return str(x + load()['k'])"),
        (
            "import json, pathlib\n\ndef load():\n"
            "    return json.loads((pathlib.Path(__file__).parent / 'c.json').read_text())\n"
        ),
        "",
        "",
        HIT,
    ),
    _row(
        "an installed library's new release (documented: not covered)",
        ("import thirdpkg\n", "return str(thirdpkg.f(x))"),
        "",
        "",
        "",
        HIT,
    ),
]

# rows whose before/after live in other files
_EXTRA: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "import m then m.f, m.f reads a constant m imported from a third module": (
        {"c.py": "K = 1\n"},
        {"c.py": "K = 2\n"},
    ),
    "a decorator's wrapper body on a helper, decorator in a third module": (
        {
            "deco.py": _d(
                DECO := (
                    "import functools\n\ndef bump(fn):\n    @functools.wraps(fn)\n"
                    "    def w(x):\n        return fn(x) + @@\n    return w\n"
                )
            ).replace("@@", "1")
        },
        {"deco.py": DECO.replace("@@", "2")},
    ),
    "a module constant through pkg.CONST re-exported from pkg/consts.py": (
        {"pkg/__init__.py": "from pkg.consts import K\n", "pkg/consts.py": "K = 1\n"},
        {"pkg/consts.py": "K = 2\n"},
    ),
    "a constant in a .json file the task reads (documented: not covered)": (
        {"c.json": '{"k": 1}'},
        {"c.json": '{"k": 2}'},
    ),
    "a .json file read into a module constant at import (the value is hashed)": (
        {"c.json": '{"k": 1}'},
        {"c.json": '{"k": 2}'},
    ),
    "an installed library's new release (documented: not covered)": (
        {
            "../site/site-packages/thirdpkg/__init__.py": (
                "__version__ = '1.0'\n\ndef f(x):\n    return x + 1\n"
            ),
        },
        {
            "../site/site-packages/thirdpkg/__init__.py": (
                "__version__ = '2.0'\n\ndef f(x):\n    return x + 2\n"
            ),
        },
    ),
}


def _rows() -> list[Row]:
    rows = []
    for name, before, after, expected in ROWS:
        more_before, more_after = _EXTRA.get(name, ({}, {}))
        if name.startswith("a module constant through pkg"):
            before = {
                **before,
                "flow.py": before["flow.py"].replace("import m\n", "import pkg as m\n"),
            }
        rows.append((name, {**before, **more_before}, {**after, **more_after}, expected))
    return rows


def test_table_has_at_least_20_rows() -> None:
    assert len(ROWS) >= 20
    assert len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", _rows(), ids=[r[0] for r in ROWS])
def test_edit(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _name, before, edits, expected = row
    site = tmp_path / "site" / "site-packages"  # an installed library's place
    paths = [os.environ.get("PYTHONPATH", ""), str(site)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    first, second = _before_and_after(tmp_path, before, edits)
    got = "hit" if second["cache"] == "hit" else "miss"
    assert got == expected, (second, first)
    if expected == MISS:
        assert "version changed" in second["reason"], second
