"""Canonical text of the constants a task reads.

A constant feeds a code version through its canonical form: the same value always gives the
same text, in every process, whatever order a dict or set was filled in. Values that have no
canonical form (an open file, a library's model object) give ``None`` and the caller warns.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import operator
import pathlib
import re
import string
import struct
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["VALUE_TYPES", "Unhashable", "canonical"]

_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_REPR_TYPES = (
    dt.date,
    dt.datetime,
    dt.time,
    dt.timedelta,
    dt.timezone,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    pathlib.PurePath,
    range,
)
#: Values whose whole state is their value: a project subclass of one (``class Meters(float)``)
#: keeps it outside its ``__dict__``, so its instances are hashed with it.
VALUE_TYPES = frozenset((*_SCALARS, *_REPR_TYPES))
#: Stop walking a constant past this many parts: its text would cost more than it is worth.
MAX_PARTS = 200_000


class Unhashable(Exception):
    """A value (or a part of it) has no canonical form; ``path`` says which part."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def canonical(
    value: Any,
    path: str,
    reference: Callable[[Any, str], str | None],
) -> str:
    """The canonical text of ``value``.

    Args:
        value: the constant.
        path: how the task reaches it (``CONFIG["scale"]``), for messages.
        reference: called for an object that is code or an instance of project-local code
            (function, class, module, local instance); returns a token naming it (and the
            caller hashes the code behind it), or ``None`` when it is not code.

    Raises:
        Unhashable: the value or one of its parts has no canonical form.
    """
    budget = [MAX_PARTS]
    return _canon(value, path, reference, budget, set())


def _canon(
    value: Any,
    path: str,
    reference: Callable[[Any, str], str | None],
    budget: list[int],
    active: set[int],
) -> str:
    budget[0] -= 1
    if budget[0] < 0:
        raise Unhashable(path, f"more than {MAX_PARTS} parts")
    cls = type(value)
    if cls in _SCALARS:
        return repr(value)
    if isinstance(value, enum.Enum):
        token = reference(cls, path)
        return f"{token or cls.__qualname__}.{value.name}"
    ref = reference(value, path)
    if ref is not None:
        return ref
    if id(value) in active:
        raise Unhashable(path, "it contains itself")
    active.add(id(value))
    try:
        return _container(value, cls, path, reference, budget, active)
    finally:
        active.discard(id(value))


def _container(
    value: Any,
    cls: type,
    path: str,
    reference: Callable[[Any, str], str | None],
    budget: list[int],
    active: set[int],
) -> str:
    def sub(v: Any, p: str) -> str:
        return _canon(v, p, reference, budget, active)

    name = cls.__qualname__
    if isinstance(value, (list, tuple)):
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
            fields = value._fields
            items = ",".join(
                f"{f}={sub(v, f'{path}.{f}')}" for f, v in zip(fields, value, strict=True)
            )
            return f"{name}({items})"
        items = ",".join(sub(v, f"{path}[{i}]") for i, v in enumerate(value))
        if cls in (list, tuple):
            return f"[{items}]" if cls is list else f"({items},)"
        return f"{name}[{items}]"
    if isinstance(value, dict):
        # Sorted by the canonical text of each key: a dict whose only change is the order
        # its keys were inserted in keeps its text. Not an OrderedDict: its order is part of
        # its value (two that differ only in order are unequal), so it is kept.
        pairs = [(sub(k, f"{path} key"), sub(v, f"{path}[{k!r}]")) for k, v in value.items()]
        if not isinstance(value, collections.OrderedDict):
            pairs.sort()
        body = ",".join(f"{k}:{v}" for k, v in pairs)
        if isinstance(value, collections.defaultdict):  # what a missing key reads
            body += f";default={sub(value.default_factory, f'{path}.default_factory')}"
        return "{" + body + "}" if cls is dict else f"{name}{{{body}}}"
    if isinstance(value, (set, frozenset)):
        return f"{name}{{" + ",".join(sorted(sub(v, f"{path} item") for v in value)) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        body = ",".join(
            f"{f.name}={sub(getattr(value, f.name), f'{path}.{f.name}')}" for f in fields
        )
        return f"{name}({body})"
    if isinstance(value, _REPR_TYPES):
        return f"{name}:{value!r}"
    if isinstance(value, re.Pattern):
        return f"re({value.pattern!r},{value.flags})"
    stdlib = _stdlib(value, cls, path, sub)
    if stdlib is not None:
        return stdlib
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype != object:
        import hashlib

        digest = hashlib.sha256(numpy.ascontiguousarray(value).tobytes()).hexdigest()
        return f"ndarray({value.dtype.str},{value.shape},{digest})"
    if numpy is not None and isinstance(value, numpy.generic):
        return f"{name}:{value.item()!r}"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series, pandas.Index)):
        return _pandas(value, name, path, pandas)
    raise Unhashable(path, f"a {cls.__module__}.{name} has no canonical form")


