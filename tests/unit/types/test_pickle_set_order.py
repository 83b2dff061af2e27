"""A pickled value's hash (an ``Any`` input's, a class no converter claims) is the same in
every process: a set's elements are pickled in a fixed order, whatever the hash seed. Before
2026-12-07 a set of strings iterated in each process's own order, so the value (and the task's
cache key) changed with every run: a cached task given one never hit."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from airfoil.types import default_type_engine
from airfoil.types._base import ValueContext
from airfoil.types._pickle import dumps

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore::airfoil.types.PickleFallbackWarning"),
]

_HASH = textwrap.dedent(
    """
    import sys
    import warnings
    from typing import Any

    warnings.simplefilter("ignore")
    from airfoil.types import default_type_engine
    from airfoil.types._base import ValueContext

    class Bag:  # no converter claims it: pickled
        def __init__(self):
            self.tags = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}

    value = {
        "tags": {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"},
        "frozen": [frozenset({"x", "yy", "zzz", ("t", 1)})],
        "nested": {frozenset({"a", "b"}), frozenset({"c"})},
    }
    engine, ctx = default_type_engine(), ValueContext.inline_only()
    print(engine.to_value(value, Any, ctx).hash, engine.to_value(Bag(), Bag, ctx).hash)
    """
)


def _hashes(seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    proc = subprocess.run(
        [sys.executable, "-c", _HASH], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_pickled_set_hashes_the_same_whatever_the_hash_seed() -> None:
    seen = {_hashes(seed) for seed in ("1", "2", "3", "4")}
    assert len(seen) == 1, seen


def test_a_value_with_sets_reads_back_equal_with_its_shared_references() -> None:
    shared = {"a", "b", "c"}
    value: Any = {"one": shared, "two": shared, "f": frozenset({1, 2, "x"}), "l": [shared]}
    engine, ctx = default_type_engine(), ValueContext.inline_only()
    back = engine.to_python(engine.to_value(value, Any, ctx), Any, ctx)
    assert back == value
    assert back["one"] is back["two"] is back["l"][0]


class _Node:
    def __init__(self) -> None:
        self.peers: set[_Node] = set()


def test_a_set_that_reaches_its_owner_pickles_and_reads_back() -> None:
    node, other = _Node(), _Node()
    node.peers = {node, other}
    other.peers = {node}
    back = pickle.loads(dumps(node))
    assert back in back.peers and len(back.peers) == 2


def test_a_value_without_sets_keeps_its_bytes() -> None:
    value = {"b": [1, 2.5, "x", b"\x8f\x91"], "a": (None, True)}
    assert dumps(value) == pickle.dumps(value, protocol=5)
