"""Which part of Airfoil a profiled frame belongs to: store, engine, executor, attempt
runtime or serialisation (issue 17's split of a task's time). Used by
``bench_scaling.py --profile`` (py-spy samples) and ``profile_parts.py`` (cProfile files)."""

from __future__ import annotations

#: A file under ``airfoil/`` -> the part it is charged to (first match).
PARTS = (
    ("store", ("store/", "engine/_journal.py", "engine/_group_commit.py", "executors/observe.py")),
    ("executor", ("executors/",)),
    ("attempt runtime", ("runtime/", "sdk/")),
    ("serialisation", ("types/", "wire/", "core/records.py")),
    ("engine", ("engine/", "core/", "local.py", "server/_driver.py", "server/_engine")),
    ("API (routes, auth, answers)", ("server/", "client/")),
)
#: Libraries outside Airfoil whose frames are a part of their own wherever they are called.
LIBRARIES = (
    ("serialisation", ("json/", "msgspec", "hashlib", "pickle")),
    ("store", ("psycopg", "sqlalchemy", "sqlite3")),
)


def part_of_file(path: str) -> str | None:
    """The part a frame in ``path`` is charged to, or None when its caller decides."""
    if path.startswith("airfoil/") or "/airfoil/" in path:
        inner = path[path.rfind("airfoil/") + len("airfoil/") :]
        return next((name for name, keys in PARTS if inner.startswith(keys)), "other Airfoil")
    return next((name for name, keys in LIBRARIES if any(k in path for k in keys)), None)


def part_of_builtin(name: str) -> str | None:
    """The part of a C function as cProfile names it (``<method 'encode' of
    'msgspec.json.Encoder' objects>``), or None when its caller decides."""
    return next((part for part, keys in LIBRARIES if any(k.strip("/") in name for k in keys)), None)
