"""``af.gather``: run several task calls made from a running task concurrently.

Inside a running task, a task call is a durable child node and normally returns the child's
result (the caller waits). Calls written directly inside ``af.gather(...)`` -- as arguments,
or as the element of a comprehension or generator unpacked into it
(``af.gather(*(t(x=i) for i in xs))``) -- are started without waiting and return a
:class:`PendingCall`; ``gather`` then waits for all of them. Where the executor can run
children side by side (the process executor), gathered children run concurrently; the
inline executor runs them one after another, at the call.

Which calls sit inside ``gather(...)`` is read from the calling frame's source position
(Python 3.11+ records one per instruction), so nothing changes in how a call is written.
When the source cannot be found, calls simply run one after another.
"""

from __future__ import annotations

import ast
import linecache
import types
from typing import Any

__all__ = ["PendingCall", "gather", "inside_gather"]


class PendingCall:
    """A child call started without waiting (see :func:`gather`)."""

    def result(self) -> Any:  # pragma: no cover - overridden by the runtime
        """Wait for the child and return its result (or raise its exception)."""
        raise NotImplementedError


def gather(*results: Any) -> list[Any]:
    """The results of several child calls, in order: ``a, b = af.gather(t1(x=1), t2(y=2))``.

    Every call is recorded as a durable child node when it is made; calls written inside
    ``gather(...)`` run concurrently where the executor allows, and ``gather`` waits for all
    of them. If some raised, the exception of the first (in argument order) is raised, after
    every call has finished.
    """
    out: list[Any] = []
    first: BaseException | None = None
    for r in results:
        if isinstance(r, PendingCall):
            try:
                r = r.result()
            except Exception as exc:
                first = first or exc
                r = None
        out.append(r)
    if first is not None:
        raise first
    return out


_cache: dict[tuple[types.CodeType, int], bool] = {}
_trees: dict[tuple[str, int], dict[tuple[int, int, int, int], ast.AST]] = {}


def inside_gather(frame: types.FrameType | None) -> bool:
    """Whether the call the frame is executing is written inside a ``gather(...)`` call."""
    if frame is None:
        return False
    key = (frame.f_code, frame.f_lasti)
    found = _cache.get(key)
    if found is None:
        try:
            found = _is_gathered(frame.f_code, frame.f_lasti)
        except Exception:  # unreadable source or an unexpected position: run it in order
            found = False
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = found
    return found


def _is_gathered(code: types.CodeType, lasti: int) -> bool:
    positions = list(code.co_positions())
    index = lasti // 2
    if index >= len(positions):
        return False
    line, end_line, col, end_col = positions[index]
    if None in (line, end_line, col, end_col):
        return False
    calls = _calls_of(code.co_filename)
    node = calls.get((line, end_line, col, end_col))  # type: ignore[arg-type]
    if node is None:
        return False
    parent = getattr(node, "_af_parent", None)
    while isinstance(parent, ast.GeneratorExp | ast.ListComp | ast.Tuple | ast.List):
        if isinstance(parent, ast.GeneratorExp | ast.ListComp) and parent.elt is not node:
            return False
        node, parent = parent, getattr(parent, "_af_parent", None)
    if isinstance(parent, ast.Starred):
        node, parent = parent, getattr(parent, "_af_parent", None)
    if not isinstance(parent, ast.Call) or node not in parent.args:
        return False
    func = parent.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "gather"


def _calls_of(filename: str) -> dict[tuple[int, int, int, int], ast.AST]:
    """Every call expression of a source file by position, each linked to its parent."""
    lines = linecache.getlines(filename)
    key = (filename, hash(tuple(lines)))
    calls = _trees.get(key)
    if calls is None:
        tree = ast.parse("".join(lines), filename)
        calls = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                child._af_parent = parent  # type: ignore[attr-defined]
                if isinstance(child, ast.Call):
                    pos = (child.lineno, child.end_lineno, child.col_offset, child.end_col_offset)
                    calls[pos] = child  # type: ignore[index]
        _trees[key] = calls
    return calls
