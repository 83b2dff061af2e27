"""Code versions of tasks that read constants built on containers: a project subclass of
``dict``/``list``/``tuple`` (a config dict with attribute access, a NamedTuple), a
``defaultdict``, an ``OrderedDict`` and a categorical pandas column. Each edit below changed
what the task computes and kept its version (a stale cache hit) before these cases were
covered; and computing a version must never change the value the task then reads.

Each side of an edit is a file ``m.py`` in its own directory, imported under its own module
name: the version hashes the file's place in its project, never the module's name.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airfoil.sdk._versioning import compute_version

#: (name, the module before, the module after): ``f`` reads the edited constant.
EDITS = [
    (
        "a NamedTuple instance's field",
        """
        from typing import NamedTuple

        class Pt(NamedTuple):
            a: int
            b: int

        P = Pt(1, @@)

        def f():
            return P.b
        """,
    ),
    (
        "a project dict subclass's items",
        """
        class Config(dict):
            pass

        CFG = Config(k=@@)

        def f():
            return CFG["k"]
        """,
    ),
    (
        "an attribute-access config dict's items",
        """
        class Config(dict):
            def __getattr__(self, name):
                return self.setdefault(name, Config())

        CFG = Config(k=@@)

        def f():
            return CFG.k
        """,
    ),
    (
        "a project list subclass's items",
        """
        class Steps(list):
            pass

        STEPS = Steps([@@])

        def f():
            return STEPS[0]
        """,
    ),
    (
        "a defaultdict's default_factory",
        """
        import collections

        COUNTS = collections.defaultdict(lambda: @@)

        def f():
            return COUNTS["missing"]
        """,
    ),
    (
        "the order of an OrderedDict",
        """
        import collections

        COLUMNS = collections.OrderedDict([@@])

        def f():
            return list(COLUMNS)
        """,
    ),
]
VALUES = {
    "the order of an OrderedDict": ("('a', 1), ('b', 2)", "('b', 2), ('a', 1)"),
}


def _load(directory: Path, source: str, tag: str) -> Any:
    directory.mkdir()
    path = directory / "m.py"
    path.write_text(textwrap.dedent(source))
    name = f"_adv_versions_{tag}_{directory.parent.name}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@pytest.fixture
def modules() -> Any:
    loaded: list[str] = []
    yield loaded
    for name in loaded:
        sys.modules.pop(name, None)


def _versions(tmp_path: Path, loaded: list[str], before: str, after: str) -> list[Any]:
    out = []
    for tag, source in (("before", before), ("after", after)):
        module = _load(tmp_path / tag, source, tag)
        loaded.append(module.__name__)
        out.append((compute_version(module.f, warn=False), module))
    return out


@pytest.mark.parametrize(("name", "source"), EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_of_the_constant_changes_the_version(
    name: str, source: str, tmp_path: Path, modules: list[str]
) -> None:
    old, new = VALUES.get(name, ("1", "2"))
    (v1, m1), (v2, m2) = _versions(
        tmp_path, modules, source.replace("@@", old), source.replace("@@", new)
    )
    assert m1.f() != m2.f()  # the edit changes what the task computes
    assert v1.version != v2.version, v1.manifest.components
    assert not v1.manifest.unhashable and not v2.manifest.unhashable


def test_the_same_constant_keeps_the_version(tmp_path: Path, modules: list[str]) -> None:
    _name, source = EDITS[2]
    (v1, _), (v2, _) = _versions(
        tmp_path, modules, source.replace("@@", "1"), source.replace("@@", "1")
    )
    assert v1.version == v2.version


def test_computing_a_version_leaves_an_attribute_access_dict_as_it_was(
    tmp_path: Path, modules: list[str]
) -> None:
    """Reading ``__airfoil_fn__`` or ``registry`` with ``getattr`` ran the config's
    ``__getattr__``, which stored an empty entry under that name: the task then saw keys the
    user never wrote (``sorted(CFG)`` gave ``['__airfoil_fn__', 'k']``)."""
    source = EDITS[2][1].replace("@@", "1")
    module = _load(tmp_path / "only", source, "only")
    modules.append(module.__name__)
    compute_version(module.f, warn=False)
    assert dict(module.CFG) == {"k": 1}


def test_a_categorical_column_s_category_order_changes_the_version(
    tmp_path: Path, modules: list[str]
) -> None:
    pytest.importorskip("pandas")
    source = """
    import pandas as pd

    SIZES = pd.Series(["s", "m"], dtype=pd.CategoricalDtype([@@], ordered=True))

    def f():
        return SIZES.sort_values().tolist()
    """
    (v1, m1), (v2, m2) = _versions(
        tmp_path, modules, source.replace("@@", "'s', 'm'"), source.replace("@@", "'m', 's'")
    )
    assert m1.f() != m2.f()
    assert v1.version != v2.version
