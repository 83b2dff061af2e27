"""The records made by the thousand per run are not tracked by the cycle collector
(``gc=False``, see ``airfoil.core.records``), and that stays sound: none of their fields can
hold an object that could refer back to them."""

from __future__ import annotations

import enum
import gc
import types
import typing

import msgspec
import pytest

from airfoil.core.phases import ErrorKind
from airfoil.core.records import AttemptRecord, ErrorInfo, Value

pytestmark = pytest.mark.unit

UNTRACKED = (Value, ErrorInfo, AttemptRecord)
_ATOMS = (str, int, float, bytes, bool, type(None))


def test_values_attempts_and_errors_are_not_tracked_nor_the_dicts_holding_them() -> None:
    value = Value(hash="ab" * 32, format="json", inline=b"1", size=1, meta={"k": "v"})
    error = ErrorInfo(kind=ErrorKind.USER, type="ValueError", message="no")
    att = AttemptRecord(
        execution_id="e",
        node_id="n0[3]",
        attempt=1,
        phase="failed",
        started_at=1.0,
        error=error,
        outputs={"o0": value},
    )
    outputs = {"o0": value, "o1": value}  # an item's outputs, as the engine keeps them
    assert not gc.is_tracked(value)
    assert not gc.is_tracked(error)
    assert not gc.is_tracked(att)
    assert not gc.is_tracked(outputs)  # CPython leaves a dict of untracked objects untracked
    # A decoded record is untracked too (records read back from the journal or the store).
    again = msgspec.json.decode(msgspec.json.encode(att), type=AttemptRecord)
    assert again == att and not gc.is_tracked(again)


def _closed(tp: object, seen: set[object]) -> bool:
    """Whether ``tp`` can only hold atoms, enums, and containers or records of those."""
    if tp in _ATOMS or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return True
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if tp in seen:
            return True
        seen.add(tp)
        return all(_closed(f.type, seen) for f in msgspec.structs.fields(tp))
    origin = typing.get_origin(tp)
    if origin in (dict, list, tuple, typing.Union, types.UnionType):
        return all(a is Ellipsis or _closed(a, seen) for a in typing.get_args(tp))
    return False  # Any, object, a callable, a plain class: could refer back to the record


@pytest.mark.parametrize("record", UNTRACKED, ids=lambda r: r.__name__)
def test_untracked_records_have_no_field_that_could_close_a_cycle(record: type) -> None:
    for f in msgspec.structs.fields(record):
        assert _closed(f.type, set()), f"{record.__name__}.{f.name}: {f.type!r}"


def test_the_field_check_refuses_an_open_field() -> None:
    class Open(msgspec.Struct):
        payload: typing.Any

    assert not _closed(Open, set())
