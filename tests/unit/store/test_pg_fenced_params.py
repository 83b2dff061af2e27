"""The fenced batch's parameters (``_rows.fenced_params``) and the binary arrays they are
made of (``_pg_arrays``), read back here as PostgreSQL's ``array_recv`` reads them (the
integration tests send them to a real server)."""

from __future__ import annotations

import struct

import pytest

from airfoil.core.errors import StoreError
from airfoil.core.records import StoreBatch, encode_json
from airfoil.store.sql._pg_arrays import INT8_OID, TEXT_OID, Int8Array, TextArray
from airfoil.store.sql._rows import fenced_params
from airfoil.testing.conformance import make_attempt, make_event, make_node

LEASE = ("e1", "driver")


def _elements(data: bytes, oid: int) -> list[bytes]:
    """The elements of a one-dimensional binary array (its header checked)."""
    ndim, nulls, elem = struct.unpack_from("!iii", data)
    assert (nulls, elem) == (0, oid)
    if ndim == 0:
        assert len(data) == 12
        return []
    assert ndim == 1
    length, lower = struct.unpack_from("!ii", data, 12)
    assert lower == 1
    out, at = [], 20
    for _ in range(length):
        (size,) = struct.unpack_from("!i", data, at)
        out.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    assert at == len(data)
    return out


def _texts(a: TextArray) -> list[bytes]:
    return _elements(a.data, TEXT_OID)


def _ints(a: Int8Array) -> list[int]:
    return [struct.unpack("!q", b)[0] for b in _elements(a.data, INT8_OID)]


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256, 257, 1000])
def test_an_int8_array_of_any_length_holds_its_values(n: int) -> None:
    """Lengths past the kept ``Struct``s (256, packed an element at a time) and under it."""
    values = [(-1) ** i * (2**62 + i) for i in range(n)]
    assert _ints(Int8Array(values)) == values


def test_an_int8_array_refuses_a_value_past_64_bits_at_either_end() -> None:
    for big in (2**63, -(2**63) - 1):
        with pytest.raises(StoreError, match=f"the integer {big} does not fit"):
            Int8Array([0, big, 1])


def test_a_text_array_of_records_holds_each_record_s_json() -> None:
    records = [make_node(node_id=f"n{i}", phase="running") for i in range(5)]
    assert _texts(TextArray.of_json(records)) == [encode_json(r) for r in records]
    assert _texts(TextArray.of_json([])) == []
    assert _texts(TextArray(["é✓", b"{}", ""])) == ["é✓".encode(), b"{}", b""]


@pytest.mark.parametrize("kind", ["nodes", "attempts", "events"])
def test_a_record_of_another_execution_of_any_kind_leaves_the_fenced_path(kind: str) -> None:
    """Each kind's records are all checked against the lease's execution (the statement
    writes them under its id): one of another execution, wherever it stands, sends the
    batch the general way."""
    ours = {
        "nodes": [make_node(node_id="a"), make_node(node_id="b")],
        "attempts": [make_attempt(node_id="a"), make_attempt(node_id="b")],
        "events": [make_event(seq=1), make_event(seq=2)],
    }
    theirs = {
        "nodes": make_node(execution_id="e2", node_id="a"),
        "attempts": make_attempt(execution_id="e2", node_id="a"),
        "events": make_event(execution_id="e2", seq=3),
    }
    assert fenced_params(StoreBatch(**ours, lease=LEASE), lambda _ex: True) is not None
    for at in (0, 1, 2):
        records = list(ours[kind])
        records.insert(at, theirs[kind])
        batch = StoreBatch(**{**ours, kind: records}, lease=LEASE)
        assert fenced_params(batch, lambda _ex: True) is None


def test_a_node_or_attempt_given_twice_is_sent_once_as_its_last_record() -> None:
    """Keys in the order first seen, each with the last record given for it (what writing
    them one by one leaves)."""
    given = (("a", "running"), ("b", "running"), ("a", "succeeded"))
    nodes = [make_node(node_id=key, phase=phase) for key, phase in given]
    tries = ((1, "running"), (2, "running"), (1, "failed"))
    attempts = [make_attempt(node_id="a", attempt=n, phase=phase) for n, phase in tries]
    events = [make_event(seq=7, cause_id=3), make_event(seq=8, cause_id=7)]
    params = fenced_params(
        StoreBatch(nodes=nodes, attempts=attempts, events=events, lease=LEASE),
        lambda _ex: True,
    )
    assert params is not None
    assert params["kinds"] == "nae"
    assert _texts(params["n_node_id"]) == [b"a", b"b"]
    assert _texts(params["n_record"]) == [encode_json(nodes[2]), encode_json(nodes[1])]
    assert _texts(params["a_node_id"]) == [b"a", b"a"]
    assert _ints(params["a_attempt"]) == [1, 2]
    assert _texts(params["a_record"]) == [encode_json(attempts[2]), encode_json(attempts[1])]
    assert _ints(params["e_seq"]) == [7, 8]
    assert _ints(params["e_cause_id"]) == [3, 7]
    assert _texts(params["e_record"]) == [encode_json(e) for e in events]
