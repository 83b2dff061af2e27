"""Code that reaches a task through its input's class, not through a name, so that neither
the task's globals nor the input's hash change with it: an instance of a *subclass* of the
annotation's class (a pickled ``Linear`` where the task says ``m: Model``: the pickle's bytes
hold no code), and members the project added to a library class (a pandas accessor, a method
patched onto ``pd.DataFrame``). The task's version covers them (``airfoil run``, edit,
``airfoil run`` again in a fresh process, as in ``test_cache_versions``).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_cache_versions import _airfoil, _write

pytestmark = pytest.mark.e2e

_MODELS = """
import string

class Model:
    def predict(self, x):
        raise NotImplementedError

class Linear(Model):
    def __init__(self):
        self.w = 2

    def predict(self, x):
        return x * self.w + @@

class Shout(string.Formatter):
    def format_field(self, value, spec):
        return str(value) + "@@"
"""

_FLOW = """
import string

import airfoil as af
from models import Linear, Model, Shout

@af.task(cache=True)
def build() -> Model:
    return Linear()

@af.task(cache=True)
def score(m: Model, x: int) -> int:
    return m.predict(x)

@af.task(cache=True)
def formatter() -> string.Formatter:
    return Shout()

@af.task(cache=True)
def say(f: string.Formatter, x: int) -> str:
    return f.format("{}", x)

@af.workflow
def wf(x: int = 3) -> tuple[int, str]:
    return score(m=build(), x=x), say(f=formatter(), x=x)
"""


def _run(project: Path, home: Path) -> dict[str, Any]:
    proc = _airfoil(project, home, "run", "--json", "flow.py", "wf")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    assert out["phase"] == "succeeded", out
    return out


def _cache(out: dict[str, Any], task: str) -> str:
    (node,) = [n for n in out["nodes"] if n["task"].endswith(task)]
    return str(node["cache"])


def test_an_edit_to_a_subclass_of_an_inputs_class_is_a_miss(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    models = textwrap.dedent(_MODELS)
    _write(project, {"flow.py": textwrap.dedent(_FLOW), "models.py": models.replace("@@", "0")})
    first = _run(project, home)
    assert first["outputs"] == {"o0": 6, "o1": "30"}, first["outputs"]
    # Linear.predict and Shout.format_field change; Model and string.Formatter do not.
    _write(project, {"models.py": models.replace("@@", "1")})
    second = _run(project, home)
    # On main: {"o0": 6, "o1": "30"}, both tasks hit with the old code's results.
    assert second["outputs"] == {"o0": 7, "o1": "31"}, second["outputs"]
    assert _cache(second, "score") == "put"
    assert _cache(second, "say") == "put"
    third = _run(project, home)  # nothing changed: every task hits
    assert {_cache(third, t) for t in ("build", "score", "formatter", "say")} == {"hit"}


def test_a_project_enum_under_a_builtin_input_type_keeps_the_version(tmp_path: Path) -> None:
    """Builtin classes are not searched for subclasses: an ``int`` input's task keeps its
    version when a project ``IntEnum`` (a subclass of ``int``) changes."""
    project, home = tmp_path / "proj", tmp_path / "home"
    flow = textwrap.dedent(
        """
        import enum

        import airfoil as af

        class Level(enum.IntEnum):
            LOW = @@

        @af.task(cache=True)
        def t(x: int) -> int:
            return x + 1

        @af.workflow
        def wf(x: int = 1) -> int:
            return t(x=x)
        """
    )
    _write(project, {"flow.py": flow.replace("@@", "1")})
    assert _cache(_run(project, home), ".t") == "put"
    _write(project, {"flow.py": flow.replace("@@", "2")})
    assert _cache(_run(project, home), ".t") == "hit"


_EXTENSIONS = """
import pandas as pd

@pd.api.extensions.register_dataframe_accessor("geo")
class Geo:
    def __init__(self, df):
        self._df = df

    def center(self):
        return float(self._df["a"].mean()) + @@

def doubled(self):
    return self["a"].sum() * 2 + @@

pd.DataFrame.doubled = doubled
"""

_FRAMES = """
import pandas as pd

import airfoil as af
import extensions  # registers df.geo and df.doubled()

@af.task(cache=True)
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 3.0]})

@af.task(cache=True)
def center(df: pd.DataFrame) -> float:
    return df.geo.center()

@af.task(cache=True)
def twice(df: pd.DataFrame) -> float:
    return float(df.doubled())

@af.workflow
def wf() -> tuple[float, float]:
    df = frame()
    return center(df=df), twice(df=df)
"""


def test_an_edit_to_project_code_added_to_a_library_class_is_a_miss(tmp_path: Path) -> None:
    """A pandas accessor (``df.geo``) and a method patched onto ``pd.DataFrame``, both in
    another module: no global of the task names them, the frame's bytes do not change."""
    project, home = tmp_path / "proj", tmp_path / "home"
    ext = textwrap.dedent(_EXTENSIONS)
    _write(project, {"flow.py": textwrap.dedent(_FRAMES), "extensions.py": ext.replace("@@", "0")})
    first = _run(project, home)
    assert first["outputs"] == {"o0": 2.0, "o1": 8.0}, first["outputs"]
    _write(project, {"extensions.py": ext.replace("@@", "1")})
    second = _run(project, home)
    # On main: {"o0": 2.0, "o1": 8.0}, both tasks hit with the old code's results.
    assert second["outputs"] == {"o0": 3.0, "o1": 9.0}, second["outputs"]
    assert _cache(second, "frame") == "hit"  # its code reads neither
    assert (_cache(second, ".center"), _cache(second, "twice")) == ("put", "put")
