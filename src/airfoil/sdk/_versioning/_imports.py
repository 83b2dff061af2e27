"""Project-local modules that code imports inside a function body.

``from helpers import helper`` (or ``import pkg.sub``) inside a task binds no global, so the
walk of globals never meets it, and when the version is computed the import has usually not
run yet (it runs when the task does). Such a module is taken in by its file, without
importing it: the file's normalised text (its syntax tree printed back, so comments and
formatting do not count), and, transitively, the files of the project-local modules it
imports, at its top or anywhere inside. A whole file counts, so an edit to any function of
such a module is a miss (never a stale hit); importing at the module's top instead gives the
finer, per-function version.
"""

from __future__ import annotations

import ast
import dis
import os
import sys
import types
from collections.abc import Iterator

__all__ = ["imported_modules", "module_file", "file_imports", "normalised_file"]


_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_LOAD_CONST = dis.opmap["LOAD_CONST"]
_LOAD_SMALL_INT = dis.opmap.get("LOAD_SMALL_INT", -1)  # Python 3.14: a small int's load
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_CACHE = dis.opmap.get("CACHE", -1)


def imported_modules(code: types.CodeType, package: str) -> Iterator[str]:
    """The absolute names of the modules a function's code (and its nested code) imports:
    each ``import a.b`` gives ``a`` and ``a.b``; ``from a import b`` also ``a.b`` (which
    may be a submodule); relative imports are resolved against ``package``."""
    raw = code.co_code
    if _IMPORT_NAME in raw[0::2]:  # the opcodes: most code imports nothing, and costs no more
        ops: list[tuple[int, int]] = []
        extended = 0
        for i in range(0, len(raw), 2):
            op, arg = raw[i], raw[i + 1] | extended
            if op == _CACHE:
                continue
            if op == _EXTENDED_ARG:
                extended = arg << 8
                continue
            extended = 0
            ops.append((op, arg))
        for j, (op, arg) in enumerate(ops):
            if op != _IMPORT_NAME:
                continue
            level: object = _constant(code, ops[j - 2]) if j >= 2 else 0
            fromlist = _constant(code, ops[j - 1]) if j >= 1 else None
            level = level if isinstance(level, int) else 0
            yield from _names(code.co_names[arg], level, fromlist, package)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from imported_modules(const, package)


def _constant(code: types.CodeType, instruction: tuple[int, int]) -> object:
    op, arg = instruction
    if op == _LOAD_CONST:
        return code.co_consts[arg]
    if op == _LOAD_SMALL_INT:
        return arg
    return None


def file_imports(tree: ast.AST, package: str) -> Iterator[str]:
    """The absolute names of the modules a module's syntax tree imports, anywhere in it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _names(alias.name, 0, None, package)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            yield from _names(node.module or "", node.level, names, package)


def _names(name: str, level: int, fromlist: object, package: str) -> Iterator[str]:
    if level:
        parts = package.split(".") if package else []
        if level - 1 > len(parts):
            return
        base = ".".join(parts[: len(parts) - (level - 1)])
        name = f"{base}.{name}" if base and name else base or name
    if not name:
        return
    parts = name.split(".")
    for n in range(1, len(parts) + 1):
        yield ".".join(parts[:n])
    if isinstance(fromlist, tuple):
        for item in fromlist:
            if isinstance(item, str) and item != "*":
                yield f"{name}.{item}"


def module_file(name: str) -> str | None:
    """The file of module ``name``: the loaded module's, else the first ``name.py`` or
    ``name/__init__.py`` on ``sys.path`` or where an import finder (an editable install's)
    puts it (found without importing anything)."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
        return os.path.realpath(file) if isinstance(file, str) and file else None
    parts = name.split(".")
    for entry in sys.path:
        found = _source_in(entry or os.getcwd(), parts)
        if found is not None:
            return found
    return _found_by_finders(parts)


def _source_in(directory: str, parts: list[str]) -> str | None:
    base = os.path.join(directory, *parts)
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return os.path.realpath(candidate)
    return None


def _found_by_finders(parts: list[str]) -> str | None:
    """The file of a module found by an import finder rather than a ``sys.path`` entry (an
    editable install's finder maps its package to the source directory): the finders are
    asked for the top-level package's spec, which runs no module code."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(parts[0], None)
        except Exception:  # a finder that fails on a name it does not know: not ours
            continue
        if spec is None:
            continue
        if len(parts) == 1:
            origin = spec.origin
            return os.path.realpath(origin) if origin and os.path.isfile(origin) else None
        for location in spec.submodule_search_locations or ():
            found = _source_in(str(location), parts[1:])
            if found is not None:
                return found
        return None
    return None


def normalised_file(path: str) -> tuple[str, ast.AST | None]:
    """A file's text as its syntax tree prints it back (its raw text if it does not parse),
    and the tree."""
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, None
    return ast.unparse(tree), tree