#: Standard-library values whose state is their arguments: ``__reduce__`` gives them back.
_BY_REDUCE = (operator.itemgetter, operator.attrgetter, operator.methodcaller)


def _stdlib(value: Any, cls: type, path: str, sub: Callable[[Any, str], str]) -> str | None:
    """The canonical text of a standard-library value that holds plain data (a slice, a
    deque, an ``operator.itemgetter``...), or None if ``value`` is none of them. Before, each
    was "unhashable": warned about, and an edit of it (``itemgetter(0)`` to ``itemgetter(1)``)
    served the results of the old value."""
    name = cls.__qualname__
    if isinstance(value, slice):
        parts = (value.start, value.stop, value.step)
        return f"{name}{sub(parts, path)}"
    if isinstance(value, bytearray):
        return f"{name}({bytes(value)!r})"
    if isinstance(value, collections.deque):
        return f"{name}({sub(list(value), path)},maxlen={value.maxlen})"
    if isinstance(value, array.array):
        return f"{name}({value.typecode!r},{value.tobytes()!r})"
    if isinstance(value, _BY_REDUCE):  # (the class, its arguments), or a partial of it
        return f"{name}{sub(value.__reduce__(), path)}"
    if isinstance(value, (types.SimpleNamespace, string.Template)):
        return f"{name}{sub(vars(value), path)}"
    if isinstance(value, types.MappingProxyType):  # a read-only config: CFG = MappingProxyType({})
        return f"{name}{sub(value.copy(), path)}"
    if isinstance(value, collections.ChainMap):  # layered configs: each map, in lookup order
        return f"{name}{sub(list(value.maps), path)}"
    if isinstance(value, struct.Struct):
        return f"{name}({value.format!r})"
    zoneinfo = sys.modules.get("zoneinfo")
    if zoneinfo is not None and isinstance(value, zoneinfo.ZoneInfo) and value.key is not None:
        return f"{name}({value.key!r})"
    return None


def _pandas(value: Any, name: str, path: str, pandas: Any) -> str:
    """A DataFrame, Series or Index: its labels, dtypes and shape, and a hash of every row
    (and of the index): pandas' own row hashing, whose key is fixed, so the same in every
    process."""
    import hashlib

    try:
        rows = pandas.util.hash_pandas_object(value, index=not isinstance(value, pandas.Index))
    except (TypeError, ValueError) as exc:  # cells that cannot be hashed (lists, dicts...)
        raise Unhashable(path, f"a pandas.{name} whose cells cannot be hashed ({exc})") from None
    digest = hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()
    if isinstance(value, pandas.DataFrame):
        labels = [(repr(c), _dtype(t, pandas)) for c, t in value.dtypes.items()]
    else:
        labels = [(repr(value.name), _dtype(value.dtype, pandas))]
    index = [repr(n) for n in getattr(value, "index", value).names]
    return f"pandas.{name}({labels!r},{index},{value.shape},{digest})"


def _dtype(dtype: Any, pandas: Any) -> str:
    """A column's dtype; a categorical one with its categories, in order, and whether they
    are ordered: the rows' hashes are of the values, so reordering the categories (which
    changes how the column sorts and compares) would otherwise keep the text."""
    categories = getattr(dtype, "categories", None)
    if categories is None:
        return str(dtype)
    import hashlib

    rows = pandas.util.hash_pandas_object(categories, index=False).to_numpy().tobytes()
    digest = hashlib.sha256(rows).hexdigest()
    return f"category(ordered={dtype.ordered},{categories.dtype},{digest})"
