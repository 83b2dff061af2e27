"""The normalised code of a function or class: what its version hashes.

The source is parsed and printed back from its syntax tree, so comments, blank lines, line
breaks, quotes and spacing do not count; docstrings are dropped too. Airfoil's own decorators
(``@af.task(retries=2)``) are dropped: their options are not the function's code. When the
source cannot be read (code built from a string), the bytecode is hashed instead, without its
line numbers and file name.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

__all__ = ["Normalised", "normalised"]


class Normalised:
    """The normalised text of one piece of code and the names its decorators use."""

    __slots__ = ("decorator_names", "digest", "text")

    def __init__(self, text: str, decorator_names: tuple[str, ...]) -> None:
        self.text = text
        self.digest = hashlib.sha256(text.encode()).hexdigest()
        self.decorator_names = decorator_names


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


def _root_name(expr: ast.expr) -> str | None:
    while True:
        if isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Attribute):
            expr = expr.value
        elif isinstance(expr, ast.Name):
            return expr.id
        else:
            return None


_Defined = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@functools.lru_cache(maxsize=64)
def _blocks(source: str) -> dict[int, _Defined] | None:
    """The functions and classes of a file's source by the 0-based line they start on (their
    first decorator's, as :func:`inspect.findsource` counts); ``None`` if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    starts: dict[int, _Defined] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            starts.setdefault(first - 1, node)
    return starts


def _source(obj: Any) -> str:
    """What :func:`inspect.getsource` gives for ``obj``, up to comments after its last
    statement (which its syntax tree leaves out).

    The block's end is read from the file's syntax tree (parsed once a process) instead of
    :func:`inspect.getblock`'s tokenizer, whose regular expression alone was ~19 M
    instructions of every ``airfoil run`` (issue 17, W5). A lambda, or a block the tree does
    not name, goes through :func:`inspect.getsource` as before.
    """
    # A function by its code, never by ``__name__`` nor through ``__wrapped__``: a
    # ``functools.wraps`` wrapper carries the name of the function it wraps, and
    # :func:`inspect.getsource` unwraps it, so the wrapper's own body (``f(x) * 2``) went
    # unhashed, a stale hit on an edit of it, before 2026-12-07.
    code = getattr(obj, "__code__", None)
    lines, start = inspect.findsource(obj)
    name = code.co_name if code is not None else getattr(obj, "__name__", None)
    blocks = _blocks("".join(lines)) if name != "<lambda>" else None
    node = blocks.get(start) if blocks is not None else None
    if node is None or node.name != name or node.end_lineno is None:
        return inspect.getsource(code if code is not None else obj)
    return "".join(lines[start : node.end_lineno])


def _parse(obj: Any) -> ast.AST | None:
    try:
        source = _source(obj)
    except Exception:  # OSError, TypeError; IndexError on some stale linecache entries
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:  # a lambda in the middle of an expression, for one
        return None
    if not tree.body or not isinstance(
        tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    ):
        return None
    return tree


def _bytecode_text(code: types.CodeType) -> str:
    parts = [code.co_code.hex(), repr(code.co_names), repr(code.co_varnames)]
    parts.append(repr(code.co_freevars))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.append("<code " + _bytecode_text(const) + ">")
        else:
            parts.append(repr(const))
    return " ".join(parts)


def normalised(obj: Any, is_airfoil: Callable[[str], bool]) -> Normalised:
    """The normalised code of a function or class.

    Args:
        obj: the function or class.
        is_airfoil: whether a decorator's root name (as the code's module sees it) is one of
            Airfoil's own, whose options are left out.
    """
    tree = _parse(obj)
    if tree is None:
        code = getattr(obj, "__code__", None)
        if code is not None:
            return Normalised("bytecode " + _bytecode_text(code), ())
        return Normalised(f"<no source: {getattr(obj, '__qualname__', type(obj).__name__)}>", ())
    _strip_docstrings(tree)
    top = tree.body[0]  # type: ignore[attr-defined]
    kept: list[ast.expr] = []
    names: list[str] = []
    for deco in top.decorator_list:
        root = _root_name(deco)
        if root is not None and is_airfoil(root):
            continue
        kept.append(deco)
        if root is not None:
            names.append(root)
    top.decorator_list = kept
    if isinstance(top, ast.ClassDef):
        # Methods are components of their own (walked one by one): the class keeps only
        # their signatures, so a diff names the method that changed.
        for node in top.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                node.body = [ast.Expr(ast.Constant(...))]
    return Normalised(ast.unparse(tree), tuple(names))
