"""(adv26) An inline value's hash against its content (:func:`inline_hash_problem`), the check
a value from outside the process gets where it arrives (a registered spec's defaults and
constants, a launch plan's inputs). Inline bytes are never checked when read and the hash is
what cache keys are made of: a JSON value whose hash lied was registered on main, and a run
taking it left its result under the key of the value the hash named.

The check must never refuse what the type engine writes: JSON stored in the user's key order
is hashed canonically, so its bytes' own digest is not its hash."""

from __future__ import annotations

import dataclasses
import pickle
from hashlib import sha256
from typing import Any

import msgspec
import pytest

from airfoil.core.errors import CorruptBlobError
from airfoil.core.records import Value
from airfoil.types import ValueContext, default_type_engine
from airfoil.types._integrity import inline_hash_problem

pytestmark = pytest.mark.unit


@dataclasses.dataclass
class Point:
    y: float
    x: float
    tags: dict[str, int]


HONEST: list[tuple[Any, Any]] = [
    (3, int),
    (2**80, int),
    (-0.0, float),
    (1e300, float),
    ("naïve ☃ \x00", str),
    (None, type(None)),
    (True, bool),
    ({"zeta": 1, "alpha": 2}, dict[str, int]),  # the user's key order: bytes not canonical
    ([{"b": 1, "a": 2}, {"d": [3], "c": None}], list[dict[str, Any]]),
    (Point(y=1.5, x=-2.0, tags={"z": 1, "a": 0}), Point),
    (b"\x00\xff raw", bytes),
]


def _value(obj: Any, tp: Any) -> Value:
    ctx = ValueContext.inline_only()
    value: Value = default_type_engine().to_value(obj, tp, ctx)
    assert value.inline is not None
    return value


@pytest.mark.parametrize(("obj", "tp"), HONEST, ids=[repr(o)[:30] for o, _ in HONEST])
def test_what_the_type_engine_writes_passes(obj: Any, tp: Any) -> None:
    assert inline_hash_problem(_value(obj, tp)) is None


def test_user_ordered_json_is_checked_by_its_canonical_hash() -> None:
    value = _value({"zeta": 1, "alpha": 2}, dict[str, int])
    assert value.inline == b'{"zeta":1,"alpha":2}'  # stored in the user's order
    assert inline_hash_problem(value) is None
    reordered = msgspec.structs.replace(value, inline=b'{"alpha":2,"zeta":1}')
    assert inline_hash_problem(reordered) is None  # the same content


@pytest.mark.parametrize(
    ("obj", "other", "tp"),
    [
        (3, 4, int),
        ("mine", "theirs", str),
        ({"zeta": 1, "alpha": 2}, {"zeta": 1, "alpha": 3}, dict[str, int]),
        (Point(1.0, 2.0, {}), Point(1.0, 2.5, {}), Point),
    ],
)
def test_json_claiming_another_values_hash_is_refused(obj: Any, other: Any, tp: Any) -> None:
    forged = msgspec.structs.replace(_value(obj, tp), hash=_value(other, tp).hash)
    problem = inline_hash_problem(forged)
    assert problem is not None and "not its JSON content's" in problem


def test_json_bytes_that_are_not_json_are_refused() -> None:
    value = Value(hash="0" * 64, format="json", inline=b"{not json", size=9)
    assert inline_hash_problem(value) == "holds bytes that are not JSON"


def test_pickles_and_bytes_claiming_another_hash_are_refused() -> None:
    ctx = ValueContext.inline_only()
    engine = default_type_engine()
    mine = engine.to_value(b"mine", bytes, ctx)
    theirs = engine.to_value(b"theirs", bytes, ctx)
    forged = msgspec.structs.replace(mine, hash=theirs.hash)
    assert inline_hash_problem(forged) == "has a hash that is not its bytes' digest"
    data = pickle.dumps({"n": 1})
    honest = Value(hash=sha256(data).hexdigest(), format="pickle", inline=data, size=len(data))
    assert inline_hash_problem(honest) is None
    assert inline_hash_problem(msgspec.structs.replace(honest, hash="ab" * 32)) is not None


def test_values_it_cannot_judge_are_left_alone() -> None:
    offloaded = Value(hash="ab" * 32, format="json", uri="file:///x", size=3)
    assert inline_hash_problem(offloaded) is None  # its blob is checked when read
    container = Value(hash="ab" * 32, format="af-list", inline=b"[]", size=2)
    assert inline_hash_problem(container) is None  # its hash is its members'


def test_an_unknown_digest_algorithm_is_an_error() -> None:
    value = Value(hash="ab" * 32, format="npy", inline=b"x", size=1, meta={"digest": "md5"})
    with pytest.raises(CorruptBlobError, match="'md5'"):
        inline_hash_problem(value)
