"""Default code versions of tasks and workflows.

The rule (documented in docs/caching.md): a task's version is the SHA-256 of

1. its own source code, and
2. the source of every *project-local* function or class it references, transitively
   (names it reads from its module's globals, attributes of project-local modules it
   imports, other tasks it calls), and
3. the ``repr`` of simple module-level constants it reads (numbers, strings, bools, tuples
   of those).

"Project-local" means defined in a file under the task's project root: the directory holding
the task's top-level package (or the script itself). Code in site-packages, the standard
library and Airfoil is not hashed: its version is the installed package's business. So a change
to a helper the task calls changes the version; a change to an unrelated file, or to a
function in the same file that the task does not reach, does not.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

__all__ = ["code_version", "project_root"]

_SIMPLE = (int, float, str, bool, bytes, type(None))
_EXCLUDED_PREFIXES: tuple[str, ...] | None = None


def _excluded() -> tuple[str, ...]:
    global _EXCLUDED_PREFIXES
    if _EXCLUDED_PREFIXES is None:
        paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        airfoil_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths.add(airfoil_dir)
        _EXCLUDED_PREFIXES = tuple(os.path.realpath(p) + os.sep for p in paths)
    return _EXCLUDED_PREFIXES


def project_root(module_name: str) -> str:
    """The directory holding a module's top-level package, or the script's directory."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return os.getcwd()
    path = os.path.dirname(os.path.realpath(file))
    depth = module_name.count(".")
    if os.path.basename(file).startswith("__init__."):
        depth += 1
    for _ in range(depth):
        path = os.path.dirname(path)
    return str(path)


def _is_local(obj: Any, root: str) -> bool:
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    file = getattr(module, "__file__", None) if module else None
    if isinstance(obj, types.ModuleType):
        file = getattr(obj, "__file__", None)
    if not file:
        return False
    real = os.path.realpath(file)
    if real.startswith(_excluded()):
        return False
    return bool(real.startswith(root.rstrip(os.sep) + os.sep))


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


def code_version(fn: Callable[..., Any], extra: str = "") -> str:
    """The default version of a function: see the module docstring for the rule."""
    root = project_root(getattr(fn, "__module__", "") or "")
    digest = hashlib.sha256()
    seen: set[int] = set()

    def feed(label: str, text: str) -> None:
        digest.update(label.encode())
        digest.update(b"\0")
        digest.update(text.encode())
        digest.update(b"\0")

    def visit(obj: Any) -> None:
        inner = getattr(obj, "__airfoil_fn__", None)  # a TaskDef / WorkflowDef
        if inner is not None:
            obj = inner
        if id(obj) in seen:
            return
        seen.add(id(obj))
        qual = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        feed(qual, _source(obj))
        if inspect.isclass(obj):
            for member in vars(obj).values():
                func = getattr(member, "__func__", member)
                if inspect.isfunction(func):
                    scan(func)
            return
        if inspect.isfunction(obj):
            scan(obj)

    def scan(func: types.FunctionType) -> None:
        glb = func.__globals__
        names = _code_names(func.__code__)
        for name in sorted(names):
            if name not in glb:
                continue
            value = glb[name]
            consider(name, value, names)
        if func.__closure__:
            for cell in func.__closure__:
                try:
                    consider("<closure>", cell.cell_contents, names)
                except ValueError:
                    pass

    def consider(name: str, value: Any, names: set[str]) -> None:
        if isinstance(value, _SIMPLE) or (
            isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value)
        ):
            feed(f"const:{name}", repr(value))
        elif isinstance(value, types.ModuleType):
            if _is_local(value, root) and id(value) not in seen:
                seen.add(id(value))
                for attr in sorted(names):
                    member = getattr(value, attr, None)
                    if member is not None and not isinstance(member, types.ModuleType):
                        consider(f"{value.__name__}.{attr}", member, set())
        elif (
            hasattr(value, "__airfoil_fn__") or inspect.isfunction(value) or inspect.isclass(value)
        ):
            target = getattr(value, "__airfoil_fn__", value)
            if _is_local(target, root):
                visit(value)

    visit(fn)
    if extra:
        feed("extra", extra)
    return digest.hexdigest()[:16]
