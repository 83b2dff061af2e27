"""The trace and span ids derived from what they trace stay the same from one version to
the next: a worker, the API and an execution resumed by another process each derive them
on their own, and a trace already exported names them."""

from __future__ import annotations

import pytest

from airfoil.core.trace_ids import attempt_span_id, execution_trace_id, traceparent
from airfoil.server._convert import attempt_dict

pytestmark = pytest.mark.unit


def test_the_derived_ids_are_those_earlier_versions_derived() -> None:
    # computed by the first version (SHA-256 of the parts joined by U+001F)
    assert execution_trace_id("ex-1") == 0x11678EBCE9AFE9FD6E36649CCCD7B9A7
    assert attempt_span_id("ex-1", "fan-n1-0-dn3", 2) == 0x5294508CCB25819E
    assert traceparent("ex-1", "n0", 1) == "00-11678ebce9afe9fd6e36649cccd7b9a7-5b4c4b3d51803527-01"


def test_an_attempts_view_names_its_executions_trace_and_its_own_span() -> None:
    from airfoil.core.records import AttemptRecord

    for execution_id in ("ex-1", "ex-2", "ex-1"):  # the trace id kept per execution
        a = AttemptRecord(
            execution_id=execution_id,
            node_id="n0",
            attempt=1,
            phase="succeeded",
            started_at=1.0,
            ended_at=2.0,
        )
        shown = attempt_dict(a)
        assert shown["trace_id"] == f"{execution_trace_id(execution_id):032x}"
        assert shown["span_id"] == f"{attempt_span_id(execution_id, 'n0', 1):016x}"


def test_the_span_ids_of_one_executions_attempts_are_derived_alike() -> None:
    from airfoil.core.trace_ids import attempt_span_hex

    for execution_id in ("ex-1", "01JEXAMPLE", "é-unicode"):
        span = attempt_span_hex(execution_id)
        for node_id, attempt in (("n0", 1), ("fan-n1-0-dn3", 2), ("a/b", 10), ("", 0)):
            want = f"{attempt_span_id(execution_id, node_id, attempt):016x}"
            assert span(node_id, attempt) == want
    assert attempt_span_hex("ex-1")("fan-n1-0-dn3", 2) == "5294508ccb25819e"
