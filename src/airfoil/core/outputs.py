"""The Python shape of a ``tuple[A, B]`` entity's outputs, shared by the SDK and the client."""

from __future__ import annotations

import collections
import functools
from typing import Any

__all__ = ["tuple_outputs"]


@functools.cache
def tuple_outputs(names: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """The tuple type a ``tuple[A, B]`` task's outputs come back as: a named tuple with
    fields ``o0``, ``o1``... (flytekit's ``DefaultNamedTupleOutput``), so ``a, b = t(...)``
    and ``t(...) == (a, b)`` work as with a plain tuple."""
    return collections.namedtuple("DefaultNamedTupleOutput", names)  # type: ignore[misc]
