"""The SQL store's execution decoder keeps a bounded number of decoded specs."""

from __future__ import annotations

import msgspec
import pytest

from airfoil.store._records import ExecutionDecoder
from airfoil.testing.conformance import make_execution


def test_it_keeps_the_most_recently_read_versions_only() -> None:
    decoder = ExecutionDecoder(versions=2)
    stored = {}
    for name in ("a", "b", "c"):
        record = make_execution(f"e-{name}", workflow=f"mod.{name}")
        stored[name] = (record, msgspec.json.encode(record))
    for name in ("a", "b", "a", "c"):  # c pushes b out (a was read after b)
        record, data = stored[name]
        assert decoder.decode(data) == record
    assert decoder.decoded == 3
    decoder.decode(stored["a"][1])
    assert decoder.decoded == 3
    decoder.decode(stored["b"][1])
    assert decoder.decoded == 4


@pytest.mark.parametrize(
    "bad",
    [
        b'{"id": "e1"}',
        b"[]",
        b'{"id": "e1", "workflow": "w", "version": "v", "phase": "running", '
        b'"spec": {"type": "workflow"}, "inputs": {}, "created_at": 1.0}',
    ],
)
def test_a_record_that_is_not_an_execution_is_refused(bad: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        ExecutionDecoder().decode(bad)
