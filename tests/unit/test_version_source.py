"""The code version reads a function's or class's block from its file's syntax tree, not
through :func:`inspect.getsource`'s tokenizer (issue 17, W5): the normalised code (and so
every version and cache key) must stay what ``getsource`` gave, edge cases included."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airfoil.sdk._versioning import _source

pytestmark = pytest.mark.unit

_MODULE = '''
import functools


def plain(x):
    """Docstring."""
    return x + 1
    # a comment after the last statement, indented like the body


def one_liner(x): return x * 2


@functools.lru_cache(maxsize=None)
def decorated(x):
    return x


@functools.wraps(
    plain,
)
def multi_line_decorator(x):
    return (
        x
    )


async def coroutine(x):
    return x


def outer(y):
    def inner(z):
        return y + z
    def inner_one_liner(z): return z
    return inner, inner_one_liner


class Texts:
    def badly_indented_string(self):
        text = """
not indented
"""
        return text


class Point:
    """A point."""

    def norm(self):
        return 0

    class Inner:
        def deep(self):
            return 1


@functools.total_ordering
class Ordered:
    def __lt__(self, other):
        return False

    def __eq__(self, other):
        return True


if True:
    def conditional(x):
        return x


square = lambda x: x * x  # noqa: E731
pair = (lambda a: a, lambda b: b)
'''


def _old_tree(obj: Any) -> str | None:
    """What the code version parsed before: ``inspect.getsource``, dedented; of a function's
    code object, since ``getsource`` of a ``functools.wraps`` wrapper unwraps it to the
    function it wraps, whose code is not the wrapper's (a stale hit before 2026-12-07)."""
    try:
        source = inspect.getsource(getattr(obj, "__code__", obj))
    except Exception:
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    if not tree.body or not isinstance(
        tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    ):
        return None
    return ast.dump(tree)


def _new_tree(obj: Any) -> str | None:
    tree = _source._parse(obj)
    return None if tree is None else ast.dump(tree)


@pytest.fixture
def module(tmp_path: Path) -> Iterator[types.ModuleType]:
    path = tmp_path / "w5c_source_cases.py"
    path.write_text(_MODULE)
    spec = importlib.util.spec_from_file_location("w5c_source_cases", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        del sys.modules[spec.name]


def test_every_case_parses_as_getsource_read_it(module: types.ModuleType) -> None:
    inner, inner_one_liner = module.outer(1)
    cases = {
        "plain": module.plain,
        "one_liner": module.one_liner,
        "decorated": module.decorated.__wrapped__,
        "multi_line_decorator": module.multi_line_decorator,
        "coroutine": module.coroutine,
        "outer": module.outer,
        "inner": inner,
        "inner_one_liner": inner_one_liner,
        "Texts.badly_indented_string": module.Texts.badly_indented_string,
        "Point": module.Point,
        "Point.norm": module.Point.norm,
        "Point.Inner": module.Point.Inner,
        "Point.Inner.deep": module.Point.Inner.deep,
        "Ordered": module.Ordered,
        "conditional": module.conditional,
        "square": module.square,
        "pair[1]": module.pair[1],
    }
    differ = {name for name, obj in cases.items() if _old_tree(obj) != _new_tree(obj)}
    assert differ == set()
    # the cases cover both outcomes: parsed code, and the bytecode fallback (None)
    assert _new_tree(module.plain) is not None
    wrapper = _new_tree(module.multi_line_decorator)  # named plain, wrapping plain
    assert wrapper is not None and "multi_line_decorator" in wrapper
    assert _new_tree(module.Texts.badly_indented_string) is None
    assert _new_tree(module.square) is None


def test_the_block_is_read_without_the_tokenizer(
    module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("inspect.getblock tokenized the source")

    monkeypatch.setattr(inspect, "getblock", refuse)
    text = _source.normalised(module.plain, lambda _name: False).text
    assert text == "def plain(x):\n    return x + 1"
